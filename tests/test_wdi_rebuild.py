"""A release that revises one series rewrites only that series, in the raw layer and in the WDI
models, and publishes exactly what a full rebuild of the same snapshots publishes."""

import csv
import io
import shutil

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from orchestration.transform import wdi_rebuild
from tests.conftest import SNAPSHOTS, copy_home, failure_text, logged_decisions, materialize

INTERNET = "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
# The revision: one value changed, one removed, one added where the release had none.
REVISED = {("KAZ", "2022"): "95.5", ("AFG", "2020"): "", ("KAZ", "1960"): "0"}


def revised_internet_file() -> str:
    """Internet users' bulk file as a later release that revised three of its cells, in the original layout."""
    rows = list(
        csv.reader(io.StringIO((SNAPSHOTS / "worldbank" / INTERNET).read_text(encoding="utf-8-sig"), newline=""))
    )
    header = rows[0]
    for row in rows[1:]:
        for (code, year), text in REVISED.items():
            if row[1] == code:
                row[header.index(year)] = text
    out = io.StringIO()
    # The original layout, whose preamble dates the release: a later one than the file it revises.
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        [
            ["Data Source", "World Development Indicators", ""],
            [],
            ["Last Updated Date", "2026-07-01", ""],
            [],
            *[row + [""] for row in rows],
        ]
    )
    return "\ufeff" + out.getvalue()


def published_tables(path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [
            f"{schema}.{table}"
            for schema, table in connection.execute(
                "select schema_name, table_name from duckdb_tables() where list_contains(?, schema_name) order by all",
                [list(PUBLISHED_SCHEMAS)],
            ).fetchall()
        ]
        return {name: connection.execute(f"select * from {name} order by all").df() for name in names}


def refresh(settings: Settings, full: bool = False) -> list[str]:
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, source="worldbank", instance=instance, full=full)
    assert result.success, failure_text(result)
    return logged_decisions(instance, result.run_id)


@pytest.mark.slow
def test_a_release_revising_one_series_rewrites_it_alone_and_publishes_what_a_full_rebuild_does(built, tmp_path):
    home = copy_home(built, tmp_path / "home")
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    inbox = home / "inbox" / "worldbank"
    inbox.mkdir(parents=True)
    (inbox / INTERNET.replace("_2160", "_2161")).write_text(revised_internet_file(), encoding="utf-8")
    settings = Settings(home=home, snapshots_dir=snapshots)
    before = published_tables(settings.published_db)

    logged = refresh(settings)

    assert any(
        line.startswith("worldbank: ")
        and line.endswith(" of 5 series; 1 added, changed or removed since the last load, only those rewritten")
        for line in logged
    )
    assert "WDI models: 1 of 5 series added, changed or removed; only those rewritten" in logged
    assert any(line.endswith("(WDI tables patched: 1 series differed)") for line in logged)
    incremental = published_tables(settings.published_db)
    observations = incremental["marts.wdi_observations"].set_index(["iso3", "indicator_code", "year"]).value
    assert observations["KAZ", "IT.NET.USER.ZS", 2022] == 95.5 and observations["KAZ", "IT.NET.USER.ZS", 1960] == 0
    assert ("AFG", "IT.NET.USER.ZS", 2020) not in observations.index
    summary = "marts.wdi_region_summary"
    others = {
        name: frame[frame.indicator_code != "IT.NET.USER.ZS"].reset_index(drop=True)
        for name, frame in ((n, t[summary]) for n, t in (("before", before), ("after", incremental)))
    }
    pd.testing.assert_frame_equal(others["before"], others["after"])  # the other series were not touched

    logged = refresh(settings, full=True)
    assert "WDI models: every series rebuilt (full rebuild requested)" in logged and any(
        line.endswith("(every table copied)") for line in logged
    )
    rebuilt = published_tables(settings.published_db)
    assert rebuilt.keys() == incremental.keys()
    for name in rebuilt:
        # Equal but for the last bits of floating-point sums, which may add in another order.
        pd.testing.assert_frame_equal(incremental[name], rebuilt[name], check_exact=False, rtol=1e-12, obj=name)


def build_database(
    path, series: dict[str, str], region: str = "Europe & Central Asia", inputs: dict[str, str] | None = None
):
    """A build database holding what wdi_rebuild reads: the series' fingerprints, the country list
    and the loaded inputs."""
    connection = duckdb.connect(str(path))
    connection.execute("create schema if not exists raw")
    connection.execute(
        "create or replace table raw.wdi_indicators as select * from (values "
        + ", ".join(f"('{code}', '{fingerprint}')" for code, fingerprint in series.items())
        + ") as t(indicator_code, fingerprint)"
    )
    connection.execute(
        "create or replace table raw.wdi_countries as select 'KAZ' as country_code, 'Kazakhstan' as country_name, "
        f"'{region}' as region, 'Upper middle income' as income_group, false as is_aggregate, '' as special_notes"
    )
    connection.execute(
        "create or replace table raw.loaded_snapshots as select * from (values "
        + ", ".join(
            f"('{name}', '{fingerprint}', 'code')" for name, fingerprint in (inputs or {"un_egov": "u1"}).items()
        )
        + ") as t(source, fingerprint, code_fingerprint)"
    )
    return connection


def test_a_build_rewrites_the_series_added_changed_or_removed_and_everything_when_anything_else_changed(tmp_path):
    path = tmp_path / "build.duckdb"
    series = {"SP.POP.TOTL": "p1", "A": "a1", "B": "b1", "C": "c1"}
    with build_database(path, series) as connection:
        assert wdi_rebuild.plan(connection, full=False) == wdi_rebuild.Rebuild(
            True, "no record of a finished build of the WDI models"
        )
        wdi_rebuild.begin(connection)
        wdi_rebuild.finish(connection)
    # B revised, C gone, D new: those three only.
    with build_database(path, {"SP.POP.TOTL": "p1", "A": "a1", "B": "b2", "D": "d1"}) as connection:
        assert wdi_rebuild.plan(connection, full=False) == wdi_rebuild.Rebuild(
            False, "3 of 4 series added, changed or removed"
        )
        assert sorted(connection.execute("select indicator_code from build_state.wdi_rebuild").fetchall()) == [
            ("B",),
            ("C",),
            ("D",),
        ]
        assert wdi_rebuild.plan(connection, full=True).full
        # A build that started and did not finish leaves some series rewritten and others not.
        wdi_rebuild.begin(connection)
        assert wdi_rebuild.plan(connection, full=False).reason == "no record of a finished build of the WDI models"
        wdi_rebuild.finish(connection)
        assert wdi_rebuild.plan(connection, full=False) == wdi_rebuild.Rebuild(
            False, "0 of 4 series added, changed or removed"
        )
    context_changed = "the code, the country list, population or another source changed"
    for change in (
        dict(series={**series, "SP.POP.TOTL": "p2"}),
        dict(series=series, region="South Asia"),
        dict(series=series, inputs={"un_egov": "u2"}),
    ):
        with build_database(path, {"SP.POP.TOTL": "p1", "A": "a1", "B": "b2", "D": "d1"}) as connection:
            wdi_rebuild.begin(connection)
            wdi_rebuild.finish(connection)
        with build_database(path, **change) as connection:
            assert wdi_rebuild.plan(connection, full=False) == wdi_rebuild.Rebuild(True, context_changed), change
    # A new snapshot list alone (every release changes it) is not a reason to rebuild every series.
    with build_database(path, series, inputs={"un_egov": "u1", "snapshot_files": "s1"}) as connection:
        wdi_rebuild.begin(connection)
        wdi_rebuild.finish(connection)
    with build_database(path, series, inputs={"un_egov": "u1", "snapshot_files": "s2"}) as connection:
        assert not wdi_rebuild.plan(connection, full=False).full
