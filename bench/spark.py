"""The scale-out path at size (`python -m bench --spark`): a warehouse refreshed from a synthetic
whole-WDI zip, its models built again by dbt on DuckDB and on Apache Spark (dbt-spark's session
method, PySpark in local mode), and every published table compared inside DuckDB
(orchestration/transform/spark.py), in bounded memory."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measured, python
from bench.refresh import environment, refresh
from bench.synthetic_wdi import write_snapshot_set

# Each engine's `dbt build` (every model, seed and test) as its own process, from the same raw layer.
BUILD = """
import os, subprocess, sys
from orchestration.transform import spark
from orchestration.transform.dbt_project import DBT_PROJECT
from orchestration.settings import DBT_EXECUTABLE, Settings
settings = Settings.from_env()
if sys.argv[1] == "spark":
    spark.build(settings)
else:
    subprocess.run([DBT_EXECUTABLE, "build", "--full-refresh", "--project-dir", str(DBT_PROJECT.project_dir),
                    "--profiles-dir", str(DBT_PROJECT.profiles_dir)], env={**os.environ, **settings.dbt_env()}, check=True,
                   capture_output=True, cwd=settings.build_dir)
"""

COMPARE = """
import json
from orchestration.transform import spark
from orchestration.settings import Settings
compared = spark.compare(Settings.from_env())
print(json.dumps({"tables": compared.tables, "rows": compared.rows, "differing_rows": compared.differing_rows,
                  "differences": [d.line() for d in compared.differences]}))
"""


@dataclass(frozen=True)
class SparkRun:
    indicators: int
    rows: int  # rows of the published tables compared
    tables: int
    duckdb_build: Measured
    spark_build: Measured
    compare: Measured
    differing_rows: int
    differences: list[str]

    def json(self) -> dict:
        return {
            "indicators": self.indicators,
            "duckdb_build_s": round(self.duckdb_build.wall_s, 1),
            "spark_build_s": round(self.spark_build.wall_s, 1),
            "differing_rows": self.differing_rows,
            "tables": self.tables,
            "rows": self.rows,
            "compare_s": round(self.compare.wall_s, 1),
            "compare_peak_rss_mb": round(self.compare.peak_rss_mb),
        }


def measure(indicators: int) -> SparkRun:
    root = Path(tempfile.mkdtemp(prefix=f"bench-spark-{indicators}-"))
    try:
        config = write_snapshot_set(root / "snapshots", indicators)
        env = environment(
            root / "run", WAREHOUSE_SNAPSHOTS=str(root / "snapshots"), WAREHOUSE_WORLDBANK_CONFIG=str(config)
        )
        refresh(env)  # the build area, with the raw layer's Parquet export that Spark reads
        duckdb_build = python(BUILD, "duckdb", env=env)
        spark_build = python(BUILD, "spark", env=env)
        compared = python(COMPARE, env=env)
        found = json.loads(compared.stdout.strip().splitlines()[-1])
        return SparkRun(
            indicators,
            found["rows"],
            found["tables"],
            duckdb_build,
            spark_build,
            compared,
            found["differing_rows"],
            found["differences"],
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
