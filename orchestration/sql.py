"""SQL text that names things: an identifier quoted as DuckDB reads it, and a value as a literal."""

from __future__ import annotations

import duckdb


def quoted(name: str) -> str:
    """An identifier as SQL text, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string as an SQL literal, by DuckDB's own quoting (COMMENT ON takes no parameter)."""
    return str(duckdb.ConstantExpression(text))
