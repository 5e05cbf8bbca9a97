"""The served door's routes: the JSON API, the downloads, the console page, health and metrics.

- ``GET /api/tables``: every table of a publication, with row counts, columns and descriptions;
- ``POST /api/query`` (``{"sql", "publication"}``) and ``GET /api/query?sql=&format=json``: the
  answer as JSON, within the row limit;
- ``GET /api/query?sql=&format=csv|parquet``: every row, streamed;
- ``GET /api/publications``: the publications kept, newest first, with their pins and changes;
- ``GET /api/publications/<old>/diff/<new>?table=``: what changed between two (publishing/diff.py);
- ``GET /api/publications/<id>/package?format=parquet|csv``: its Frictionless Data Package, one
  zip, streamed as it is built (package.py);
- ``GET /?sql=&publication=``: the console, which runs the query of its address;
- ``GET /healthz``: liveness, the current publication and its age; ``GET /metrics``: Prometheus.

Every problem found before the first byte is answered as JSON, ``{"error", "message"}``, with a
4xx status (503 with Retry-After when the service is full). A GET that names its publication is
immutable: it carries an ETag and ``Cache-Control: immutable``, and a conditional GET gets 304.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import anyio
import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from orchestration import limits, publications
from orchestration.analysts import execution, formats, package, sandbox
from orchestration.analysts.deadline import QueryTimedOut, TimeLimit
from orchestration.analysts.encoding import answer_json, document_json
from orchestration.analysts.sandbox import QueryInvalid, QueryRefused
from orchestration.analysts.serving.access import LOOPBACK_NAMES, Guard
from orchestration.analysts.serving.admission import Admission, Busy
from orchestration.analysts.serving.examples import example_queries
from orchestration.analysts.serving.metrics import Counting, Metrics, age_of
from orchestration.analysts.serving.open_publications import Lease, OpenPublications
from orchestration.publications import Publication, UnknownPublication
from orchestration.publishing import diff
from orchestration.settings import Settings

_LOG = logging.getLogger(__name__)
_HERE = Path(__file__).parent
_TEMPLATES = Jinja2Templates(directory=_HERE / "templates")
# How often the service looks for a new publication, to close the one it replaced.
RETIRE_EVERY_S = 1.0
_YEAR_S = 365 * 24 * 3600


class Problem(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class DownloadCut(Exception):
    """A download that failed after its first byte: the server closes the connection mid-body."""


class DownloadStalled(Exception):
    """A download whose client stopped taking its pieces."""


class ClientGone(Exception):
    """The client went away before its answer: nothing is sent."""


class _Held:
    """What a query holds while it runs (and a download until its last byte): its lease and its
    stream, set as they are made, in the worker thread; and whether its client has gone."""

    def __init__(self, publications_open: OpenPublications, chosen: str | None):
        self._publications, self._chosen = publications_open, chosen
        # Between the worker taking or letting go of the lease and the event loop interrupting its
        # cursor: DuckDB's interrupt must never meet a cursor being closed.
        self._lock = threading.Lock()
        self.gone = False
        self.lease: Lease | None = None
        self.own: duckdb.DuckDBPyConnection | None = None  # a connection of the request's own (a diff's)
        self.stream: _Encoded | _Zipped | None = None  # a download's pieces
        self.first: tuple[bytes, bool] = (b"", False)  # its first, computed before the response starts

    def take(self) -> Lease:
        """In the worker: the publication's lease, unless the client has gone already."""
        lease = self._publications.lease(self._chosen)
        with self._lock:
            self.lease, gone = lease, self.gone
        if gone:
            raise ClientGone()
        return lease

    def hold(self, connection: duckdb.DuckDBPyConnection) -> None:
        """In the worker: a connection of the request's own, interrupted and closed as a lease is."""
        with self._lock:
            self.own, gone = connection, self.gone
        if gone:
            raise ClientGone()

    def interrupt(self) -> None:
        """Stop this query's work at once, from any thread: its client is gone."""
        with self._lock:
            self.gone = True
            working = self.lease.cursor if self.lease is not None else self.own
            if working is not None:
                try:
                    working.interrupt()
                except duckdb.ConnectionException:  # its database closed (the service stopping)
                    pass

    def close(self) -> None:
        with self._lock:
            lease, own, stream = self.lease, self.own, self.stream
            self.lease = self.own = self.stream = None
        if stream is not None:
            stream.close()
        if lease is not None:
            lease.close()
        if own is not None:
            own.close()


class _Encoded:
    """A query's rows as the pieces of a CSV or Parquet file."""

    def __init__(self, stream: execution.Stream, fmt: str):
        self._stream = stream
        try:
            self._encoder = formats.Encoder(stream.schema, fmt)
        except BaseException:
            stream.close()
            raise

    def next_piece(self) -> tuple[bytes, bool]:
        batch = self._stream.next_batch()
        if batch is None:
            return self._encoder.finish(), True
        return self._encoder.write(batch), False

    def close(self) -> None:
        self._stream.close()


class _Zipped:
    """A data package as the pieces of one zip (package.py); each table's query closed with it."""

    def __init__(self, pieces):
        self._pieces = pieces

    def next_piece(self) -> tuple[bytes, bool]:
        piece = next(self._pieces, None)
        return (b"", True) if piece is None else (piece, False)

    def close(self) -> None:
        self._pieces.close()


def create_app(settings: Settings, token: str | None = None) -> Starlette:
    """The service over ``settings``' publications; with ``token``, every request must show it."""
    publications_open = OpenPublications(settings)
    admission = Admission()
    examples = example_queries()  # read from the pages once, not at every page view
    diffing = anyio.Lock()
    metrics = Metrics(
        running=lambda: admission.running,
        waiting=lambda: admission.waiting,
        open_publications=publications_open.count,
        age=lambda: age_of(getattr(_current_or_none(publications_open), "published_at", None)),
    )

    async def work(request: Request, function, held: _Held):
        """``function()`` in a worker thread, within an admission slot of the request's client. If the
        client goes away meanwhile, its wait for a place ends, or its query is interrupted (``held``),
        and ClientGone is raised."""
        outcome: dict[str, object] = {}
        async with anyio.create_task_group() as tasks:

            async def run() -> None:
                try:
                    async with admission.slot(_client(request)):
                        outcome["value"] = await run_in_threadpool(function)
                except Exception as error:  # raised below, outside the task group
                    outcome["error"] = error
                tasks.cancel_scope.cancel()

            async def watch() -> None:
                await _disconnected(request)
                outcome["gone"] = True
                held.interrupt()
                tasks.cancel_scope.cancel()

            tasks.start_soon(run)
            tasks.start_soon(watch)
        if "gone" in outcome:
            raise ClientGone()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    async def tables(request: Request) -> Response:
        chosen = request.query_params.get("publication")
        if cached := _not_modified(request, settings, chosen, token):
            return cached

        publication, catalog = await _catalog(request, chosen)
        body = [
            {
                "name": t.name,
                "description": t.description,
                "row_count": t.row_count,
                "columns": [{"name": n, "type": k, "description": d} for n, k, d in t.columns],
            }
            for t in catalog
        ]
        return JSONResponse(body, headers={"X-Publication": publication.id, **_cache_headers(request, chosen, token)})

    def listing(request: Request) -> Response:
        pins, now = publications.pins(settings), publications.newest(settings)
        return JSONResponse(
            [
                {
                    "id": p.id,
                    "published_at": p.published_at,
                    "run_id": p.run_id,
                    "inputs": p.inputs,
                    "current": now is not None and p.id == now.id,
                    "pinned": asdict(pins[p.id]) if p.id in pins else None,
                    "replaces": p.replaces or None,
                    "changes": p.changes or None,
                }
                for p in publications.kept(settings)
            ]
        )

    async def difference(request: Request) -> Response:
        old_id, new_id = request.path_params["old"], request.path_params["new"]
        only = request.query_params.get("table") or None
        publications.find(settings, new_id)  # both kept, or 404 (the conditional GET checks the old one)
        if cached := _not_modified(request, settings, old_id, token):
            return cached
        held = _Held(publications_open, None)

        def run() -> bytes:
            old, new = (publications.find(settings, i) for i in (old_id, new_id))
            try:
                connection = diff.connect(
                    publications.kept_file(settings, old), publications.kept_file(settings, new), sandbox.config()
                )
            except duckdb.IOException:  # one retired as it was opened: say which
                for publication_id in (old_id, new_id):
                    publications.find(settings, publication_id)
                raise
            limit = TimeLimit(connection)  # one for the diff, summed over its statements

            def calling():
                if held.gone:  # its client left between two statements
                    raise ClientGone()
                return execution.calling(limit)

            try:
                held.hold(connection)
                started = time.perf_counter()
                found = diff.compare(connection, old.id, new.id, only, calling)
                metrics.query_seconds.labels("diff").observe(time.perf_counter() - started)
                return document_json(found.as_dict())
            except diff.UnknownTable as unknown:
                raise Problem(404, "unknown_table", str(unknown)) from None
            finally:
                held.close()
                connection.close()

        # One diff at a time: each has a database of its own with the analysts' memory ceiling and
        # threads. A diff that finds none free within the admission wait is turned away as busy.
        wait, acquired = limits.SERVE_QUEUE_S.value(), False
        with anyio.move_on_after(wait):
            await diffing.acquire()
            acquired = True
        if not acquired:
            raise Busy(
                f"another diff ran for all of {wait:g} s ({limits.SERVE_QUEUE_S.env}); try again",
                math.ceil(limits.QUERY_TIMEOUT_S.value()),
            )
        try:
            body = await work(request, run, held)
        finally:
            diffing.release()
        return Response(body, media_type="application/json", headers=_cache_headers(request, old_id, token))

    async def data_package(request: Request) -> Response:
        chosen = request.path_params["id"]
        fmt = request.query_params.get("format", "parquet")
        if fmt not in package.FORMATS:
            raise Problem(400, "invalid", f"unknown package format {fmt!r}: {' or '.join(package.FORMATS)}")
        if cached := _not_modified(request, settings, chosen, token):
            return cached

        def pieces(lease: Lease):
            made = package.Package(lease.cursor, lease.publication, fmt, lease.catalog())
            return _Zipped(package.zipped(made.files(), datetime.fromisoformat(lease.publication.published_at)))

        return await download(request, pieces, chosen, f"datapackage-{chosen}-{fmt}.zip", "application/zip")

    async def _catalog(request: Request, chosen: str | None):
        held = _Held(publications_open, chosen)

        def read():
            try:
                lease = held.take()
                return lease.publication, lease.catalog()
            finally:
                held.close()

        return await work(request, read, held)

    async def answer(request: Request, sql: str, chosen: str | None) -> Response:
        held = _Held(publications_open, chosen)

        def run():
            started = time.perf_counter()
            try:
                lease = held.take()
                result = execution.execute(lease.cursor, sql)
            finally:
                held.close()
            metrics.query_seconds.labels("answer").observe(time.perf_counter() - started)
            return answer_json(result, lease.publication.id), lease.publication

        body, publication = await work(request, run, held)
        headers = {"X-Publication": publication.id, **_cache_headers(request, chosen, token)}
        return Response(body, media_type="application/json", headers=headers)

    async def download(request: Request, pieces, chosen: str | None, filename: str, media_type: str) -> Response:
        """A file streamed piece by piece: ``pieces(lease)`` makes them, its first computed before any
        byte is sent, so what fails then is answered as a problem."""
        if request.scope.get("http_version") == "1.0":
            raise Problem(
                400,
                "invalid",
                "downloads need HTTP/1.1: over HTTP/1.0 a download cut off by an error could not be told from a whole one",
            )
        held = _Held(publications_open, chosen)

        def start() -> None:
            held.stream = pieces(held.take())
            held.first = held.stream.next_piece()

        try:
            await work(request, start, held)
        except BaseException:
            await _shielded(lambda: run_in_threadpool(held.close))
            raise
        publication = held.lease.publication
        headers = {
            "Content-Disposition": f'attachment; filename="{filename.replace("{id}", publication.id)}"',
            "X-Publication": publication.id,
            **_cache_headers(request, chosen, token),
        }
        return _Download(held, media_type, lambda step: _pace(admission, request, step), metrics, headers)

    async def query(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            sql, chosen, fmt = body.get("sql"), body.get("publication"), "json"
        else:
            params = request.query_params
            sql, chosen, fmt = params.get("sql"), params.get("publication"), params.get("format", "json")
        if not isinstance(sql, str) or not sql.strip():
            raise Problem(400, "invalid", "give the SQL to run: `sql` (a string)")
        if chosen is not None and not isinstance(chosen, str):
            raise Problem(
                400, "invalid", "`publication` is a publication id (a string); leave it out for the current one"
            )
        if fmt != "json" and fmt not in formats.MEDIA_TYPES:
            raise Problem(400, "invalid", f"unknown format {fmt!r}: json, csv or parquet")
        if cached := _not_modified(request, settings, chosen or None, token):
            return cached
        if fmt == "json":
            return await answer(request, sql, chosen or None)

        def pieces(lease: Lease) -> _Encoded:
            return _Encoded(execution.stream(lease.cursor, sql, formats.AS_TEXT[fmt]), fmt)

        return await download(request, pieces, chosen or None, f"query-{{id}}.{fmt}", formats.MEDIA_TYPES[fmt])

    async def console(request: Request) -> Response:
        chosen = request.query_params.get("publication") or None
        publication, catalog = await _catalog(request, chosen)
        return _TEMPLATES.TemplateResponse(
            request,
            "console.html",
            {
                "publication": publication,
                # A link followed from another site's page fills the editor; only a click runs it.
                "autorun": request.headers.get("sec-fetch-site", "none") in ("none", "same-origin"),
                "publications": await run_in_threadpool(publications.kept, settings),
                "tables": catalog,
                "examples": examples,
                "sql": request.query_params.get("sql") or "select * from marts.dim_country where is_central_asia",
                "limits": [limits.QUERY_TIMEOUT_S, limits.QUERY_MAX_ROWS],
            },
            headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"},
        )

    def healthz(request: Request) -> Response:
        try:
            publication = publications_open.current()
        except UnknownPublication as nothing:
            return JSONResponse({"status": "no_publication", "message": str(nothing)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "publication": publication.id,
                "published_at": publication.published_at,
                "age_seconds": round(age_of(publication.published_at), 1),
            }
        )

    def problem(request: Request, error: Exception) -> Response:
        if isinstance(error, ClientGone):
            return Response(status_code=499)  # nginx's "client closed request": counted by route, never sent
        status, kind, message = _problem(error)
        if kind == "timeout":
            metrics.timeouts.inc()
        elif kind == "busy":
            metrics.rejections.inc()
        else:
            metrics.refusals.labels(kind).inc()
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Busy) else None
        return JSONResponse({"error": kind, "message": message}, status_code=status, headers=headers)

    routes = [
        Route("/", console),
        Route("/api/tables", tables),
        Route("/api/publications", listing),
        Route("/api/publications/{old}/diff/{new}", difference),
        Route("/api/publications/{id}/package", data_package),
        Route("/api/query", query, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/metrics", metrics.endpoint),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    middleware = [Middleware(Counting, metrics=metrics, routes=routes), Middleware(Guard, token=token)]
    if token is None:  # only then is the service on loopback alone (orchestration/analysts/serving/access.py)
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            kind: problem for kind in (Problem, UnknownPublication, QueryRefused, Busy, ClientGone, duckdb.Error)
        },
        lifespan=_lifespan(publications_open),
    )


class _Download(StreamingResponse):
    """A download's body, each piece computed in a worker thread within an admission slot. Its lease
    and stream are let go when the response ends, whichever way: every byte sent, the client gone
    (before the first byte or during the body), or a failure, which cuts the body off."""

    def __init__(self, held: _Held, media_type: str, step, metrics: Metrics, headers: dict[str, str]):
        self._held, self._step, self._metrics = held, step, metrics
        self._started, self._finished, self._gone = time.perf_counter(), False, False
        super().__init__(self._pieces(), media_type=media_type, headers=headers)

    async def _pieces(self):
        piece, last = self._held.first
        while True:
            if piece:
                yield piece
            if last:
                self._finished = True
                self._metrics.query_seconds.labels("download").observe(time.perf_counter() - self._started)
                return
            piece, last = await self._step(self._held.stream.next_piece)

    async def stream_response(self, send: Send) -> None:
        """Starlette's, with a limit on how long a piece may wait for the client to take it: a client
        that stops reading but keeps its connection would otherwise hold its lease for ever."""
        stall = limits.SERVE_STALL_S.value()

        async def send_in_time(message) -> None:
            with anyio.fail_after(stall):
                await send(message)

        try:
            await super().stream_response(send_in_time)
        except TimeoutError:
            raise DownloadStalled(
                f"the client took nothing for {stall:g} s ({limits.SERVE_STALL_S.env}); the download was cut off"
            ) from None

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await super().listen_for_disconnect(receive)
        # The client is gone: stop DuckDB now, rather than let the batch being computed run to its time limit.
        if not self._finished:
            self._gone = True
            self._held.interrupt()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:
            if self._gone:  # what its leaving interrupted: nobody is there to tell
                return
            self._metrics.cut.inc()
            if isinstance(error, QueryTimedOut):
                self._metrics.timeouts.inc()
            # Raised past every handler: the server closes the connection, and the client sees an incomplete answer.
            raise DownloadCut(f"a download was cut off after its first byte: {error}") from None
        finally:
            await _shielded(self._close)

    async def _close(self) -> None:
        await self.body_iterator.aclose()
        await run_in_threadpool(self._held.close)


async def _shielded(close) -> None:
    """Await a clean-up to its end even while the request is being cancelled."""
    with anyio.CancelScope(shield=True):
        await close()


def _lifespan(publications_open: OpenPublications):
    @asynccontextmanager
    async def lifespan(app):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_retiring, publications_open)
            yield
            tasks.cancel_scope.cancel()
        publications_open.close()

    return lifespan


async def _retiring(publications_open: OpenPublications) -> None:
    """Close a replaced publication's database soon after a refresh publishes, even with no request."""
    while True:
        await anyio.sleep(RETIRE_EVERY_S)
        try:
            await run_in_threadpool(publications_open.retire)
        except Exception:  # noqa: BLE001 - a publish under way (a file going as it is read): try again next time
            _LOG.warning("could not look for a replaced publication", exc_info=True)


async def _pace(admission: Admission, request: Request, step):
    """One piece of a download: computed in a worker thread within an admission slot, for which a
    download under way waits as long as it takes (a download is never cut for want of a place)."""
    async with admission.slot(_client(request), patient=True):
        return await run_in_threadpool(step)


async def _disconnected(request: Request) -> None:
    """Return once the client has gone away (a request's body, if any, is read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _current_or_none(publications_open: OpenPublications) -> Publication | None:
    try:
        return publications_open.current()
    except UnknownPublication:
        return None


def _etag(request: Request, chosen: str | None) -> str | None:
    """A GET on a named publication never changes its answer: its tag is the publication, the
    route, the query's parameters, and the row limit that shapes a JSON answer."""
    if request.method != "GET" or not chosen:
        return None
    key = [chosen, request.url.path, sorted(request.query_params.multi_items()), limits.QUERY_MAX_ROWS.value()]
    return 'W/"' + hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:32] + '"'


def _cache_headers(request: Request, chosen: str | None, token: str | None) -> dict[str, str]:
    etag = _etag(request, chosen)
    if etag is None:
        return {}
    # With a token the answer is for those who show it: no shared cache may keep it.
    scope = "private" if token else "public"
    return {"ETag": etag, "Cache-Control": f"{scope}, max-age={_YEAR_S}, immutable"}


def _not_modified(request: Request, settings: Settings, chosen: str | None, token: str | None) -> Response | None:
    """304 for a conditional GET whose tag is the answer's, while its publication is kept."""
    etag = _etag(request, chosen)
    asked = request.headers.get("if-none-match")
    if etag is None or asked is None:
        return None
    # Only this answer's tag: "*" would name an answer that exists, and the SQL may not give one.
    tags = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
    if etag.removeprefix("W/") not in tags:
        return None
    publications.find(settings, chosen)  # one no longer kept is 404, not a tag of something gone
    return Response(status_code=304, headers=_cache_headers(request, chosen, token))


async def _json_body(request: Request) -> dict:
    """The request's JSON object, read up to the body limit."""
    limit = limits.SERVE_MAX_BODY_BYTES.value()
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Problem(415, "invalid", 'send the query as JSON: Content-Type: application/json, {"sql": "..."}')
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(
                413,
                "too_large",
                f"the request is larger than {limit:,} bytes ({limits.SERVE_MAX_BODY_BYTES.env} sets the limit)",
            )
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "invalid", f"the body is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise Problem(400, "invalid", 'the body is a JSON object: {"sql": "...", "publication": "<id>"}')
    return parsed


def _problem(error: Exception) -> tuple[int, str, str]:
    """Every problem's status, kind and message; DuckDB's own message for SQL that fails."""
    if isinstance(error, Problem):
        return error.status, error.error, error.message
    if isinstance(error, Busy):
        return 503, "busy", str(error)
    if isinstance(error, UnknownPublication):
        return 404, "unknown_publication", str(error)
    if isinstance(error, QueryTimedOut):
        return 400, "timeout", str(error)
    if isinstance(error, execution.QueryTooLarge):
        return 400, "memory", str(error)
    if isinstance(error, QueryInvalid):
        return 400, "invalid", str(error)
    if isinstance(error, QueryRefused):
        return 403, "refused", str(error)
    return 400, "invalid", str(error)  # duckdb.Error: the SQL failed (syntax, an unknown table or column, a bad cast)
