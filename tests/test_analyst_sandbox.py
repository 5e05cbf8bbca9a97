"""The analysts' connection holds whatever the SQL says: DuckDB's configuration refuses files,
attachments, extensions and settings; a runaway query is stopped and the next one runs."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration import limits
from orchestration.analysts import deadline, execution, sandbox
from orchestration.settings import PROJECT_ROOT
from tests.conftest import environment, run

# Each is a way to leave the published warehouse, dressed as an analyst might dress it.
ESCAPES = {
    "read a local file": "select * from read_csv('/etc/passwd')",
    "read a file as text": "select content from read_text('/etc/hostname')",
    "read a file in a subquery": "with t as (select * from (select 1) join read_csv_auto('/etc/passwd') on true) select count(*) from t",
    "list files": "select * from glob('/etc/*')",
    "write a file": "copy (select 1 as x) to '{out}'",
    "write a file inside EXPLAIN ANALYZE": "explain analyze copy (select 1 as x) to '{out}'",
    "export the database": "export database '{folder}'",
    "attach another database": "attach '{folder}/other.duckdb' as other",
    "install an extension": "install httpfs",
    "load an extension": "load httpfs",
    "change a setting": "set enable_external_access = true",
    "change a setting by PRAGMA": "pragma enable_external_access=true",
    "reset a limit": "reset memory_limit",
    "raise a limit": "set threads = 64",
    "hide a setting in a second statement": "select 1; set memory_limit = '100GB'",
    "write into the published file": "create table marts.mine as select 1 as x",
}


@pytest.mark.parametrize("what", ESCAPES)
def test_every_way_out_of_the_published_warehouse_is_refused(built, tmp_path, what):
    out, folder = tmp_path / "out.csv", tmp_path / "exported"
    sql = ESCAPES[what].format(out=out, folder=folder)
    with sandbox.connect(built.published_db) as connection:
        with pytest.raises(sandbox.QueryRefused, match=r"read-only|refused by the analysts' sandbox"):
            execution.execute(connection, sql)
        # The connection is still the analysts' one, and still works.
        assert execution.execute(connection, "select count(*) from marts.egov_scores").rows == [(2316,)]
        assert execution.execute(connection, "select current_setting('enable_external_access')").rows == [(False,)]
    assert not out.exists() and not folder.exists()


def test_the_sandbox_is_the_connection_not_the_statement_filter(built, tmp_path):
    """Below the statement filter, DuckDB's configuration alone refuses a file read and a write."""
    with sandbox.connect(built.published_db) as connection:
        for sql in ("select * from read_csv('/etc/passwd')", f"copy (select 1) to '{tmp_path / 'x.csv'}'"):
            with pytest.raises(Exception, match="disabled by configuration"):
                connection.execute(sql)
        # A file named where a table goes is not scanned: it is only a table that does not exist.
        with pytest.raises(Exception, match="Table with name /etc/passwd does not exist"):
            connection.execute("select * from '/etc/passwd'")
    assert not (tmp_path / "x.csv").exists()


def test_a_runaway_query_is_stopped_at_the_time_limit_and_the_next_query_runs(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_QUERY_TIMEOUT_S", "1")
    runaway = "select count(*) from range(100000000000) as a, range(100) as b where a.range + b.range < 0"
    with sandbox.connect(built.published_db) as connection:
        started = time.monotonic()
        with pytest.raises(
            sandbox.QueryRefused, match=r"ran past the time limit of 1 s and was stopped \(WAREHOUSE_QUERY_TIMEOUT_S"
        ):
            execution.execute(connection, runaway)
        assert time.monotonic() - started < 10
        assert execution.execute(connection, "select count(*) from marts.dim_country where is_central_asia").rows == [
            (5,)
        ]


def test_the_row_limit_cuts_a_result_and_says_so(built, tmp_path):
    env = {**environment(tmp_path), "WAREHOUSE_HOME": str(built.home), "WAREHOUSE_QUERY_MAX_ROWS": "7"}
    done = run(["query", "--csv", "select iso3, survey_year from marts.egov_scores order by 1, 2"], env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 + 7
    assert (
        "cut off: only the first 7 rows were returned (WAREHOUSE_QUERY_MAX_ROWS sets the limit; 0 for none)"
        in done.stderr
    )
    refused = run(["query", "select * from read_csv('/etc/passwd')"], env)
    assert (
        refused.returncode == 2
        and "refused by the analysts' sandbox" in refused.stderr
        and "/etc/passwd" in refused.stderr
    )


def test_the_docs_list_every_limit_with_its_default():
    """The "Limits and guarantees" table of docs/operating.md and orchestration/limits.py say the same."""
    text = (PROJECT_ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    section = text.split("## Limits and guarantees", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("` "): cells[1].strip()
        for line in section.splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }
    assert set(rows) == {limit.env for limit in limits.ALL}
    for limit in limits.ALL:
        shown = rows[limit.env].split(" ")[0]
        assert shown == (
            f"{limit.default:g}" if isinstance(limit.default, float) else str(limit.default) or "(none)"
        ), limit.env


def test_no_analyst_query_writes_into_duckdb_s_own_spill_folder(built, tmp_path, monkeypatch):
    """DuckDB allows its own spill folder even with external access off, and EXPLAIN ANALYZE runs
    the statement it explains. The analysts' connection has no spill folder, and EXPLAIN explains
    queries only: a write into the folder DuckDB would spill to is refused either way."""
    published = shutil.copy2(built.published_db, tmp_path / "warehouse.duckdb")
    spill = Path(f"{published}.tmp")  # where DuckDB spills for a file database by default
    with sandbox.connect(published) as connection:
        assert execution.execute(connection, "select current_setting('temp_directory')").rows == [("",)]
        target = spill / "x.csv"
        for sql in (
            f"explain analyze copy (select 1) to '{target}'",
            f"EXPLAIN ANALYSE (FORMAT json) COPY (select 1) TO '{target}'",
            f"/* a comment */ explain analyze copy (select 1) to '{target}'",
        ):
            with pytest.raises(sandbox.QueryRefused, match="EXPLAIN is allowed over a query only"):
                execution.execute(connection, sql)
        # Below the filter, the configuration alone refuses the folder too.
        spill.mkdir()
        for sql in (f"copy (select 1) to '{target}'", f"explain analyze copy (select 1) to '{target}'"):
            with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
                connection.execute(sql)
    # A sort past the memory ceiling fails saying so, rather than spill.
    monkeypatch.setenv("WAREHOUSE_QUERY_MEMORY_LIMIT", "64MB")
    with sandbox.connect(published) as connection:
        with pytest.raises(execution.QueryTooLarge, match="WAREHOUSE_QUERY_MEMORY_LIMIT.*never spill"):
            execution.execute(connection, "select * from range(20000000) order by hash(range)")
        # Plain EXPLAIN and EXPLAIN ANALYZE of a query still work.
        assert execution.execute(connection, "explain analyze select count(*) from marts.egov_scores").rows
        assert execution.execute(connection, "explain select * from marts.dim_country").rows
    assert list(spill.iterdir()) == []


def test_one_statement_per_query(built):
    with sandbox.connect(built.published_db) as connection:
        with pytest.raises(sandbox.QueryInvalid, match="2 statements given: send one query at a time"):
            execution.execute(connection, "select * from range(300000000); select 1")
        assert execution.execute(connection, "select 42;").rows == [(42,)]


def test_no_failed_interrupt_disarms_the_time_limit(built, monkeypatch, caplog):
    """A deadline that fires as its query ends interrupts a connection already closed. Hundreds of
    queries race their deadline on cursors closed at once; a callback that fails outright is
    logged; and a runaway query is still stopped after all of it."""

    def watchers() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == "query-time-limits"]

    deadline.WATCHDOG.disarm(deadline.WATCHDOG.arm(60, lambda: None))  # the watch has begun
    (watcher,) = watchers()
    fired = threading.Event()
    deadline.WATCHDOG.arm(0, lambda: 1 / 0)
    deadline.WATCHDOG.arm(0.05, fired.set)
    assert fired.wait(10), "the watchdog stopped after a failing callback"
    assert "could not interrupt" in caplog.text
    monkeypatch.setenv("WAREHOUSE_QUERY_TIMEOUT_S", "0.002")
    with sandbox.connect(built.published_db) as database:
        outcomes = set()
        for _ in range(300):
            cursor = database.cursor()
            try:
                execution.execute(cursor, "select count(*) from range(20000)")
                outcomes.add("answered")
            except deadline.QueryTimedOut:
                outcomes.add("stopped")
            cursor.close()
        monkeypatch.setenv("WAREHOUSE_QUERY_TIMEOUT_S", "1")
        started = time.monotonic()
        with pytest.raises(deadline.QueryTimedOut):
            execution.execute(database, "select count(*) from range(10000000000000) where hash(range) = 42")
        assert time.monotonic() - started < 10
    assert watchers() == [watcher], "the same watch went on throughout: nothing stopped it"
