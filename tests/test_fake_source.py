"""A fourth source is one package and a line in the registry: a small fake one, written to a
temporary package with one raw table and one suite, gets its snapshots, raw and gate assets, its
job and schedule, and refreshes end to end, through a gate that stops bad data."""

import json
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.operations.status import report
from orchestration.settings import Settings
from orchestration.snapshots.records import sha256_of
from orchestration.sources.registry import SOURCES

PACKAGE = {
    "__init__.py": '''
        """A fake upstream: one CSV of (code, value), one raw table, one suite."""
        from datetime import timedelta
        from orchestration.sources.spec import RawTable, SourceSpec, lazy

        SPEC = SourceSpec(
            name="fake",
            title="A fake source",
            description="values.csv under warehouse/snapshots/fake/",
            kinds=frozenset({"csv"}),
            cron="0 6 1 * *",
            cadence="monthly",
            fresh_for=timedelta(days=40),
            raw_tables=(RawTable("fake_values", "One row per code.", suite="fake_source.suite"),),
            upstream="nothing: the inbox only",
            file_names=r"values\\.csv",
            names_help="values.csv",
            slot=lambda path: path.name,
            check_file=lambda path, settings: None,
            fetch=lambda settings, current, log: [],
            load=lazy("fake_source.load", "load"),
        )
    ''',
    "load.py": """
        import pandas as pd
        from orchestration.sources.spec import Loaded

        def load(request):
            (path, record), = request.snapshot_set.matching("values.csv")
            table = pd.read_csv(path).assign(source_file=record.file)
            return Loaded(f"{len(table)} values", tables={"fake_values": table})
    """,
    "suite.py": '''
        """raw.fake_values: every value between 0 and 1."""
        from expectations.common import Batch, why

        TABLE = "raw.fake_values"

        def batches(frame, gate):
            import great_expectations as gx
            return [Batch("rows", frame, [why(
                gx.expectations.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=1),
                "a share")])]
    ''',
}


@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    package = tmp_path / "package" / "fake_source"
    package.mkdir(parents=True)
    for name, text in PACKAGE.items():
        (package / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.syspath_prepend(str(package.parent))
    import fake_source

    monkeypatch.setitem(SOURCES, "fake", fake_source.SPEC)
    yield fake_source.SPEC
    for module in [name for name in sys.modules if name.startswith("fake_source")]:
        del sys.modules[module]


def snapshot(folder, values: str) -> None:
    """values.csv with its provenance record, as a committed snapshot."""
    folder.mkdir(exist_ok=True)
    (folder / "values.csv").write_text(values, encoding="utf-8")
    record = {
        "file": "values.csv",
        "sha256": sha256_of(folder / "values.csv"),
        "bytes": (folder / "values.csv").stat().st_size,
        "obtained_from": "the test",
        "date_accessed": "2026-12-07",
    }
    (folder / "provenance.json").write_text(
        json.dumps(
            {
                "source": "fake",
                "producer": "the test",
                "title": "fake",
                "upstream_url": "",
                "licence": "",
                "citation": "",
                "files": [record],
            }
        ),
        encoding="utf-8",
    )


def refresh(settings: Settings) -> dg.ExecuteInProcessResult:
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def("refresh_fake")
    selection = dg.AssetSelection.groups("fake").resolve(definitions.resolve_asset_graph())
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        asset_selection=list(selection),
        run_config={"ops": {"snapshots__fake": {"config": {"inbox": True, "live": False}}}},
    )


def test_a_fake_source_refreshes_end_to_end_through_its_gate(fake_source, snapshot_copy, tmp_path):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    snapshot(snapshot_copy / "fake", "code,value\nKAZ,0.5\nUZB,0.25\n")
    definitions = build_definitions(settings)
    assert definitions.resolve_job_def("refresh_fake") and definitions.resolve_schedule_def("fake_schedule")

    result = refresh(settings)

    assert result.success
    checks = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert [(c.asset_key.to_user_string(), c.check_name, c.passed) for c in checks] == [
        ("raw/fake_values", "great_expectations", True)
    ]
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        rows = connection.execute("select code, value, source_file from raw.fake_values order by code").fetchall()
    assert rows == [("KAZ", 0.5, "values.csv"), ("UZB", 0.25, "values.csv")]
    with dg.DagsterInstance.ephemeral() as instance:
        assert any(line.startswith("fake") for line in report(settings, instance))


def test_the_fake_sources_gate_stops_a_bad_value(fake_source, snapshot_copy, tmp_path):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    snapshot(snapshot_copy / "fake", "code,value\nKAZ,0.5\nUZB,7\n")

    result = refresh(settings)

    assert not result.success
    (check,) = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert not check.passed and "a share" in check.description
