"""HTTP servers on 127.0.0.1 for tests: static pages, or any behaviour a test writes, hostile included."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextmanager
def serve_with(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """Yield the base URL of a server that hands every GET to ``answer(handler)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                answer(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should have

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a handler still dripping bytes must not hold the test's exit
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve(pages: dict[str, bytes], requests: list[str] | None = None) -> Iterator[str]:
    """Yield the base URL of a server that answers GET <path> with pages[path], 404 elsewhere."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if requests is not None:
            requests.append(handler.path)
        body = pages.get(handler.path)
        handler.send_response(200 if body is not None else 404)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.end_headers()
        handler.wfile.write(body if body is not None else b"<html>not found</html>")

    with serve_with(answer) as base:
        yield base


def until_closed(
    handler: BaseHTTPRequestHandler, closed: list[float], first: bytes = b"", drip: bytes = b"", every: float = 0.1
) -> None:
    """Hold the request open: send ``first``, then ``drip`` a byte every ``every`` s (or nothing), and
    note in ``closed`` when the client lets go of the connection (its end reads EOF, or a write fails)."""
    connection, left = handler.connection, drip
    ends = time.monotonic() + 60  # a client that never lets go fails its test; the server thread still ends
    try:
        connection.sendall(first)
        while time.monotonic() < ends:
            if select.select([connection], [], [], every)[0]:
                if not connection.recv(1):
                    break
            elif left:
                connection.sendall(left[:1])
                left = left[1:]
        else:
            return
    except OSError:  # reset, or a broken pipe: the client is gone
        pass
    closed.append(time.monotonic())


def sockets_to(port: int) -> list[str]:
    """The states of this process's open TCP sockets whose other end is ``port`` on 127.0.0.1, read from
    /proc: the socket inodes among its file descriptors, looked up in the kernel's table."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since it was listed
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    states = {"01": "ESTABLISHED", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "08": "CLOSE_WAIT"}
    found = []
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if inode in inodes and remote == f"0100007F:{port:04X}":
            found.append(states.get(state, state))
    return found


def still_holding(base: str, closed: list[float], started: set[threading.Thread], grace: float = 1.5) -> list[str]:
    """What still holds on to the server at ``base`` after ``grace`` s: threads started since ``started``
    was taken that are alive, this process's sockets to it, or a connection the server never saw closed."""
    port = int(base.rsplit(":", 1)[1])
    ends = time.monotonic() + grace
    while True:
        held = [f"thread {t.name!r}" for t in threading.enumerate() if t not in started and t.is_alive()]
        held += [f"a socket to port {port} ({state})" for state in sockets_to(port)]
        if not closed:
            held.append("the server never saw its connection closed")
        if not held or time.monotonic() > ends:
            return held
        time.sleep(0.05)
