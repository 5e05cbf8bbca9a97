"""Shared fixtures: a whole warehouse materialised by Dagster into a temporary folder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.settings import PROJECT_ROOT, Settings, prepare_process_environment

SNAPSHOTS = PROJECT_ROOT / "warehouse" / "snapshots"
PAPER = PROJECT_ROOT / "dbt_project" / "seeds" / "paper"


def pytest_configure(config):
    """Parse dbt's manifest before collection: test modules import the dbt assets, which are
    defined from it, and a fresh clone has none."""
    from orchestration.dbt_project import prepare

    prepare_process_environment()
    prepare(Settings(home=Path(tempfile.mkdtemp(prefix="dbt-parse-")), snapshots_dir=SNAPSHOTS))


def materialize(
    settings: Settings, selection: list[str] | None = None, live: tuple[str, ...] = (), source: str | None = None
) -> dg.ExecuteInProcessResult:
    """The asset graph as a refresh runs it, offline unless a source is named in ``live``: all of
    it, the assets in ``selection`` ("a/b" keys), or one ``source``'s refresh job."""
    from orchestration.definitions import build_definitions

    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(f"refresh_{source}" if source else "refresh_warehouse")
    keys = [dg.AssetKey(key.split("/")) for key in selection] if selection else None
    if source:
        # The report is drawn and tested once, on `built`; gate tests need not redraw it each time.
        keys = list((dg.AssetSelection.all() - dg.AssetSelection.groups("report")).resolve(definitions.resolve_asset_graph()))
    selected = keys or definitions.resolve_asset_graph().get_all_asset_keys()
    snapshot_sets = [key.path[1] for key in selected if key.path[0] == "snapshots"]
    run_config = {"ops": {f"snapshots__{name}": {"config": {"inbox": True, "live": name in live}} for name in snapshot_sets}}
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, asset_selection=keys, run_config=run_config
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Settings:
    """A warehouse refreshed from the embedded snapshots, shared read-only by the tests."""
    settings = Settings(home=tmp_path_factory.mktemp("warehouse"), snapshots_dir=SNAPSHOTS)
    result = materialize(settings)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return settings


@pytest.fixture(scope="module")
def db(built):
    """A read-only connection to the published warehouse of ``built``, as an analyst opens it."""
    connection = duckdb.connect(str(built.published_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def snapshot_copy(tmp_path) -> Path:
    """A private copy of the snapshots that a test may damage."""
    target = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, target)
    return target


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every reason a run gives for failing: step errors (with their causes) and failed checks."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure or event.is_run_failure:
            error = event.event_specific_data.error if event.event_specific_data else None
            while error is not None:
                texts.append(error.message)
                error = error.cause
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
            texts.append(event.asset_check_evaluation_data.description or "")
    return "\n".join(texts)
