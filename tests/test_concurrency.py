"""Refreshes against analysts and each other, and a refresh killed in the middle of dbt: one
scenario, as it happens on a server, with the real command in three processes."""

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
import requests

from bench.served import serving
from orchestration.settings import PROJECT_ROOT
from orchestration.snapshots.records import SourceProvenance, sha256_of
from tests.conftest import DATAREPORTAL_PAGES, WAREHOUSE, environment
from tests.loopback import serve

# Every test here runs refreshes of its own: `make test`, not `make check`.
pytestmark = pytest.mark.slow

PAGE = (DATAREPORTAL_PAGES / "digital-2022-turkmenistan.html").read_bytes()


def start_refresh(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [WAREHOUSE, "refresh", *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def publication(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("select dagster_run_id from meta.publication").fetchall()[0][0]


class ServedClients:
    """Two clients of the served door, one reading JSON and one CSV, querying in a loop until ``stop()``, which returns the
    publications their answers reported, in order; every failed request is kept."""

    SQL = "select publication_id, dagster_run_id, count(*) as n from meta.publication, marts.egov_scores group by all"

    def __init__(self, url: str):
        self.url, self.failures, self.answered, self.reported = url, [], 0, []
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(fmt,), daemon=True) for fmt in ("json", "csv")]
        for thread in self._threads:
            thread.start()

    def _loop(self, fmt: str) -> None:
        while not self._done.is_set():
            try:
                if fmt == "json":
                    answer = requests.post(f"{self.url}/api/query", json={"sql": self.SQL}, timeout=60)
                    ok = answer.status_code == 200 and answer.json()["rows"][0][2] == 2316
                    reported = answer.json()["publication"] if ok else None
                else:
                    answer = requests.get(
                        f"{self.url}/api/query", params={"sql": self.SQL, "format": "csv"}, timeout=60
                    )
                    ok = answer.status_code == 200 and answer.text.splitlines()[1].endswith(",2316")
                    reported = answer.headers.get("X-Publication")
            except requests.RequestException as error:
                self.failures.append(repr(error))
                continue
            if not ok:
                self.failures.append(answer.text[:500])
                continue
            self.answered += 1
            if not self.reported or self.reported[-1] != reported:
                self.reported.append(reported)
            time.sleep(0.3)

    def stop(self) -> list[str]:
        """Stop after a few more answers, which must report the new publication once a refresh is done."""
        answered, deadline = self.answered, time.monotonic() + 30
        while not self._done.is_set() and self.answered < answered + 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=120)
        return self.reported


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


@pytest.fixture
def env(tmp_path, snapshot_copy, datareportal) -> dict[str, str]:
    return {
        **environment(tmp_path, snapshot_copy),
        "DATAREPORTAL_BASE_URL": datareportal[0],
        "WAREHOUSE_KEEP_PUBLICATIONS": "2",
    }


@pytest.fixture
def clients(home, env):
    """`warehouse serve` on the home, with two clients querying it in a loop."""
    with serving(env) as url:
        clients = ServedClients(url)
        try:
            yield clients
        finally:
            clients.stop()


def test_an_analyst_reads_throughout_while_a_refresh_killed_in_dbt_gives_way_to_the_one_waiting(
    home, env, snapshot_copy, datareportal, clients
):
    """The first refresh is a full one (the copied home is current, so without --full change
    detection would skip it all); the second, `--source datareportal --live` as its schedule would
    run it but full, waits for the lock, finds a new report page, and publishes once the first is
    killed. The analyst holds the published file read-write throughout, and two clients of
    `warehouse serve` query it in a loop."""
    base, requested = datareportal
    published = home / "warehouse.duckdb"
    before, before_bytes = publication(published), sha256_of(published)
    with duckdb.connect(str(published), read_only=True) as connection:
        before_id = connection.execute("select publication_id from meta.publication").fetchall()[0][0]
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
    # The served door: not one failed request; queries started on the old publication, and those
    # after the refresh report the new one, now listed first, the old one still queryable by its id.
    seen = clients.stop()
    assert clients.failures == [] and clients.answered > 20, clients.failures[:3]
    listed = requests.get(f"{clients.url}/api/publications", timeout=60).json()
    assert [p["run_id"] for p in listed] == [after, before] and listed[1]["id"] == before_id
    assert seen[0] == before_id and seen[-1] == listed[0]["id"] and set(seen) == {before_id, listed[0]["id"]}
    old = requests.post(
        f"{clients.url}/api/query",
        json={"sql": "select publication_id, dagster_run_id from meta.publication", "publication": before_id},
        timeout=60,
    ).json()
    assert old["rows"] == [[before_id, before]] and old["publication"] == before_id
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
        assert connection.execute(
            "select sha256, obtained_from from marts.source_snapshots where file_name = ?", [saved.name]
        ).fetchall() == [(record.sha256, record.obtained_from)]
