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
import io
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration import limits

_READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
FORMATS = ("table", "csv", "json")


class QueryRefused(ValueError):
    """A statement that is not a query, a query past a limit, or a warehouse that is not there."""


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
        raise QueryRefused(f"the SQL does not parse: {error}") from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    refused = [s for s in statements if s.type not in _READING]
    if refused:
        kinds = ", ".join(sorted({s.type.name for s in refused}))
        raise QueryRefused(f"the published warehouse is read-only: {kinds} statements are refused; "
                           "only queries (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN) run")
    return statements


def execute(connection: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run ``sql`` on an analyst connection within the time and row limits; the last statement's rows."""
    statements = statements_of(sql)
    timeout, max_rows = limits.QUERY_TIMEOUT_S.value(), limits.QUERY_MAX_ROWS.value()
    # DuckDB has no statement timeout of its own; interrupt() from a timer stops the query, and
    # the connection stays usable for the next one.
    timer = threading.Timer(timeout, connection.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        for statement in statements[:-1]:
            connection.execute(statement.query).fetchall()
        cursor = connection.execute(statements[-1].query)
        columns = [(column[0], str(column[1])) for column in cursor.description]
        rows = cursor.fetchmany(max_rows + 1) if max_rows else cursor.fetchall()
    except duckdb.InterruptException:
        raise QueryRefused(f"the query ran past the time limit of {timeout:g} s and was stopped "
                           f"({limits.QUERY_TIMEOUT_S.env} sets the limit)") from None
    except duckdb.PermissionException as error:
        raise QueryRefused(f"refused by the analysts' sandbox: {str(error).splitlines()[0]}; only the published "
                           "warehouse can be read, and no file written, attached or loaded") from None
    except duckdb.InvalidInputException as error:
        if "configuration has been locked" not in str(error):
            raise
        raise QueryRefused(f"refused by the analysts' sandbox: {str(error).splitlines()[0]}") from None
    finally:
        timer.cancel()
    truncated = bool(max_rows) and len(rows) > max_rows
    return Result(columns, rows[:max_rows] if truncated else rows, truncated, (time.perf_counter() - started) * 1000)


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


def list_tables(published: Path) -> list[tuple[str, int, str]]:
    """Every published table with its row count and its dbt description."""
    with connect(published) as connection:
        tables = connection.execute(
            "select schema_name, table_name, coalesce(comment, '') from duckdb_tables() order by 1, 2"
        ).fetchall()
        return [(f"{schema}.{table}", _count(connection, schema, table), comment) for schema, table, comment in tables]


def _count(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
    return connection.execute(f"select count(*) from {quoted}").fetchall()[0][0]
