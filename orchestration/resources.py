"""The resource that tells every asset where the warehouse lives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.settings import Settings


class WarehouseResource(dg.ConfigurableResource):
    """The build area of one warehouse: its snapshots, build database and published file."""

    home: str
    snapshots_dir: str
    worldbank_api_url: str
    datareportal_base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            home=str(settings.home),
            snapshots_dir=str(settings.snapshots_dir),
            worldbank_api_url=settings.worldbank_api_url,
            datareportal_base_url=settings.datareportal_base_url,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home),
            snapshots_dir=Path(self.snapshots_dir),
            worldbank_api_url=self.worldbank_api_url,
            datareportal_base_url=self.datareportal_base_url,
        )

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed on exit so dbt can open it next."""
        settings = self.settings
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(settings.build_db))
        try:
            yield connection
        finally:
            connection.close()

    def replace_table(self, schema: str, table: str, frame: pd.DataFrame) -> int:
        """Swap in a whole new raw table in one transaction: readers see the old or the new."""
        with self.build_connection() as connection:
            connection.execute(f"create schema if not exists {schema}")
            connection.register("incoming", frame)
            connection.execute("begin transaction")
            connection.execute(f"create or replace table {schema}.{table} as select * from incoming")
            connection.execute("commit")
            connection.unregister("incoming")
            return connection.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
