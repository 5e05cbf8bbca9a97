"""The same dbt project on Apache Spark, and the proof that it gives the same tables as DuckDB.

`build(settings)` exports the raw layer of the build database as Parquet, one folder per dbt
source table (only here: a refresh that no Spark build reads need not pay for it), then runs
`dbt build --target spark` (dbt-spark's `session` method: PySpark in local mode) over it. `compare(settings)` sets every table of the published
schemas in the DuckDB build beside the Parquet that Spark wrote for it, inside DuckDB, so memory
stays bounded at any size (DuckDB sorts and joins out of core): column names, then the rows
paired in one order, every value equal, floats within 1e-9 relative.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from filelock import FileLock

from orchestration.settings import DBT_EXECUTABLE, PUBLISHED_SCHEMAS, Settings, refresh_duckdb_config
from orchestration.transform.dbt_project import DBT_PROJECT

RELATIVE_TOLERANCE = 1e-9
# Two floats that should be zero may differ by rounding noise; "relative" means nothing there.
ABSOLUTE_TOLERANCE = 1e-12
# Rows are paired after sorting by their exact columns, then by their floats at this many
# significant digits, so rounding noise past the tolerance cannot reorder them between engines.
SORT_DIGITS = 8
_FLOATS = ("FLOAT", "DOUBLE", "DECIMAL")


class SparkBuildError(RuntimeError):
    """dbt could not build the project on Spark; the message carries dbt's own output."""


@dataclass(frozen=True)
class Difference:
    table: str
    column: str | None  # None: the table as a whole (missing, column names)
    detail: str

    def line(self) -> str:
        return f"{self.table}.{self.column}: {self.detail}" if self.column else f"{self.table}: {self.detail}"


@dataclass
class Comparison:
    """What differs between the engines, and how many rows of the DuckDB build or Spark's do."""

    differences: list[Difference] = field(default_factory=list)
    differing_rows: int = 0
    tables: int = 0
    rows: int = 0  # in the DuckDB build, over the tables compared

    def add(self, other: Comparison) -> None:
        self.differences += other.differences
        self.differing_rows += other.differing_rows
        self.tables += other.tables
        self.rows += other.rows


def raw_sources() -> list[tuple[str, str]]:
    """(schema, table) of every dbt source, from the parsed manifest."""
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))
    return sorted({(source["schema"], source["identifier"]) for source in manifest["sources"].values()})


def export_raw_layer(settings: Settings) -> dict[str, int]:
    """Each dbt source table of the build database as ``parquet_dir/<schema>/<table>/part-0.parquet``
    (what macros/register_raw_parquet.sql registers on Spark); the rows of each, by table."""
    if not settings.build_db.exists():
        raise SparkBuildError(f"{settings.build_db}: no build database to export; run a refresh first")
    counts = {}
    # Held as a refresh holds it: the export reads one load of the raw layer, not half of two.
    with (
        FileLock(settings.build_lock, timeout=settings.lock_timeout_seconds),
        duckdb.connect(str(settings.build_db), read_only=True) as connection,
    ):
        for schema, table in raw_sources():
            folder = settings.parquet_dir / schema / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            connection.execute(f'copy {schema}."{table}" to ? (format parquet)', [str(folder / "part-0.parquet")])
            counts[f"{schema}.{table}"] = connection.execute(f'select count(*) from {schema}."{table}"').fetchall()[0][
                0
            ]
    return counts


def build(settings: Settings) -> Path:
    """The raw layer exported, then every model, seed and test on Spark, from a clean Spark folder.
    Returns the tables' folder."""
    export_raw_layer(settings)
    shutil.rmtree(settings.spark_dir, ignore_errors=True)
    settings.spark_dir.mkdir(parents=True)
    done = subprocess.run(
        [
            DBT_EXECUTABLE,
            "build",
            "--target",
            "spark",
            "--target-path",
            str(settings.spark_dir / "target"),
            "--log-path",
            str(settings.spark_dir / "logs"),
            "--project-dir",
            str(DBT_PROJECT.project_dir),
            "--profiles-dir",
            str(DBT_PROJECT.profiles_dir),
        ],
        cwd=settings.spark_dir,
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        # PySpark logs JSON lines with whole Java stacks; dbt's own lines say what failed.
        lines = [line for line in done.stdout.splitlines() if not line.startswith('{"ts"')]
        raise SparkBuildError(f"dbt build --target spark failed ({done.returncode}):\n" + "\n".join(lines[-60:]))
    return settings.spark_dir / "tables"


def compare(settings: Settings) -> Comparison:
    """Every table of the published schemas in the DuckDB build against Spark's Parquet."""
    total = Comparison()
    spill = settings.spark_dir / "compare.tmp"
    with duckdb.connect(config=refresh_duckdb_config(spill)) as connection:
        connection.execute("set enable_progress_bar = false")  # a progress bar would go to the caller's stdout
        connection.execute("attach ? as duck (read_only)", [str(settings.build_db)])
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'duck' and schema_name in "
            f"({', '.join(repr(s) for s in PUBLISHED_SCHEMAS)}) order by all"
        ).fetchall()
        for schema, table in tables:
            files = sorted((settings.spark_dir / "tables" / f"{schema}.db" / table).glob("*.parquet"))
            total.add(
                compare_table(connection, f"{schema}.{table}", f'duck.{schema}."{table}"', [str(f) for f in files])
            )
    shutil.rmtree(spill, ignore_errors=True)
    return total


def compare_table(connection: duckdb.DuckDBPyConnection, name: str, expected: str, files: list[str]) -> Comparison:
    """The relation ``expected`` against the Parquet ``files`` Spark wrote for table ``name``."""
    rows = connection.execute(f"select count(*) from {expected}").fetchall()[0][0]
    if not files:
        return Comparison([Difference(name, None, "missing from the Spark build")], rows, 1, rows)
    actual = f"read_parquet({files!r})"
    ours, theirs = _columns(connection, expected), _columns(connection, actual)
    if [c for c, _ in ours] != [c for c, _ in theirs]:
        spark_rows = connection.execute(f"select count(*) from {actual}").fetchall()[0][0]
        return Comparison(
            [Difference(name, None, f"columns differ: DuckDB {[c for c, _ in ours]}, Spark {[c for c, _ in theirs]}")],
            max(rows, spark_rows),
            1,
            rows,
        )
    floats = [a.startswith(_FLOATS) or b.startswith(_FLOATS) for (_, a), (_, b) in zip(ours, theirs)]
    pairs = ", ".join(
        f"d.c{i} as dc{i}, s.c{i} as sc{i}, {_equal(f'd.c{i}', f's.c{i}', f)} as e{i}" for i, f in enumerate(floats)
    )
    counts = ", ".join(
        f"count(*) filter (where not e{i}), "
        f"arg_min('DuckDB ' || coalesce(dc{i}::varchar, 'NULL') || ', Spark ' || coalesce(sc{i}::varchar, 'NULL'), rn) filter (where not e{i})"
        for i in range(len(ours))
    )
    result = connection.execute(f"""
        with d as ({_ordered(expected, ours, floats, ours)}), s as ({_ordered(actual, theirs, floats, ours)})
        select count(*) filter (where not ({" and ".join(f"e{i}" for i in range(len(ours)))})), {counts}
        from (select coalesce(d.rn, s.rn) as rn, {pairs} from d full join s on d.rn = s.rn)""").fetchall()[0]
    differences = [
        Difference(name, column, f"{result[1 + 2 * i]} of {rows} rows differ (first: {result[2 + 2 * i]})")
        for i, (column, _) in enumerate(ours)
        if result[1 + 2 * i]
    ]
    return Comparison(differences, result[0], 1, rows)


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in connection.execute(f"describe select * from {relation}").fetchall()]


def _ordered(relation: str, columns: list[tuple[str, str]], floats: list[bool], ours: list[tuple[str, str]]) -> str:
    """``relation``'s columns in one spelling per kind (c0, c1, ...) and numbered in one order:
    floats as doubles with NaN as NULL, instants as UTC wall-clock times (DuckDB without ICU casts
    them in UTC), anything else in the DuckDB build's type."""
    values = []
    for i, ((column, kind), is_float, (_, target)) in enumerate(zip(columns, floats, ours)):
        quoted = '"' + column.replace('"', '""') + '"'
        if is_float:
            value = f"case when isnan({quoted}::double) then null else {quoted}::double end"
        elif kind == "TIMESTAMP WITH TIME ZONE":
            value = f"{quoted}::timestamp"
        else:
            value = f"try_cast({quoted} as {target})"
        values.append(f"{value} as c{i}")
    keys = [f"c{i}" for i, f in enumerate(floats) if not f] + [
        f"printf('%.{SORT_DIGITS}g', c{i})" for i, f in enumerate(floats) if f
    ]
    return f"select *, row_number() over (order by {', '.join(keys)}) as rn from (select {', '.join(values)} from {relation})"


def _equal(a: str, b: str, is_float: bool) -> str:
    if not is_float:
        return f"({a} is not distinct from {b})"
    return (
        f"(({a} is null and {b} is null) or coalesce(abs({a} - {b}) <= greatest({ABSOLUTE_TOLERANCE}, "
        f"{RELATIVE_TOLERANCE} * greatest(abs({a}), abs({b}))), false))"
    )
