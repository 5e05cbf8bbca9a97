"""The resource that tells every asset where the warehouse lives."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

# Not exported at dagster's top level in 1.13; dagster-dbt imports it from here too (tests/test_lineage.py guards it).
from dagster._core.definitions.metadata import TableMetadataSet
from filelock import FileLock, Timeout

from orchestration import publishing
from orchestration.changes import FULL_TAG, code_fingerprint, published_run
from orchestration.runs import failure_reason
from orchestration.settings import DUCKDB_MEMORY_LIMIT, Settings
from orchestration.sources import staging
from orchestration.sources.registry import SOURCES


class RefreshLockedError(RuntimeError):
    """Another refresh held the build area for longer than a refresh waits."""


def verify_snapshots(settings: Settings, full: bool = False) -> None:
    """Check every source's snapshot set byte for byte against its records: a file that differs
    stops the refresh before anything runs, naming the file. ``full`` hashes every byte again."""
    hashes = staging.hash_cache(settings)
    if full:
        hashes.forget()
    for spec in SOURCES.values():
        staging.candidate(settings, spec, hashes)
    hashes.save()


def table_metadata(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict:
    """What the UI shows of a build table: its row count and its columns with their DuckDB types."""
    count = connection.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
    columns = connection.execute(
        "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    schema_value = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])
    return dict(TableMetadataSet(row_count=count, column_schema=schema_value, table_name=f"build.{schema}.{table}"))


def settle_leftovers(settings: Settings, run_id: str, instance: dg.DagsterInstance, log: dg.DagsterLogManager) -> None:
    """What an earlier, killed run left behind: its publication completed or forgotten, what it
    staged promoted if it published (a promotion is completed where it stopped), otherwise kept as
    rejected with the reason from its log; then the temporary files of its writes removed."""
    said = publishing.recover(settings)
    if said:
        log.warning(said)
    published = published_run(settings)
    for name, spec in SOURCES.items():
        staged_by = staging.staged_run(settings, name)
        if staged_by is None or staged_by == run_id:
            continue
        if staged_by == published:
            promoted = staging.promote(settings, spec)
            log.warning(
                f"{name}: completed the promotion of {', '.join(promoted)}, staged by run {staged_by}, which published them"
            )
        else:
            kept = staging.reject(settings, name, failure_reason(instance, staged_by))
            log.warning(f"{name}: what run {staged_by} staged did not publish; kept in {kept}")
    staging.sweep_leftovers(settings, list(SOURCES))


class WarehouseResource(dg.ConfigurableResource):
    """The build area of one warehouse: its snapshots, build database and published file.

    A run that uses it holds an exclusive lock on the build area from its first step to its last,
    so two refreshes (from the command line, the UI or a schedule) never write the build database
    at once: the second waits for the first (up to WAREHOUSE_LOCK_TIMEOUT), saying whom it waits for.
    """

    home: str
    snapshots_dir: str
    worldbank_api_url: str
    datareportal_base_url: str
    worldbank_config: str
    datareportal_config: str
    un_egov_url_template: str
    lock_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            **{
                name: value if isinstance(value, (str, float)) else str(value)
                for name, value in asdict(settings).items()
            }
        )

    @property
    def settings(self) -> Settings:
        paths = {"home", "snapshots_dir", "worldbank_config", "datareportal_config"}
        values = {field.name: getattr(self, field.name) for field in fields(Settings)}
        return Settings(**{name: Path(value) if name in paths else value for name, value in values.items()})

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Generator[WarehouseResource, None, None]:
        settings = self.settings
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        run_id = context.run_id if context and context.run_id else "no run"
        with self._exclusive(settings, run_id, context.log if context else None):
            if context and context.instance:
                settle_leftovers(settings, run_id, context.instance, context.log)
            full = bool(context and context.dagster_run and context.dagster_run.tags.get(FULL_TAG) == "true")
            verify_snapshots(settings, full)
            yield self

    @staticmethod
    @contextmanager
    def _exclusive(settings: Settings, run_id: str, log) -> Iterator[None]:
        """Hold the build area for the whole run; a second refresh waits its turn, boundedly."""
        lock = FileLock(settings.build_lock)
        holder = settings.build_dir / "refresh.holder"
        try:
            lock.acquire(timeout=0)
        except Timeout:
            who = holder.read_text(encoding="utf-8").strip() if holder.exists() else "unknown"
            if log:
                log.info(
                    f"waiting for the refresh that holds {settings.build_dir} ({who}), up to {settings.lock_timeout_seconds:.0f} s"
                )
            try:
                lock.acquire(timeout=settings.lock_timeout_seconds)
            except Timeout:
                raise RefreshLockedError(
                    f"another refresh has held {settings.build_dir} for over {settings.lock_timeout_seconds:.0f} s ({who}); "
                    "this one gave up without touching anything (WAREHOUSE_LOCK_TIMEOUT sets the wait)"
                ) from None
        try:
            holder.write_text(
                f"pid {os.getpid()}, run {run_id}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
                encoding="utf-8",
            )
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

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
        """Note which snapshot set of a source, read by which code, the build database now holds (see changes.py)."""
        with self.build_connection() as connection:
            connection.execute("create schema if not exists raw")
            connection.execute(
                "create table if not exists raw.loaded_snapshots "
                "(source varchar primary key, fingerprint varchar, code_fingerprint varchar, loaded_at timestamp)"
            )
            connection.execute(
                "insert or replace into raw.loaded_snapshots values (?, ?, ?, now()::timestamp)",
                [source, fingerprint, code_fingerprint()],
            )

    def table_metadata(self, schema: str, table: str) -> dict:
        with self.build_connection() as connection:
            return table_metadata(connection, schema, table)

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
