"""The same dbt project on Apache Spark, and the proof that it gives the same tables as DuckDB.

`build(settings)` runs `dbt build --target spark` (dbt-spark's `session` method: PySpark in local
mode) over the raw layer's Parquet export. `compare(settings)` reads every table of the published
schemas from both builds and lists each difference by table and column: row counts, column
names, and every value, floats within 1e-9 relative.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.dbt_project import DBT_PROJECT
from orchestration.settings import DBT_EXECUTABLE, PUBLISHED_SCHEMAS, Settings

RELATIVE_TOLERANCE = 1e-9
# Two floats that should be zero may differ by rounding noise; "relative" means nothing there.
ABSOLUTE_TOLERANCE = 1e-12
EXAMPLES = 3


class SparkBuildError(RuntimeError):
    """dbt could not build the project on Spark; the message carries dbt's own output."""


@dataclass(frozen=True)
class Difference:
    table: str
    column: str | None  # None: the table as a whole (missing, row count, column names)
    detail: str

    def line(self) -> str:
        return f"{self.table}.{self.column}: {self.detail}" if self.column else f"{self.table}: {self.detail}"


def build(settings: Settings) -> Path:
    """Every model, seed and test on Spark, from a clean Spark folder. Returns the tables' folder."""
    if not (settings.parquet_dir).exists():
        raise SparkBuildError(f"{settings.parquet_dir}: no Parquet export of the raw layer; run a refresh first")
    shutil.rmtree(settings.spark_dir, ignore_errors=True)
    settings.spark_dir.mkdir(parents=True)
    done = subprocess.run(
        [DBT_EXECUTABLE, "build", "--target", "spark", "--target-path", str(settings.spark_dir / "target"),
         "--log-path", str(settings.spark_dir / "logs"), "--project-dir", str(DBT_PROJECT.project_dir),
         "--profiles-dir", str(DBT_PROJECT.profiles_dir)],
        cwd=settings.spark_dir, env={**os.environ, **settings.dbt_env()}, capture_output=True, text=True,
    )
    if done.returncode != 0:
        # PySpark logs JSON lines with whole Java stacks; dbt's own lines say what failed.
        lines = [line for line in done.stdout.splitlines() if not line.startswith('{"ts"')]
        raise SparkBuildError(f"dbt build --target spark failed ({done.returncode}):\n" + "\n".join(lines[-60:]))
    return settings.spark_dir / "tables"


def compare(settings: Settings) -> list[Difference]:
    """Every table of the published schemas in the DuckDB build against Spark's."""
    differences = []
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in "
            f"({', '.join(repr(s) for s in PUBLISHED_SCHEMAS)}) order by all"
        ).fetchall()
        for schema, table in tables:
            expected = connection.execute(f'select * from {schema}."{table}"').df()
            actual = _spark_table(connection, settings.spark_dir / "tables" / f"{schema}.db" / table)
            differences += compare_frames(f"{schema}.{table}", expected, actual)
    return differences


def _spark_table(connection: duckdb.DuckDBPyConnection, folder: Path) -> pd.DataFrame | None:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return None
    return connection.execute("select * from read_parquet($files)", {"files": [str(f) for f in files]}).df()


def compare_frames(table: str, expected: pd.DataFrame, actual: pd.DataFrame | None) -> list[Difference]:
    if actual is None:
        return [Difference(table, None, "missing from the Spark build")]
    if list(expected.columns) != list(actual.columns):
        return [Difference(table, None, f"columns differ: DuckDB {list(expected.columns)}, Spark {list(actual.columns)}")]
    if len(expected) != len(actual):
        return [Difference(table, None, f"row count differs: DuckDB {len(expected)}, Spark {len(actual)}")]
    expected, actual = _in_one_order(_normalised(expected)), _in_one_order(_normalised(actual))
    differences = []
    for column in expected.columns:
        unequal = [i for i, (a, b) in enumerate(zip(expected[column], actual[column])) if not _equal(a, b)]
        if unequal:
            shown = "; ".join(f"row {i}: DuckDB {expected[column].iloc[i]!r}, Spark {actual[column].iloc[i]!r}" for i in unequal[:EXAMPLES])
            differences.append(Difference(table, column, f"{len(unequal)} of {len(expected)} values differ ({shown})"))
    return differences


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Python values with one spelling per kind: None for missing, float for every number with a
    fraction, UTC for timestamps (Spark writes them as instants, DuckDB as wall-clock times)."""
    def value(cell):
        if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA or cell is pd.NaT:
            return None
        if isinstance(cell, pd.Timestamp):
            cell = cell.to_pydatetime()
        if isinstance(cell, datetime) and cell.tzinfo is not None:
            return cell.astimezone(timezone.utc).replace(tzinfo=None)
        if hasattr(cell, "item"):  # numpy scalars
            return cell.item()
        return cell
    return pd.DataFrame({column: pd.Series([value(cell) for cell in frame[column].astype(object)], dtype=object)
                         for column in frame.columns})


def _in_one_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by their exact columns first, then by floats rounded past the tolerance, so
    rounding noise cannot reorder rows between the engines."""
    def key(cell):
        if cell is None:
            return (0, "")
        if isinstance(cell, float):
            return (1, float(f"{cell:.8g}"))
        return (2, str(cell))
    exact = [c for c in frame.columns if not any(isinstance(v, float) for v in frame[c])]
    inexact = [c for c in frame.columns if c not in exact]
    order = sorted(range(len(frame)), key=lambda i: [key(frame[c].iloc[i]) for c in exact + inexact])
    return frame.iloc[order].reset_index(drop=True)


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    return a == b
