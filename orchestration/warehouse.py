"""The handle every asset is given: the settings of one warehouse and its build database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb

from orchestration.settings import Settings, refresh_duckdb_config


def table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str, database: str | None = None) -> bool:
    """Whether ``schema.table`` exists, in the attached ``database`` if one is named."""
    return bool(
        connection.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ? "
            "and database_name = coalesce(?, database_name)",
            [schema, table, database],
        ).fetchall()[0][0]
    )


def table_metadata(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict:
    """What the UI shows of a build table, under Dagster's public metadata keys: its row count and
    its columns with their DuckDB types, and which refuse NULL (a contract's not_null constraint)."""
    count = connection.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
    columns = connection.execute(
        "select column_name, data_type, is_nullable from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [schema, table],
    ).fetchall()
    return {
        "dagster/row_count": dg.MetadataValue.int(count),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, kind, constraints=dg.TableColumnConstraints(nullable=nullable))
                for name, kind, nullable in columns
            ]
        ),
        "dagster/table_name": dg.MetadataValue.text(f"build.{schema}.{table}"),
    }


class Warehouse:
    """One warehouse, as a run sees it (orchestration/operations/resources.py makes one per run,
    under the build area's lock). ``memo`` keeps what a run computes once and reads in several
    steps, such as each source's snapshot set (orchestration/snapshots/sets.py)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.memo: dict[Any, Any] = {}

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed on exit so dbt can open it next."""
        self.settings.build_dir.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(self.settings.build_db), config=refresh_duckdb_config())
        try:
            yield connection
        finally:
            connection.close()

    def table_metadata(self, schema: str, table: str) -> dict:
        with self.build_connection() as connection:
            return table_metadata(connection, schema, table)


# Who answers for an asset: data engineers for what comes in and goes out (snapshots, raw tables,
# publishing, the report), analytics engineers for the dbt models.
DATA_OWNERS = ["team:data-engineering"]
MODELS_OWNERS = ["team:analytics-engineering"]
