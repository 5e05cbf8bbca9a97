"""A query's answer as JSON (within the row limit), or every row as CSV or Parquet, streamed.

Downloads are written by Arrow from DuckDB's Arrow batches as they are computed, so a large answer
never sits whole in memory; CSV holds only flat values, so nested and other types Arrow's CSV
writer does not take (lists, structs, maps, intervals, blobs) are sent as DuckDB's text of them.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from orchestration.analysts import query as analyst
from orchestration.publication_record import Publication

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
# Scalar types that CSV holds as they are, and orjson writes as JSON values.
_FLAT_TYPES = {
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


def result_json(result: analyst.Result, publication: Publication) -> bytes:
    body = {
        "columns": [{"name": name, "type": kind} for name, kind in result.columns],
        "rows": result.rows,
        "publication": publication.id,
        "truncated": result.truncated,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
    if _fast_path_holds(result):
        try:
            return orjson.dumps(body, default=_plain)
        except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits, a map with other keys than text
            pass
    try:
        return json.dumps(body, default=_plain, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:  # NaN or infinity, which JSON has no number for: sent as text, never as null
        body["rows"] = [[_finite(value) for value in row] for row in result.rows]
        return json.dumps(body, default=_plain, ensure_ascii=False).encode("utf-8")


def _fast_path_holds(result: analyst.Result) -> bool:
    """Whether orjson may write the rows: it is several times faster than json, but writes NaN and
    infinity as null, which would turn a value into a missing one. So only flat columns, and no
    float column holding one."""
    if not all(kind.split("(")[0] in _FLAT_TYPES or kind in ("UUID", "INTERVAL", "BLOB") for _, kind in result.columns):
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
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def csv_needs_text(duckdb_type: str) -> bool:
    """Whether a column of this type goes into CSV as DuckDB's text of it."""
    return duckdb_type.split("(")[0] not in _FLAT_TYPES


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken as they come, and which knows how many it took."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def encode(stream: analyst.Stream, fmt: str) -> Iterator[bytes]:
    """The stream's batches as ``fmt`` (csv or parquet), in pieces as they are written."""
    drain = _Drain()
    sink = pa.PythonFile(drain, mode="w")
    writer = pa_csv.CSVWriter(sink, stream.schema) if fmt == "csv" else pq.ParquetWriter(sink, stream.schema)
    for batch in stream.batches:
        writer.write_batch(batch)
        if data := drain.take():
            yield data
    writer.close()
    yield drain.take()
