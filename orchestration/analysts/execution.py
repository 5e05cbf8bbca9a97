"""Running an analyst query: its answer within the row limit, or every row as Arrow batches for a
download. Either way under the time limit (deadline.py), on a sandboxed connection (sandbox.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from orchestration import limits
from orchestration.analysts.deadline import TimeLimit
from orchestration.analysts.sandbox import QueryInvalid, QueryRefused, connect, statement_of
from orchestration.sql import quoted

if TYPE_CHECKING:
    import pyarrow as pa


class QueryTooLarge(QueryRefused):
    """A query that needed more memory than the analysts' ceiling."""


@contextmanager
def calling(limit: TimeLimit) -> Iterator[None]:
    """A call into DuckDB within the query's time; what the sandbox refused comes out as QueryRefused."""
    try:
        with limit.running():
            yield
    except duckdb.PermissionException as error:
        raise QueryRefused(
            f"refused by the analysts' sandbox: {str(error).splitlines()[0]}; only the published "
            "warehouse can be read, and no file written, attached or loaded"
        ) from None
    except duckdb.InvalidInputException as error:
        if "configuration has been locked" not in str(error):
            raise
        raise QueryRefused(f"refused by the analysts' sandbox: {str(error).splitlines()[0]}") from None
    except OSError as error:  # DuckDB's error as an Arrow stream reports it: the SQL failed as it ran
        raise QueryInvalid(f"the query failed: {error}") from None
    except duckdb.OutOfMemoryException:
        raise QueryTooLarge(
            f"the query needed more memory than the analysts' ceiling of {limits.QUERY_MEMORY.value()} "
            f"({limits.QUERY_MEMORY.env}), shared by the queries running at once; analyst queries never spill "
            "to disk: filter, aggregate or select fewer columns"
        ) from None


@dataclass(frozen=True)
class Result:
    columns: list[tuple[str, str]]  # name and DuckDB type
    rows: list[tuple]
    truncated: bool  # more rows than the row limit: the rest were not returned
    elapsed_ms: float


def execute(connection: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run the query ``sql`` on an analyst connection within the time and row limits."""
    statement = statement_of(sql)
    max_rows = limits.QUERY_MAX_ROWS.value()
    started = time.perf_counter()
    with calling(TimeLimit(connection)):
        cursor = connection.execute(statement)  # streamed: fetchmany computes only the rows it takes
        columns = [(column[0], str(column[1])) for column in cursor.description]
        rows = cursor.fetchmany(max_rows + 1) if max_rows else cursor.fetchall()
    truncated = bool(max_rows) and len(rows) > max_rows
    return Result(columns, rows[:max_rows] if truncated else rows, truncated, (time.perf_counter() - started) * 1000)


def run_query(published: Path, sql: str) -> Result:
    """``sql`` on its own analyst connection to ``published`` (the command line's door)."""
    statement_of(sql)  # refused before the file is opened
    with connect(published) as connection:
        return execute(connection, sql)


class Stream:
    """Every row of a query as Arrow batches, each computed when it is asked for, under the query's
    time limit; no row limit. ``close`` lets go of DuckDB's reader at once, read to the end or not."""

    def __init__(self, reader: pa.RecordBatchReader, limit: TimeLimit, first: pa.RecordBatch | None):
        self.schema, self._reader, self._limit, self._next = reader.schema, reader, limit, first

    def next_batch(self) -> pa.RecordBatch | None:
        """The next batch, or None after the last."""
        batch, self._next = self._next, None
        if batch is None and self._reader is not None:
            with calling(self._limit):
                batch = _read(self._reader)
        if batch is None:
            self.close()
        return batch

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def stream(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    as_text: Callable[[str], bool] | None = None,
    batch_rows: int = 65_536,
) -> Stream:
    """Every row of ``sql`` (for downloads), with the columns whose DuckDB type ``as_text`` names cast
    to text. The first batch is computed here, so a query that is refused, fails or runs out of
    time says so before anything is sent."""
    statement = statement_of(sql)
    limit = TimeLimit(connection)
    with calling(limit):
        relation = connection.sql(statement.query)
        if as_text and any(as_text(str(kind)) for kind in relation.types):
            relation = relation.project(
                ", ".join(
                    f"{quoted(name)}::varchar as {quoted(name)}" if as_text(str(kind)) else quoted(name)
                    for name, kind in zip(relation.columns, relation.types)
                )
            )
        reader = relation.to_arrow_reader(batch_rows)
        try:
            first = _read(reader)
        except BaseException:
            reader.close()
            raise
    return Stream(reader, limit, first)


def _read(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
