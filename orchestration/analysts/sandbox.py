"""The analysts' connection: every door that serves analysts opens the published warehouse here.

It is sandboxed by DuckDB's own configuration, whatever the SQL says: read-only, no file but the
publication (no read_csv of a local file, no COPY, no ATTACH, no EXPORT), no extension installed
or loaded, and the configuration locked so no SET undoes any of it. Spilling is off as well
(``temp_directory`` empty): DuckDB allows its own spill folder even with external access off, so
with one a query could write there; without one, no analyst query writes any file, and a query
past the memory ceiling fails saying so instead of filling a disk.

The statement filter comes first only so that the message is plain: one statement, a query, and
what EXPLAIN explains is a query too (EXPLAIN ANALYZE runs it). The configuration is what holds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration import limits

# SUMMARIZE, DESCRIBE, SHOW and FROM-first queries are SELECTs to DuckDB's parser.
_READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class QueryRefused(ValueError):
    """A statement that is not a query, a query past a limit, or a warehouse that is not there."""


class QueryInvalid(QueryRefused):
    """SQL that does not parse, or not exactly one statement."""


def config() -> dict[str, object]:
    """DuckDB settings of an analyst connection; ``lock_configuration`` last, so nothing can change them."""
    return {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "temp_directory": "",
        "memory_limit": limits.QUERY_MEMORY.value(),
        "threads": limits.QUERY_THREADS.value(),
        "lock_configuration": True,
    }


def connect(published: Path) -> duckdb.DuckDBPyConnection:
    if not published.exists():
        raise QueryRefused(f"{published} does not exist yet: run `warehouse refresh` first")
    return duckdb.connect(str(published), read_only=True, config=config())


def statement_of(sql: str) -> duckdb.Statement:
    """The one statement of ``sql``, if it is a query; otherwise QueryRefused saying why.

    One statement only: a statement before the last could change nothing in a read-only
    warehouse, and its rows would have to be fetched and dropped outside every limit."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryInvalid(f"the SQL does not parse: {error}") from None
    if not statements:
        raise QueryInvalid("no SQL statement given")
    refused = sorted({s.type.name for s in statements if s.type not in _READING})
    if refused:
        raise QueryRefused(
            f"the published warehouse is read-only: {', '.join(refused)} statements are refused; "
            "only queries (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) run"
        )
    if len(statements) > 1:
        raise QueryInvalid(
            f"{len(statements)} statements given: send one query at a time (a statement before the last "
            "could change nothing in the read-only warehouse)"
        )
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        _explained_is_a_query(statement.query)
    return statement


def _explained_is_a_query(sql: str) -> None:
    """EXPLAIN ANALYZE runs the statement it explains: that statement must be a query as well. It
    follows EXPLAIN [ANALYZE], or a parenthesised list of options after it."""
    spans = _spans(sql)
    words = [sql[start:end].strip().lower() for start, end in spans]
    index = words.index("explain") + 1 if "explain" in words else len(words)
    if index < len(words) and words[index] in ("analyze", "analyse"):
        index += 1
    candidates = [index]
    if index < len(words) and words[index] == "(":
        depth = 0
        for end in range(index, len(words)):
            depth += (words[end] == "(") - (words[end] == ")")
            if depth == 0:
                candidates.append(end + 1)
                break
    for start in candidates:
        if start < len(spans) and _one_select(sql[spans[start][0] :]):
            return
    raise QueryRefused("the published warehouse is read-only: EXPLAIN is allowed over a query only")


def _spans(sql: str) -> list[tuple[int, int]]:
    """Where each of DuckDB's tokens of ``sql`` starts and ends (comments are not tokens)."""
    starts = [start for start, _ in duckdb.tokenize(sql)]
    return list(zip(starts, [*starts[1:], len(sql)]))


def _one_select(sql: str) -> bool:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return False
    return len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT
