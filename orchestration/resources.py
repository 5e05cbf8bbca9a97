"""The resource that tells every asset where the warehouse lives."""

from __future__ import annotations

import fcntl
import os
from dataclasses import asdict
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.settings import DUCKDB_MEMORY_LIMIT, Settings


class RefreshLockedError(RuntimeError):
    """Another refresh holds the build area."""


class WarehouseResource(dg.ConfigurableResource):
    """The build area of one warehouse: its snapshots, build database and published file.

    A run that uses it holds an exclusive lock on the build area from its first step to its last,
    so two refreshes (from the command line, the UI or a schedule) never write the build database
    at once: the second is refused at start with a message saying who holds the lock.
    """

    home: str
    snapshots_dir: str
    worldbank_api_url: str
    datareportal_base_url: str
    worldbank_config: str

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(**{name: str(value) for name, value in asdict(settings).items()})

    @property
    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home),
            snapshots_dir=Path(self.snapshots_dir),
            worldbank_api_url=self.worldbank_api_url,
            datareportal_base_url=self.datareportal_base_url,
            worldbank_config=Path(self.worldbank_config),
        )

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Generator[WarehouseResource, None, None]:
        settings = self.settings
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        lock_path = settings.build_dir / "refresh.lock"
        with lock_path.open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "unknown"
                raise RefreshLockedError(
                    f"another refresh is running on {settings.build_dir} ({holder}); "
                    "this one did not start. Wait for it to finish, then run again."
                ) from None
            lock.seek(0)
            lock.truncate()
            run = context.run_id if context and context.run_id else "no run"
            lock.write(f"pid {os.getpid()}, run {run}, since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
            lock.flush()
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed on exit so dbt can open it next."""
        settings = self.settings
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(settings.build_db), config={"memory_limit": DUCKDB_MEMORY_LIMIT})
        try:
            yield connection
        finally:
            connection.close()

    def record_loaded(self, source: str, fingerprint: str) -> None:
        """Note which snapshot set of a source the build database now holds (see changes.py)."""
        with self.build_connection() as connection:
            connection.execute("create schema if not exists raw")
            connection.execute(
                "create table if not exists raw.loaded_snapshots (source varchar primary key, fingerprint varchar, loaded_at timestamp)"
            )
            connection.execute(
                "insert or replace into raw.loaded_snapshots values (?, ?, now()::timestamp)", [source, fingerprint]
            )

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
