"""An answer as the analysts' doors write it: JSON (one encoder for the command line and HTTP),
CSV, or a plain table for the terminal.

JSON has no number for NaN or infinity: they are written as the strings "NaN", "Infinity" and
"-Infinity", never as null, which would turn a value into a missing one. Decimals are numbers,
bytes hexadecimal, dates and times ISO 8601, anything else DuckDB returns (UUIDs, intervals) its text.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import orjson

from orchestration.analysts.execution import Result

# Scalar types that CSV holds as they are, and orjson writes as JSON values.
FLAT_TYPES = {
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "VARCHAR",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def answer_json(result: Result, publication_id: str) -> bytes:
    """The served answer: columns, rows (lists), the publication, whether cut off, and the time."""
    body = {
        "columns": [{"name": name, "type": kind} for name, kind in result.columns],
        "rows": result.rows,
        "publication": publication_id,
        "truncated": result.truncated,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
    return _dumps(body, result)


def records_json(result: Result) -> bytes:
    """The command line's answer: an array of objects, a key per column."""
    names = [name for name, _ in result.columns]
    return _dumps([dict(zip(names, row)) for row in result.rows], result, indent=True) + b"\n"


def document_json(body, indent: bool = False) -> bytes:
    """Any other document the doors write (a diff, a data package's descriptor), by the same rules."""
    options = {"default": _plain, "ensure_ascii": False, "indent": 2 if indent else None}
    return json.dumps(_finite(body), allow_nan=False, **options).encode("utf-8")


def _dumps(body, result: Result, indent: bool = False) -> bytes:
    if _exact_in_orjson(result):
        try:
            return orjson.dumps(body, default=_plain, option=orjson.OPT_INDENT_2 if indent else 0)
        except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits, a map with other keys than text
            pass
    options = {"default": _plain, "ensure_ascii": False, "indent": 2 if indent else None}
    try:
        return json.dumps(body, allow_nan=False, **options).encode("utf-8")
    except ValueError:  # NaN or infinity somewhere, perhaps inside a list or struct
        return json.dumps(_finite(body), allow_nan=False, **options).encode("utf-8")


def _exact_in_orjson(result: Result) -> bool:
    """Whether orjson may write the rows: several times faster than json, but it writes NaN and
    infinity as null. So only flat columns, and no float column holding one."""
    if not all(kind.split("(")[0] in FLAT_TYPES or kind in ("UUID", "INTERVAL", "BLOB") for _, kind in result.columns):
        return False
    floats = [i for i, (_, kind) in enumerate(result.columns) if kind in ("DOUBLE", "FLOAT")]
    return all(math.isfinite(row[i]) for row in result.rows for i in floats if row[i] is not None)


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)  # UUID and any other scalar DuckDB returns


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def text(result: Result, output: str) -> str:
    """The answer as the command line prints it: ``table``, ``csv`` or ``json``."""
    columns = [name for name, _ in result.columns]
    if output == "json":
        return records_json(result).decode("utf-8")
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(result.rows)
        return buffer.getvalue()
    return _table(columns, result.rows)


def _table(columns: list[str], rows: list[tuple]) -> str:
    cells = [columns] + [["NULL" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"
