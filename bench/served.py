"""The analyst queries through `warehouse serve`, over HTTP on loopback: latency per query beside
the direct figures of the same run, and throughput with several clients at once."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.measure import WAREHOUSE
from bench.queries import QUERIES
from orchestration.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(env: dict[str, str], *args: str, headers: dict[str, str] | None = None) -> Iterator[str]:
    """`warehouse serve` as a user starts it, on a free port of 127.0.0.1, with ``env`` and ``args``:
    yields its URL once it answers (with any status), and stops it after."""
    port = free_port()
    process = subprocess.Popen([WAREHOUSE, "serve", "--port", str(port), *args], env=env, cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"warehouse serve exited ({process.returncode}): {process.communicate()[1][-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("warehouse serve did not answer within 60 s")
            try:
                requests.get(f"{url}/api/publications", headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _ask(session: requests.Session, url: str, sql: str) -> float:
    started = time.perf_counter()
    answer = session.post(f"{url}/api/query", json={"sql": sql}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200 or not answer.json()["rows"]:
        raise RuntimeError(f"served query failed ({answer.status_code}): {answer.text[:500]}")
    return elapsed


def latencies(url: str, runs: int) -> dict[str, list[float]]:
    """Milliseconds per request of each query, one client on one kept-alive connection, after a
    warm-up; the whole JSON answer is read and parsed."""
    timings = {}
    with requests.Session() as session:
        for name, sql in QUERIES.items():
            _ask(session, url, sql)
            timings[name] = [_ask(session, url, sql) for _ in range(runs)]
    return timings


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


def measure(home: Path, runs: int, clients: int = 8, seconds: float = 10.0) -> tuple[dict[str, list[float]], Throughput]:
    with serving({**os.environ, "WAREHOUSE_HOME": str(home)}) as url:
        return latencies(url, runs), throughput(url, clients, seconds)
