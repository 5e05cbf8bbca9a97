"""Every path and environment variable of the warehouse, but for each source's own (in its package).

The Dagster resources, the dbt profile (through ``WAREHOUSE_BUILD_DB``) and the ``warehouse``
command all take their locations from here. Tests point ``WAREHOUSE_HOME`` at a temporary
folder to get a whole warehouse of their own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Another copy of the dbt project only for trying a change to the models beside the real one.
DBT_PROJECT_DIR = Path(os.environ.get("WAREHOUSE_DBT_PROJECT", PROJECT_ROOT / "dbt_project")).resolve()

# The schemas analysts get in the published file; everything else stays in the build area.
PUBLISHED_SCHEMAS = ("marts", "paper")


# DuckDB's memory ceiling for a refresh (build connection and dbt alike). Past it DuckDB spills to
# disk, so a full-WDI refresh stays under 2 GB of RSS; DuckDB's own default is 80% of RAM.
DUCKDB_MEMORY_LIMIT = os.environ.get("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "1GB")


def refresh_duckdb_config(spill: Path | str | None = None) -> dict[str, str]:
    """A refresh's (or an operator's) own DuckDB connection: the memory ceiling, and past it a spill
    folder of its own when given (an in-memory database's default is `.tmp` in the working folder)."""
    return {"memory_limit": DUCKDB_MEMORY_LIMIT} | ({"temp_directory": str(spill)} if spill is not None else {})


# dbt runs as a subprocess: the one installed beside this Python, whatever PATH says.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


@dataclass(frozen=True)
class Settings:
    home: Path
    snapshots_dir: Path
    # How long a refresh waits for another one to leave the build area before it gives up.
    lock_timeout_seconds: float = 3600.0
    # Each source's own settings (its Options, declared in its package), by source name. A source
    # not named here reads its options from the environment (orchestration/sources/spec.py).
    sources: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("WAREHOUSE_HOME", PROJECT_ROOT / "warehouse")).resolve()
        snapshots = Path(os.environ.get("WAREHOUSE_SNAPSHOTS", PROJECT_ROOT / "warehouse" / "snapshots"))
        return cls(
            home=home,
            snapshots_dir=snapshots.resolve(),
            lock_timeout_seconds=float(os.environ.get("WAREHOUSE_LOCK_TIMEOUT", "3600")),
        )

    @property
    def build_dir(self) -> Path:
        return self.home / "build"

    @property
    def build_db(self) -> Path:
        """Where a refresh writes and tests; analysts never read it."""
        return self.build_dir / "build.duckdb"

    @property
    def parquet_dir(self) -> Path:
        """The raw layer as Parquet, one folder per table: the dbt sources of the Spark target."""
        return self.build_dir / "parquet"

    @property
    def spark_dir(self) -> Path:
        """Where a Spark build keeps its tables and metastore."""
        return self.build_dir / "spark"

    @property
    def inbox_dir(self) -> Path:
        """Where a data engineer drops a hand-downloaded upstream file: inbox/<source>/."""
        return self.home / "inbox"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def report_dir(self) -> Path:
        """The analyst report (index.html) and the dbt docs (docs.html)."""
        return self.home / "report"

    @property
    def quality_dir(self) -> Path:
        """Great Expectations' Data Docs of the latest validation of each raw table."""
        return self.home / "quality"

    @property
    def published_db(self) -> Path:
        """What analysts open; only ever replaced whole, at the end of a successful refresh."""
        return self.home / "warehouse.duckdb"

    @property
    def build_lock(self) -> Path:
        """Held by the refresh that writes the build area, from its first step to its last."""
        return self.build_dir / "refresh.lock"

    @property
    def publications_dir(self) -> Path:
        """The last few publications, each read-only and citable by its id (orchestration/publications.py)."""
        return self.home / "publications"

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt's profiles.yml reads."""
        return {
            "WAREHOUSE_BUILD_DB": str(self.build_db),
            "WAREHOUSE_DUCKDB_MEMORY_LIMIT": DUCKDB_MEMORY_LIMIT,
            "WAREHOUSE_PARQUET_DIR": str(self.parquet_dir),
            "WAREHOUSE_SPARK_DIR": str(self.spark_dir),
        }


def dagster_home() -> Path:
    """The persistent Dagster instance of this checkout, so every refresh shows in the UI."""
    return Path(os.environ.get("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home")).resolve()


def prepare_process_environment() -> None:
    """What every entry point (the CLI, the UI, the tests) sets before it runs anything."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
