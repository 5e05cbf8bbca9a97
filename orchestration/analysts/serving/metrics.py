"""`GET /metrics`: the served door in the Prometheus text format, through prometheus-client, on a
registry of the app's own (two apps in one process never share counts)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(
        self,
        running: Callable[[], float],
        waiting: Callable[[], float],
        open_publications: Callable[[], float],
        age: Callable[[], float],
    ):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "warehouse_serve_requests",
            "Requests answered, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.query_seconds = Histogram(
            "warehouse_serve_query_seconds",
            "Time from a query's admission to its whole answer sent, by kind (answer: JSON; download: CSV or Parquet)",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.timeouts = Counter(
            "warehouse_serve_query_timeouts", "Queries stopped at the time limit", registry=self.registry
        )
        self.refusals = Counter(
            "warehouse_serve_refusals",
            "Queries and requests refused before their first byte, by reason (refused, invalid, memory, unknown_publication, "
            "too_large); 401 and 403 of the token and cross-site checks show in warehouse_serve_requests by status",
            ["reason"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "warehouse_serve_admission_rejections",
            "Queries refused with 503 after waiting for a place (WAREHOUSE_SERVE_MAX_QUERIES, WAREHOUSE_SERVE_QUEUE_S)",
            registry=self.registry,
        )
        self.cut = Counter(
            "warehouse_serve_downloads_cut",
            "Downloads that failed after their first byte, and were cut off",
            registry=self.registry,
        )
        for name, text, read in (
            ("warehouse_serve_queries_running", "Queries running now", running),
            ("warehouse_serve_queries_waiting", "Queries waiting for a place now", waiting),
            ("warehouse_serve_publications_open", "Publications whose database is open now", open_publications),
            ("warehouse_serve_publication_age_seconds", "Seconds since the current publication was published", age),
        ):
            Gauge(name, text, registry=self.registry).set_function(read)

    def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class Counting:
    """ASGI middleware, outermost: every answer counted by its route (the route's path, never the
    raw path, so an attacker's paths cannot grow the series) and status, refusals included."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {}

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            self.metrics.requests.labels(self._route(scope), str(status.get("code", "none"))).inc()

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route.path
        return "other"


def age_of(published_at: str | None) -> float:
    """Seconds since an ISO 8601 time, NaN for none."""
    if published_at is None:
        return float("nan")
    return time.time() - datetime.fromisoformat(published_at).timestamp()
