"""Every gate result, pass or fail, kept as a table: `raw.gate_results` in the build database,
published as `meta.gate_results`, shown by `warehouse status`."""

from __future__ import annotations

from datetime import datetime

import duckdb

from orchestration.publications import copy_path
from orchestration.settings import Settings
from orchestration.warehouse import table_exists

BUILD_TABLE = "raw.gate_results"
PUBLISHED_TABLE = "meta.gate_results"


def record(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    table: str,
    passed: bool,
    validated: bool,
    evaluated: int,
    failures: list[str],
) -> None:
    """One gate's verdict in one run; ``validated`` is false when it passed as unchanged since a pass."""
    connection.execute(
        f"create table if not exists {BUILD_TABLE} (run_id varchar, checked_at timestamp, table_name varchar, "
        "passed boolean, validated boolean, expectations integer, failed integer, failures varchar)"
    )
    connection.execute(
        f"insert into {BUILD_TABLE} values (?, now()::timestamp, ?, ?, ?, ?, ?, ?)",
        [run_id, table, passed, validated, evaluated, len(failures), "\n".join(failures) or None],
    )


def recent(
    settings: Settings, tables: list[str], limit: int = 3
) -> tuple[list[tuple[datetime, str, str, bool, int, int, str | None]], str]:
    """The latest results of ``tables``, newest first, and where they were read: the build database,
    or the build area's copy of the published file while a refresh holds the build database open."""
    query = (
        "select checked_at, run_id, table_name, passed, expectations, failed, failures from {} "
        "where table_name in (select unnest(?)) order by checked_at desc limit ?"
    )
    for path, table, where in (
        (settings.build_db, BUILD_TABLE, "build database"),
        (copy_path(settings), PUBLISHED_TABLE, "published file"),
    ):
        if not path.exists():
            continue
        try:
            with duckdb.connect(str(path), read_only=True) as connection:
                if table_exists(connection, *table.split(".")):
                    return connection.execute(query.format(table), [tables, limit]).fetchall(), where
        except duckdb.IOException:  # a refresh holds the build database: fall back to the published history
            continue
    return [], "nowhere yet"
