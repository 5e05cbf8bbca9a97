"""Downloads: every row of a query as CSV or Parquet, written by Arrow from DuckDB's Arrow batches
as they are computed, so a large answer never sits whole in memory. CSV holds only flat values, so
nested and other types Arrow's CSV writer does not take (lists, structs, maps, intervals, blobs)
are sent as DuckDB's text of them; so are the intervals and unions Parquet's writer does not take.

A Parquet file says, in the metadata pandas reads, that its integer, boolean and floating-point
columns are pandas' nullable types: read with pandas (or frictionless, which reads through it), a
missing value stays missing and an integer an integer, instead of both becoming a float NaN.

A download that fails after its first byte cannot change its status any more: it is cut off, and
the connection closes without the end of the chunked body, which every HTTP client reports as an
incomplete answer. Parquet's footer is written last, so a cut Parquet file never reads as whole.
"""

from __future__ import annotations

import io
import json
from importlib.metadata import version

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from orchestration.analysts.encoding import FLAT_TYPES

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


# Arrow types Parquet's writer does not take: sent as DuckDB's text of them.
_NOT_IN_PARQUET = ("INTERVAL", "UNION")


def csv_needs_text(duckdb_type: str) -> bool:
    """Whether a column of this type goes into CSV as DuckDB's text of it."""
    return duckdb_type.split("(")[0] not in FLAT_TYPES


def parquet_needs_text(duckdb_type: str) -> bool:
    """Whether a column of this type goes into Parquet as DuckDB's text of it (anywhere inside it)."""
    return any(kind in duckdb_type for kind in _NOT_IN_PARQUET)


AS_TEXT = {"csv": csv_needs_text, "parquet": parquet_needs_text}


class Drain(io.RawIOBase):
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


class Encoder:
    """Batches in, the bytes of ``fmt`` (csv or parquet) out, as they are written."""

    def __init__(self, schema: pa.Schema, fmt: str):
        self._drain = Drain()
        sink = pa.PythonFile(self._drain, mode="w")
        if fmt == "csv":
            self._writer = pa_csv.CSVWriter(sink, schema)
        else:
            self._writer = pq.ParquetWriter(sink, schema.with_metadata({b"pandas": _pandas_metadata(schema)}))

    def write(self, batch: pa.RecordBatch) -> bytes:
        self._writer.write_batch(batch)
        return self._drain.take()

    def finish(self) -> bytes:
        """The last bytes (Parquet's footer), once every batch is written."""
        self._writer.close()
        return self._drain.take()


def _pandas_metadata(schema: pa.Schema) -> bytes:
    """pandas' own metadata, naming the nullable type of each integer, boolean and float column."""
    columns = []
    for field in schema:
        kind = field.type
        if pa.types.is_integer(kind):
            unsigned = pa.types.is_unsigned_integer(kind)
            plain, dtype = (
                f"{'u' if unsigned else ''}int{kind.bit_width}",
                f"{'UInt' if unsigned else 'Int'}{kind.bit_width}",
            )
        elif pa.types.is_boolean(kind):
            plain, dtype = "bool", "boolean"
        elif pa.types.is_float32(kind) or pa.types.is_float64(kind):
            plain, dtype = f"float{kind.bit_width}", f"Float{kind.bit_width}"
        else:
            continue
        columns.append(
            {"name": field.name, "field_name": field.name, "pandas_type": plain, "numpy_type": dtype, "metadata": None}
        )
    # The version without importing pandas: the served door's downloads need not load it.
    metadata = {"index_columns": [], "column_indexes": [], "columns": columns, "pandas_version": version("pandas")}
    return json.dumps(metadata).encode("utf-8")
