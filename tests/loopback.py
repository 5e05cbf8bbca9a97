"""HTTP servers on 127.0.0.1 for tests: static pages, or any behaviour a test writes, hostile included."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
