"""Refreshes against analysts and each other, and a refresh killed in the middle of dbt."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.sources.snapshots import sha256_of
from tests.test_cli import WAREHOUSE, environment
from orchestration.settings import PROJECT_ROOT

# Every test here runs refreshes of its own: `make test`, not `make check`.
pytestmark = pytest.mark.slow


@pytest.fixture
def home(built, tmp_path) -> Path:
    """A copy of a good warehouse home; tests run the real command against it."""
    target = tmp_path / "home"
    shutil.copytree(built.home, target, ignore=shutil.ignore_patterns("quality", "*.lock"))
    return target


def start_refresh(tmp_path: Path, *args: str) -> subprocess.Popen:
    """A full refresh unless told otherwise: the copied home is current, so without --full
    change detection would skip it all."""
    args = args or ("--full",)
    return subprocess.Popen([WAREHOUSE, "refresh", *args], env=environment(tmp_path), cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def publication(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("select dagster_run_id from meta.publication").fetchall()[0][0]


def test_an_analyst_reading_through_a_whole_refresh_is_never_blocked(home, tmp_path):
    published = home / "warehouse.duckdb"
    before = publication(published)
    analyst = duckdb.connect(str(published), read_only=True)
    refresh = start_refresh(tmp_path)
    queries = 0
    while refresh.poll() is None:
        assert analyst.execute("select count(*) from marts.egov_scores").fetchall() == [(2316,)]
        assert analyst.execute("select dagster_run_id from meta.publication").fetchall() == [(before,)]
        queries += 1
        time.sleep(0.2)
    out, err = refresh.communicate()
    assert refresh.returncode == 0, err[-2000:]
    assert queries > 20
    # The analyst's connection still works, on the data it opened; a new connection sees the new data.
    assert analyst.execute("select count(*) from marts.wdi_observations").fetchall()[0][0] > 0
    analyst.close()
    after = publication(published)
    assert after != before and after in out


def test_two_refreshes_at_once_the_second_waits_its_turn(home, tmp_path):
    first = start_refresh(tmp_path)
    while not (home / "build" / "refresh.holder").exists():
        assert first.poll() is None, first.communicate()[1][-2000:]
        time.sleep(0.1)
    second = start_refresh(tmp_path, "--source", "un_egov")  # say, a schedule's refresh
    results = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
    assert [code for code, _, _ in results] == [0, 0], [err[-1500:] for _, _, err in results]
    holder_run = re.search(r"run ([0-9a-f-]{36}) \(refresh_warehouse\)", results[0][1]).group(1)
    assert f"another refresh holds {home / 'build'} (pid {first.pid}, run {holder_run}" in results[1][1]
    # It ran after the first had published, so it found that publication current.
    assert f"nothing changed since the publication of run {holder_run}" in results[1][1]
    assert not (tmp_path / "home" / "logs" / "alerts.log").exists()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select dagster_run_id from meta.publication").fetchall() == [(holder_run,)]
        assert connection.execute("select count(*) from marts.egov_scores").fetchall() == [(2316,)]


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


def test_a_refresh_killed_during_dbt_leaves_the_published_file_and_the_next_one_recovers(home, tmp_path):
    published = home / "warehouse.duckdb"
    before = sha256_of(published)
    refresh = start_refresh(tmp_path)
    deadline = time.monotonic() + 300
    while not any(" build" in command and "dbt" in command for command in children_in_group(refresh.pid)):
        assert refresh.poll() is None and time.monotonic() < deadline, "dbt never started"
        time.sleep(0.2)
    time.sleep(2)  # well inside `dbt build`
    os.killpg(refresh.pid, signal.SIGKILL)
    refresh.wait(timeout=60)
    assert refresh.returncode == -signal.SIGKILL
    assert sha256_of(published) == before
    assert not list(home.glob(".warehouse.duckdb.*.tmp"))

    again = start_refresh(tmp_path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert sha256_of(published) != before
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.egov_scores").fetchall() == [(2316,)]
