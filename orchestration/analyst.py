"""What analysts run against the published warehouse: read-only queries and the table list.

Connections are read-only, so they take no write lock and never block a refresh. Statements other
than queries are refused before they reach DuckDB, because a read-only connection still lets COPY
or ATTACH write files elsewhere.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb

_READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
FORMATS = ("table", "csv", "json")


class QueryRefused(ValueError):
    """A statement that is not a query, or a warehouse that is not there."""


def connect(published: Path) -> duckdb.DuckDBPyConnection:
    if not published.exists():
        raise QueryRefused(f"{published} does not exist yet: run `warehouse refresh` first")
    return duckdb.connect(str(published), read_only=True)


def run_query(published: Path, sql: str, output: str = "table") -> str:
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise QueryRefused("no SQL statement given")
    refused = [s for s in statements if s.type not in _READING]
    if refused:
        kinds = ", ".join(sorted({s.type.name for s in refused}))
        raise QueryRefused(f"the published warehouse is read-only: {kinds} statements are refused; only queries (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN) run")
    with connect(published) as connection:
        for statement in statements[:-1]:
            connection.execute(statement.query).fetchall()
        cursor = connection.execute(statements[-1].query)
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    return _format(columns, rows, output)


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
            "select schema_name || '.' || table_name, coalesce(comment, '') from duckdb_tables() order by 1"
        ).fetchall()
        return [(name, connection.execute(f"select count(*) from {name}").fetchall()[0][0], comment) for name, comment in tables]
