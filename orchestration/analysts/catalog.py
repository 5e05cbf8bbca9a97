"""What a publication holds: every table with its row count, its columns and dbt's descriptions of
both (carried into the published file as DuckDB comments)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.analysts.sandbox import connect
from orchestration.sql import quoted


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    description: str
    row_count: int
    columns: list[tuple[str, str, str]]  # name, DuckDB type, description


def catalog(connection: duckdb.DuckDBPyConnection) -> list[Table]:
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
    return connection.execute(f"select count(*) from {quoted(schema)}.{quoted(table)}").fetchall()[0][0]
