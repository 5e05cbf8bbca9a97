"""A release that revises one series rewrites only that series, in the raw layer and in the WDI
models, and publishes exactly what a full rebuild of the same snapshots publishes."""

import csv
import io
import re
import shutil
import subprocess

import dagster as dg
import duckdb
import pandas as pd
import pytest

from expectations import wdi_observations as gate_suite
from orchestration.settings import DBT_PROJECT_DIR, PUBLISHED_SCHEMAS, Settings
from orchestration.snapshots.records import sha256_of
from orchestration.transform import wdi_rebuild
from orchestration.transform.changes import code_fingerprint
from tests.bad_input_cases import CASES, damaged_copy
from tests.conftest import SNAPSHOTS, copy_home, dbt, failure_text, logged_decisions, materialize

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
    # The gate aggregated the revised series alone; the others' aggregates are those that passed.
    assert (
        "raw.wdi_observations: 1 of 5 series aggregated; the other 4 read as they passed before (same values, same code)"
        in logged
    )
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
    assert "raw.wdi_observations: 5 of 5 series aggregated; a full refresh aggregates every series" in logged
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


def kept_aggregates(build_db) -> list[tuple]:
    """What the WDI gate keeps of the series that passed: their aggregates, fingerprints and code."""
    with duckdb.connect(str(build_db), read_only=True) as connection:
        return connection.execute(f"select * from {gate_suite.PASSED} order by all").fetchall()


def test_the_wdi_gate_reuses_the_aggregates_of_series_that_passed_unchanged_under_the_same_code(built, tmp_path):
    """The gate's rows are the same whether a series is aggregated again or read as it passed; a
    series is read only with the fingerprint and the code it passed with."""
    shutil.copy2(built.build_db, tmp_path / "build.duckdb")
    code = code_fingerprint()
    with duckdb.connect(str(tmp_path / "build.duckdb")) as connection:
        every, line = gate_suite.load(connection, code, reuse=False)
        assert line == "raw.wdi_observations: 5 of 5 series aggregated; a full refresh aggregates every series"
        # The refresh that built it passed: every series is kept, and none is aggregated again.
        reused, line = gate_suite.load(connection, code, reuse=True)
        assert line.startswith("raw.wdi_observations: 0 of 5 series aggregated; the other 5 read as they passed")
        pd.testing.assert_frame_equal(every, reused)
        # Other code aggregates every series again.
        _, line = gate_suite.load(connection, "other code", reuse=True)
        assert line.startswith("raw.wdi_observations: 5 of 5 series aggregated; none passed before")
        # A revised series (its rows and fingerprint) is aggregated again, and only it.
        connection.execute(
            "update raw.wdi_observations set value = 1304.2 "
            "where indicator_code = 'IT.CEL.SETS.P2' and country_code = 'KAZ' and year = 2022"
        )
        connection.execute(
            "update raw.wdi_indicators set fingerprint = 'revised' where indicator_code = 'IT.CEL.SETS.P2'"
        )
        revised, line = gate_suite.load(connection, code, reuse=True)
        assert line.startswith("raw.wdi_observations: 1 of 5 series aggregated; the other 4 read as they passed")
        assert connection.execute(f"select distinct indicator_code from {gate_suite.CHECKED}").fetchall() == [
            ("IT.CEL.SETS.P2",)
        ]
        pd.testing.assert_frame_equal(revised, gate_suite.load(connection, code, reuse=False)[0])
        assert revised.set_index(["indicator_code", "country_code"]).max_value["IT.CEL.SETS.P2", "KAZ"] == 1304.2
        # Once it passes, the revised series replaces its earlier rows; a series gone goes.
        gate_suite.load(connection, code, reuse=True)
        for table in ("raw.wdi_indicators", "raw.wdi_observations"):
            connection.execute(f"delete from {table} where indicator_code = 'IT.NET.BBND.P2'")
        gate_suite.keep(connection, code)
        kept = connection.execute(f"select distinct indicator_code, fingerprint from {gate_suite.PASSED}").fetchall()
        assert {series for series, _ in kept} == {"IT.CEL.SETS.P2", "IT.NET.USER.ZS", "SP.POP.TOTL", "NY.GDP.PCAP.CD"}
        assert {fingerprint for series, fingerprint in kept if series == "IT.CEL.SETS.P2"} == {"revised"}
        # Aggregates kept by code whose aggregates had other columns are not read back: every series
        # is aggregated again, rather than the gate failing on a column the kept table lacks.
        connection.execute(f"alter table {gate_suite.PASSED} drop column n_not_finite")
        _, line = gate_suite.load(connection, code, reuse=True)
        assert line.startswith("raw.wdi_observations: 4 of 4 series aggregated; none passed before")


@pytest.mark.slow
def test_a_revised_series_that_fails_the_wdi_gate_is_refused_while_the_others_are_not_aggregated_again(built, tmp_path):
    """A release revising one series out of range: the gate aggregates that series alone, reads
    the others as they passed, and still refuses the release naming the series and its row; it
    keeps nothing of a run that failed."""
    case = CASES["worldbank-out-of-range"]
    bad = damaged_copy(case, tmp_path)
    settings = Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=bad.parent.parent)
    published, kept = sha256_of(settings.published_db), kept_aggregates(settings.build_db)
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(settings, source="worldbank", instance=instance)

    assert not result.success
    assert re.search(case.message, failure_text(result), flags=re.S), failure_text(result)
    assert (
        "raw.wdi_observations: 1 of 5 series aggregated; the other 4 read as they passed before (same values, same code)"
        in logged_decisions(instance, result.run_id)
    )
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        assert connection.execute(f"select distinct indicator_code from {gate_suite.CHECKED}").fetchall() == [
            ("IT.CEL.SETS.P2",)
        ]
    assert kept_aggregates(settings.build_db) == kept
    assert sha256_of(settings.published_db) == published


def dbt_build_test(settings: Settings, target, name: str, *args: str) -> subprocess.CompletedProcess:
    """`dbt build` of one test of the project in ``settings``' build database, as the dbt step runs it."""
    return dbt(DBT_PROJECT_DIR, settings, target, "build", "--select", name, *args)


@pytest.mark.slow
def test_the_key_and_reference_tests_of_an_incremental_build_check_the_series_it_rewrote_and_a_full_build_all(
    built, tmp_path
):
    """marts.wdi_observations with a duplicated row in two series and a row of an unknown economy in
    one: an incremental build that rewrote the first series finds its duplicate and its unknown
    economy alone (the other series' rows are those the last finished build tested); one that
    rewrote neither finds nothing; a full build finds both duplicates."""
    shutil.copytree(built.build_dir, tmp_path / "build", ignore=shutil.ignore_patterns("*.lock", "refresh.holder"))
    settings = Settings(home=tmp_path, snapshots_dir=built.snapshots_dir)
    with duckdb.connect(str(settings.build_db)) as connection:
        for code in ("IT.NET.USER.ZS", "SP.POP.TOTL"):
            connection.execute(
                "insert into marts.wdi_observations select * from marts.wdi_observations "
                "where iso3 = 'KAZ' and year = 2020 and indicator_code = ?",
                [code],
            )
        connection.execute(
            "insert into marts.wdi_observations select * replace ('ZZZ' as iso3) from marts.wdi_observations "
            "where iso3 = 'KAZ' and year = 2021 and indicator_code = 'IT.NET.USER.ZS'"
        )
        connection.execute(
            "create or replace table build_state.wdi_rebuild as select 'IT.NET.USER.ZS'::varchar as indicator_code"
        )
    key, reference = (
        "unique_key_wdi_observations_iso3__indicator_code__year",
        "relationships_wdi_observations_iso3__iso3__ref_dim_country_",
    )

    rewrote_it = dbt_build_test(settings, tmp_path / "target", f"{key} {reference}")
    assert rewrote_it.returncode == 1
    assert failed_with(rewrote_it, key) == 1 and failed_with(rewrote_it, reference) == 1, rewrote_it.stdout[-3000:]

    with duckdb.connect(str(settings.build_db)) as connection:
        connection.execute(
            "create or replace table build_state.wdi_rebuild as select 'NY.GDP.PCAP.CD' as indicator_code"
        )
    rewrote_another = dbt_build_test(settings, tmp_path / "target", f"{key} {reference}")
    assert rewrote_another.returncode == 0, rewrote_another.stdout[-3000:]

    full = dbt_build_test(settings, tmp_path / "target", key, "--full-refresh")
    assert full.returncode == 1
    assert failed_with(full, key) == 2, full.stdout[-3000:]


def failed_with(result: subprocess.CompletedProcess, test: str) -> int | None:
    """How many rows dbt says ``test`` found, from its summary of failures; None: it did not fail."""
    found = re.search(
        rf"Failure in test {test} .*\n[\d:]*\s+Got (\d+) results?,", re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    )
    return int(found.group(1)) if found else None
