"""The analysts' connection to the published warehouse: every door that serves analysts opens it here.

It is sandboxed by DuckDB's own configuration, whatever the SQL says: read-only, no file but the
published warehouse (no read_csv of a local file, no COPY, no ATTACH, no EXPORT), no extension
installed or loaded, and the configuration locked so no SET undoes any of it. Each query runs
under a time limit and returns at most a row limit, with a memory and thread ceiling
(orchestration/limits.py). Statements other than queries are refused first, only so that the
message is plain; the configuration is what holds.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from orchestration import limits

if TYPE_CHECKING:
    import pyarrow as pa

_READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
FORMATS = ("table", "csv", "json")


class QueryRefused(ValueError):
    """A statement that is not a query, a query past a limit, or a warehouse that is not there."""


class QueryInvalid(QueryRefused):
    """SQL that does not parse, or no statement at all."""


class QueryTimedOut(QueryRefused):
    """A query stopped at the time limit."""


def sandbox_config() -> dict[str, object]:
    """DuckDB settings of an analyst connection; ``lock_configuration`` last, so nothing can change them."""
    return {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "memory_limit": limits.QUERY_MEMORY.value(),
        "threads": limits.QUERY_THREADS.value(),
        "lock_configuration": True,
    }


def connect(published: Path) -> duckdb.DuckDBPyConnection:
    if not published.exists():
        raise QueryRefused(f"{published} does not exist yet: run `warehouse refresh` first")
    return duckdb.connect(str(published), read_only=True, config=sandbox_config())


@dataclass(frozen=True)
class Result:
    columns: list[tuple[str, str]]  # name and DuckDB type
    rows: list[tuple]
    truncated: bool  # more rows than the row limit: the rest were not returned
    elapsed_ms: float


def statements_of(sql: str) -> list:
    """The statements of ``sql``, or QueryRefused saying which kinds are not queries."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryInvalid(f"the SQL does not parse: {error}") from None
    if not statements:
        raise QueryInvalid("no SQL statement given")
    refused = [s for s in statements if s.type not in _READING]
    if refused:
        kinds = ", ".join(sorted({s.type.name for s in refused}))
        raise QueryRefused(
            f"the published warehouse is read-only: {kinds} statements are refused; "
            "only queries (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN) run"
        )
    return statements


class _Watchdog:
    """One thread that stops queries past their time: starting a timer thread for each query cost
    more than answering some of them. Each deadline is a (due, key, callback) on a heap."""

    def __init__(self):
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()
        self._cancelled: set[int] = set()
        self._condition = threading.Condition()
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="query-time-limits", daemon=True)
                self._thread.start()
            key = next(self._keys)
            self._pending.add(key)
            heapq.heappush(self._due, (time.monotonic() + seconds, key, callback))
            self._condition.notify()
            return key

    def disarm(self, key: int) -> None:
        with self._condition:
            if key in self._pending:  # not yet fired
                self._cancelled.add(key)

    def _watch(self) -> None:
        while True:
            with self._condition:
                while True:
                    while self._due and self._due[0][1] in self._cancelled:
                        key = heapq.heappop(self._due)[1]
                        self._cancelled.discard(key)
                        self._pending.discard(key)
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    if wait is not None and wait <= 0:
                        _, key, callback = heapq.heappop(self._due)
                        self._pending.discard(key)
                        break
                    self._condition.wait(wait)
            callback()


_WATCHDOG = _Watchdog()


class TimeLimit:
    """DuckDB's time on one query, summed over the calls that run it (not the time a client takes to
    read what it streams). DuckDB has no statement timeout of its own: the watchdog calls
    interrupt(), and the connection stays usable for the next query."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection, self.limit, self.spent = connection, limits.QUERY_TIMEOUT_S.value(), 0.0
        self._stopped = threading.Event()

    @contextmanager
    def running(self):
        """A call into DuckDB, stopped once the query's time is spent; what the sandbox or the timer
        refused comes out as QueryRefused."""
        alarm = _WATCHDOG.arm(max(self.limit - self.spent, 0.0), self._stop)
        started = time.perf_counter()
        try:
            yield
        except (duckdb.InterruptException, OSError):  # OSError: an interrupt seen through an Arrow stream
            if not self._stopped.is_set():
                raise
            raise self._refusal() from None
        except duckdb.PermissionException as error:
            raise QueryRefused(
                f"refused by the analysts' sandbox: {str(error).splitlines()[0]}; only the published "
                "warehouse can be read, and no file written, attached or loaded"
            ) from None
        except duckdb.InvalidInputException as error:
            if "configuration has been locked" not in str(error):
                raise
            raise QueryRefused(f"refused by the analysts' sandbox: {str(error).splitlines()[0]}") from None
        finally:
            _WATCHDOG.disarm(alarm)
            self.spent += time.perf_counter() - started
        if self._stopped.is_set():  # an interrupted Arrow stream may simply end: never take it for the whole result
            raise self._refusal()

    def _stop(self) -> None:
        self._stopped.set()
        self.connection.interrupt()

    def _refusal(self) -> QueryTimedOut:
        return QueryTimedOut(
            f"the query ran past the time limit of {self.limit:g} s and was stopped "
            f"({limits.QUERY_TIMEOUT_S.env} sets the limit)"
        )


def execute(connection: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run ``sql`` on an analyst connection within the time and row limits; the last statement's rows."""
    statements = statements_of(sql)
    max_rows = limits.QUERY_MAX_ROWS.value()
    started = time.perf_counter()
    with TimeLimit(connection).running():
        _run_leading(connection, statements)
        cursor = connection.execute(statements[-1])
        columns = [(column[0], str(column[1])) for column in cursor.description]
        rows = cursor.fetchmany(max_rows + 1) if max_rows else cursor.fetchall()
    truncated = bool(max_rows) and len(rows) > max_rows
    return Result(columns, rows[:max_rows] if truncated else rows, truncated, (time.perf_counter() - started) * 1000)


def _run_leading(connection: duckdb.DuckDBPyConnection, statements: list) -> None:
    """Every statement but the last, whose rows are the answer."""
    for statement in statements[:-1]:
        connection.execute(statement).fetchall()  # the parsed statement: DuckDB does not parse it again


@dataclass(frozen=True)
class Stream:
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]  # every row, no row limit; the time limit still holds


def stream(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    as_text: Callable[[str], bool] | None = None,
    batch_rows: int = 65_536,
) -> Stream:
    """Every row of ``sql`` as Arrow batches, computed as they are read (for downloads), with the
    columns whose DuckDB type ``as_text`` names cast to text. The first batch is computed here, so a
    query that is refused, fails or runs out of time says so before anything is sent."""
    statements = statements_of(sql)
    limit = TimeLimit(connection)
    with limit.running():
        _run_leading(connection, statements)
        relation = connection.sql(statements[-1].query)
        if as_text and any(as_text(str(kind)) for kind in relation.types):
            relation = relation.project(
                ", ".join(
                    _quoted(name) + ("::varchar" if as_text(str(kind)) else "")
                    for name, kind in zip(relation.columns, relation.types)
                )
            )
        reader = relation.to_arrow_reader(batch_rows)
        first = _next_batch(reader)

    def batches() -> Iterator[pa.RecordBatch]:
        batch = first
        while batch is not None:
            yield batch
            with limit.running():
                batch = _next_batch(reader)

    return Stream(reader.schema, batches())


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def run_query(published: Path, sql: str, output: str = "table") -> tuple[str, Result]:
    """The query's result formatted for the command line, and the result itself."""
    statements_of(sql)  # refused before the file is opened
    with connect(published) as connection:
        result = execute(connection, sql)
    return _format([name for name, _ in result.columns], result.rows, output), result


def _format(columns: list[str], rows: list[tuple], output: str) -> str:
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    if output == "json":
        return json.dumps([dict(zip(columns, row)) for row in rows], default=str, ensure_ascii=False, indent=1) + "\n"
    return _table(columns, rows)


def _table(columns: list[str], rows: list[tuple]) -> str:
    cells = [columns] + [["NULL" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    description: str  # dbt's, carried into the published file
    row_count: int
    columns: list[tuple[str, str, str]]  # name, DuckDB type, description


def catalog(connection: duckdb.DuckDBPyConnection) -> list[Table]:
    """Every published table with its row count, its columns and their dbt descriptions."""
    tables = connection.execute(
        "select schema_name, table_name, coalesce(comment, '') from duckdb_tables() order by 1, 2"
    ).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for schema, table, column, kind, comment in connection.execute(
        "select schema_name, table_name, column_name, data_type, coalesce(comment, '') from duckdb_columns() "
        "order by schema_name, table_name, column_index"
    ).fetchall():
        columns.setdefault((schema, table), []).append((column, kind, comment))
    return [
        Table(f"{schema}.{table}", comment, _count(connection, schema, table), columns.get((schema, table), []))
        for schema, table, comment in tables
    ]


def list_tables(published: Path) -> list[Table]:
    with connect(published) as connection:
        return catalog(connection)


def _count(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return connection.execute(f"select count(*) from {_quoted(schema)}.{_quoted(table)}").fetchall()[0][0]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
