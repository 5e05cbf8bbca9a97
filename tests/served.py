"""`warehouse serve` as a user starts it, in a process of its own on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from orchestration.settings import PROJECT_ROOT
from tests.conftest import WAREHOUSE


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(env: dict[str, str], *args: str, headers: dict[str, str] | None = None) -> Iterator[Served]:
    """Start the service with ``env`` and ``args``; yield once it answers, stop it after."""
    port = free_port()
    process = subprocess.Popen([WAREHOUSE, "serve", "--port", str(port), *args], env=env, cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the service did not answer within 60 s"
            try:
                requests.get(f"{url}/api/publications", headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
