"""Refreshes against analysts and each other, and a refresh killed in the middle of dbt: one
scenario, as it happens on a server, with the real command in three processes."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import PROJECT_ROOT
from orchestration.sources.snapshots import SourceProvenance, sha256_of
from tests.conftest import WAREHOUSE, environment
from tests.loopback import serve
from tests.test_datareportal import FIXTURES

# Every test here runs refreshes of its own: `make test`, not `make check`.
pytestmark = pytest.mark.slow

PAGE = (FIXTURES / "digital-2022-turkmenistan.html").read_bytes()


def start_refresh(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([WAREHOUSE, "refresh", *args], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def publication(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("select dagster_run_id from meta.publication").fetchall()[0][0]


def children_in_group(group: int) -> list[str]:
    commands = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group:
                    commands.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
    return commands


@pytest.fixture
def datareportal():
    """A stand-in for datareportal.com on 127.0.0.1 with one new report page; yields its URL and the paths asked for."""
    requested: list[str] = []
    with serve({"/reports/digital-2022-turkmenistan": PAGE}, requested) as base:
        yield base, requested


def test_an_analyst_reads_throughout_while_a_refresh_killed_in_dbt_gives_way_to_the_one_waiting(home, tmp_path, snapshot_copy,
                                                                                                   datareportal):
    """The first refresh is a full one (the copied home is current, so without --full change
    detection would skip it all); the second, `--source datareportal --live` as its schedule would
    run it but full, waits for the lock, finds a new report page, and publishes once the first is
    killed. The analyst holds the published file read-write throughout."""
    base, requested = datareportal
    env = {**environment(tmp_path, snapshot_copy), "DATAREPORTAL_BASE_URL": base}
    published = home / "warehouse.duckdb"
    before, before_bytes = publication(published), sha256_of(published)
    # Read-write, as the DuckDB CLI and DBeaver open a file by default: DuckDB then locks it against
    # every other process, and no refresh may need that lock.
    analyst = duckdb.connect(str(published))
    queries = 0

    def read_until(done, limit: float = 300) -> None:
        """The analyst's queries, every 0.2 s until ``done()``: never blocked, always the data opened."""
        nonlocal queries
        deadline = time.monotonic() + limit
        while not done():
            assert time.monotonic() < deadline, "timed out"
            assert analyst.execute("select count(*) from marts.egov_scores").fetchall() == [(2316,)]
            assert analyst.execute("select dagster_run_id from meta.publication").fetchall() == [(before,)]
            queries += 1
            time.sleep(0.2)

    holder = home / "build" / "refresh.holder"
    first = start_refresh(env, "--full")
    read_until(lambda: holder.exists() or first.poll() is not None)
    assert first.poll() is None, first.communicate()[1][-2000:]
    holder_run = re.search(r"run ([0-9a-f-]{36})", holder.read_text()).group(1)
    second = start_refresh(env, "--full", "--source", "datareportal", "--live")
    read_until(lambda: any(" build" in command and "dbt" in command for command in children_in_group(first.pid)))
    inside = time.monotonic() + 2
    read_until(lambda: time.monotonic() > inside)  # well inside `dbt build`
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert sha256_of(published) == before_bytes and not list(home.glob(".tmp-*"))

    read_until(lambda: second.poll() is not None, limit=600)
    out, err = second.communicate()
    assert second.returncode == 0, err[-3000:]
    # It waited for the lock, naming who held it, and took it when the holder died.
    assert f"another refresh holds {home / 'build'} (pid {first.pid}, run {holder_run}" in out
    assert queries > 20
    # The analyst's connection still works, on the data it opened; a new connection sees the new data.
    assert analyst.execute("select count(*) from marts.wdi_observations").fetchall()[0][0] > 0
    analyst.close()
    after = publication(published)
    assert after not in (before, holder_run) and after in out
    assert not (home / "logs" / "alerts.log").exists()
    # The page it fetched: every configured page asked for, this one published and kept as a
    # snapshot whose record names where and when it was fetched.
    assert "/reports/digital-2022-turkmenistan" in requested and len(requested) == 25  # 5 countries x 5 years
    saved = snapshot_copy / "datareportal" / "digital-2022-turkmenistan.html"
    assert saved.read_bytes() == PAGE
    record = next(f for f in SourceProvenance.load(saved.parent).files if f.file == saved.name)
    assert record.obtained_from == base + "/reports/digital-2022-turkmenistan"
    assert record.sha256 == sha256_of(saved) and record.date_accessed.startswith("20")
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.egov_scores").fetchall() == [(2316,)]
        assert connection.execute("select sha256, obtained_from from marts.source_snapshots where file_name = ?",
                                  [saved.name]).fetchall() == [(record.sha256, record.obtained_from)]
