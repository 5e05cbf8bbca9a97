"""The served door's routes: the JSON API, the downloads, and the console page.

- ``GET /api/tables``: every table of a publication, with row counts, columns and descriptions;
- ``POST /api/query`` (``{"sql", "publication"}``) and ``GET /api/query?sql=&format=json``: the
  answer as JSON, within the row limit;
- ``GET /api/query?sql=&format=csv|parquet``: every row, streamed;
- ``GET /api/publications``: the publications kept, newest first;
- ``GET /``: the console.

Every problem is answered as JSON, ``{"error", "message"}``, with a 4xx status.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path

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

from orchestration import limits
from orchestration.analysts import query as analyst
from orchestration.analysts.serving import formats
from orchestration.analysts.serving.access import LOOPBACK_NAMES, Guard
from orchestration.analysts.serving.examples import example_queries
from orchestration.analysts.serving.open_publications import OpenPublications
from orchestration.publication_record import UnknownPublication, kept
from orchestration.settings import Settings

_HERE = Path(__file__).parent
_TEMPLATES = Jinja2Templates(directory=_HERE / "templates")


class Problem(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def create_app(settings: Settings, token: str | None = None) -> Starlette:
    """The service over ``settings``' publications; with ``token``, every request must show it."""
    publications = OpenPublications(settings)

    def tables(request: Request) -> Response:
        with publications.lease(request.query_params.get("publication")) as lease:
            body = [
                {
                    "name": t.name,
                    "description": t.description,
                    "row_count": t.row_count,
                    "columns": [{"name": n, "type": k, "description": d} for n, k, d in t.columns],
                }
                for t in lease.catalog()
            ]
        return JSONResponse(body, headers={"X-Publication": lease.publication.id})

    def listing(request: Request) -> Response:
        return JSONResponse(
            [
                {"id": p.id, "published_at": p.published_at, "run_id": p.run_id, "inputs": p.inputs}
                for p in kept(settings)
            ]
        )

    def answer(sql: str, publication_id: str | None) -> Response:
        with publications.lease(publication_id) as lease:
            result = analyst.execute(lease.cursor, sql)
        return Response(
            formats.result_json(result, lease.publication),
            media_type="application/json",
            headers={"X-Publication": lease.publication.id},
        )

    def download(sql: str, publication_id: str | None, fmt: str) -> Response:
        lease = publications.lease(publication_id)
        try:
            stream = analyst.stream(lease.cursor, sql, formats.csv_needs_text if fmt == "csv" else None)
        except BaseException:
            lease.close()
            raise

        def pieces():
            try:
                yield from formats.encode(stream, fmt)
            finally:
                lease.close()

        name = f"query-{lease.publication.id}.{fmt}"
        return StreamingResponse(
            pieces(),
            media_type=formats.MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Publication": lease.publication.id},
        )

    async def query(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            sql, publication_id, fmt = body.get("sql"), body.get("publication"), "json"
        else:
            params = request.query_params
            sql, publication_id, fmt = params.get("sql"), params.get("publication"), params.get("format", "json")
        if not isinstance(sql, str) or not sql.strip():
            raise Problem(400, "invalid", "give the SQL to run: `sql` (a string)")
        if publication_id is not None and not isinstance(publication_id, str):
            raise Problem(
                400, "invalid", "`publication` is a publication id (a string); leave it out for the current one"
            )
        if fmt == "json":
            return await run_in_threadpool(answer, sql, publication_id or None)
        if fmt not in formats.MEDIA_TYPES:
            raise Problem(400, "invalid", f"unknown format {fmt!r}: json, csv or parquet")
        return await run_in_threadpool(download, sql, publication_id or None, fmt)

    def console(request: Request) -> Response:
        chosen = request.query_params.get("publication")
        with publications.lease(chosen) as lease:
            catalog = lease.catalog()
        return _TEMPLATES.TemplateResponse(
            request,
            "console.html",
            {
                "publication": lease.publication,
                "publications": kept(settings),
                "tables": catalog,
                "examples": example_queries(),
                "limits": [limits.QUERY_TIMEOUT_S, limits.QUERY_MAX_ROWS],
            },
            headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"},
        )

    middleware = [Middleware(Guard, token=token)]
    if token is None:  # only then is the service on loopback alone (orchestration/analysts/serving/access.py)
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES))
    app = Starlette(
        routes=[
            Route("/", console),
            Route("/api/tables", tables),
            Route("/api/publications", listing),
            Route("/api/query", query, methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ],
        middleware=middleware,
        exception_handlers={
            kind: _problem for kind in (Problem, UnknownPublication, analyst.QueryRefused, duckdb.Error)
        },
        lifespan=_closing(publications),
    )
    return app


def _closing(publications: OpenPublications):
    @asynccontextmanager
    async def lifespan(app):
        yield
        publications.close()

    return lifespan


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


def _problem(request: Request, error: Exception) -> Response:
    """Every problem as JSON with its status; DuckDB's own message for SQL that fails."""
    if isinstance(error, Problem):
        status, kind, message = error.status, error.error, error.message
    elif isinstance(error, UnknownPublication):
        status, kind, message = 404, "unknown_publication", str(error)
    elif isinstance(error, analyst.QueryTimedOut):
        status, kind, message = 400, "timeout", str(error)
    elif isinstance(error, analyst.QueryInvalid):
        status, kind, message = 400, "invalid", str(error)
    elif isinstance(error, analyst.QueryRefused):
        status, kind, message = 403, "refused", str(error)
    else:  # duckdb.Error: the SQL failed (syntax, an unknown table or column, a bad cast)
        status, kind, message = 400, "invalid", str(error)
    return JSONResponse({"error": kind, "message": message}, status_code=status)
