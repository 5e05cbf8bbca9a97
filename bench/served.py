"""The analyst queries through `warehouse serve`, over HTTP on loopback: latency per query beside
the direct figures of the same run, and throughput with several clients at once."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import requests

from bench.measure import WAREHOUSE
from bench.queries import QUERIES
from orchestration.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen  # `warehouse serve` itself: its pid is the service's, for /proc/<pid>/


@contextmanager
def serving(env: dict[str, str], *args: str, headers: dict[str, str] | None = None) -> Iterator[str]:
    """`warehouse serve` as a user starts it, on a free port of 127.0.0.1, with ``env`` and ``args``:
    yields its URL once it answers (with any status), and stops it after."""
    with served(env, *args, headers=headers) as service:
        yield service.url


@contextmanager
def served(env: dict[str, str], *args: str, headers: dict[str, str] | None = None) -> Iterator[Served]:
    """As ``serving``, yielding the process too. Its output goes to a file, not a pipe: a service
    that logs more than a pipe holds, with nobody reading it, would block."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [WAREHOUSE, "serve", "--port", str(port), *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"warehouse serve exited ({process.returncode}): {log.read()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("warehouse serve did not answer within 60 s")
            try:
                requests.get(f"{url}/api/publications", headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _ask(session: requests.Session, url: str, sql: str) -> float:
    started = time.perf_counter()
    answer = session.post(f"{url}/api/query", json={"sql": sql}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200 or not answer.json()["rows"]:
        raise RuntimeError(f"served query failed ({answer.status_code}): {answer.text[:500]}")
    return elapsed


def latencies(published: Path, url: str, runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Milliseconds per run of each query, direct and served, one of each in turn so that both see
    the machine in the same state, after a warm-up of each.

    Direct: one read-only DuckDB connection, as an analyst holds it, rows fetched in full. Served:
    one client on one kept-alive connection (the standard library's, which adds least of its own),
    ``POST /api/query``, the JSON answer read and parsed."""
    direct, served = {}, {}
    port = int(url.rsplit(":", 1)[1])
    with (
        duckdb.connect(str(published), read_only=True) as connection,
        closing(http.client.HTTPConnection("127.0.0.1", port)) as client,
    ):

        def ask(body: str) -> dict:
            client.request("POST", "/api/query", body, {"Content-Type": "application/json"})
            answer = client.getresponse()
            parsed = json.loads(answer.read())
            if answer.status != 200 or not parsed["rows"]:
                raise RuntimeError(f"served query failed ({answer.status}): {parsed}")
            return parsed

        for name, sql in QUERIES.items():
            if not connection.execute(sql).fetchall():
                raise RuntimeError(f"benchmark query {name!r} returned no rows: {sql}")
            body = json.dumps({"sql": sql})
            ask(body)
            direct[name], served[name] = [], []
            for _ in range(runs):
                started = time.perf_counter()
                connection.execute(sql).fetchall()
                direct[name].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                ask(body)
                served[name].append((time.perf_counter() - started) * 1000)
    return direct, served


@dataclass(frozen=True)
class Throughput:
    clients: int
    seconds: float
    requests: int
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def throughput(url: str, clients: int, seconds: float) -> Throughput:
    """``clients`` clients, each on its own connection, asking the five queries in turn for ``seconds``."""
    done, timings, lock = threading.Event(), [], threading.Lock()
    failures: list[BaseException] = []

    def client() -> None:
        with requests.Session() as session:
            sqls = list(QUERIES.values())
            while not done.is_set():
                try:
                    elapsed = _ask(session, url, sqls[len(timings) % len(sqls)])
                except BaseException as error:  # reported below, so the run fails with it
                    failures.append(error)
                    return
                with lock:
                    timings.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    done.set()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} client(s) failed: {failures[0]!r}")
    return Throughput(clients, time.perf_counter() - started, len(timings), timings)


def measure(published: Path, runs: int, clients: int = 8, seconds: float = 10.0) -> tuple[dict, dict, Throughput]:
    """Direct and served latencies, and the served door's throughput, of the warehouse ``published``."""
    with serving({**os.environ, "WAREHOUSE_HOME": str(published.parent)}) as url:
        direct, served = latencies(published, url, runs)
        return direct, served, throughput(url, clients, seconds)
