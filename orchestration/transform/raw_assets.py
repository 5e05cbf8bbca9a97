"""Each source's raw tables as Dagster assets, made from its SPEC: the source's loader fills them
from the run's snapshot set, in the build database, when that set or the code changed (changes.py)."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from orchestration.run_context import is_full, say
from orchestration.snapshots.sets import run_set
from orchestration.sources.spec import LoadRequest, SourceSpec
from orchestration.transform.changes import code_fingerprint, load_line, load_reason, may_merge
from orchestration.warehouse import DATA_OWNERS, Warehouse, table_metadata


def raw_assets(spec: SourceSpec) -> dg.AssetsDefinition:
    snapshots = dg.AssetKey(["snapshots", spec.name])

    @dg.multi_asset(
        name=f"{spec.name}_raw",
        specs=[
            dg.AssetSpec(
                ["raw", table.name],
                deps=[snapshots],
                kinds={"python", "duckdb"},
                description=table.description,
                owners=DATA_OWNERS,
                # How stale its raw tables may get before the UI shows them overdue.
                freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.fresh_for),
            )
            for table in spec.raw_tables
        ],
        group_name=spec.name,
    )
    def _raw(
        context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse]
    ) -> Iterator[dg.MaterializeResult]:
        snapshot_set = run_set(warehouse, spec)
        fingerprint = snapshot_set.fingerprint
        with warehouse.build_connection() as connection:
            if not needs_load(context, connection, spec.name, fingerprint):
                results = [unchanged(connection, table.name, fingerprint) for table in spec.raw_tables]
            else:
                merge = may_merge(connection, spec.name, is_full(context))
                loaded = spec.load(LoadRequest(connection, warehouse.settings, snapshot_set, merge))
                replace_tables(connection, loaded.tables)
                record_loaded(connection, spec.name, fingerprint)
                say(context, f"{spec.name}: {loaded.message}")
                results = [
                    dg.MaterializeResult(
                        asset_key=["raw", table.name],
                        metadata={
                            "loaded": True,
                            "snapshot_fingerprint": fingerprint,
                            **loaded.metadata.get(table.name, {}),
                            **table_metadata(connection, "raw", table.name),
                        },
                        data_version=dg.DataVersion(fingerprint),
                    )
                    for table in spec.raw_tables
                ]
        yield from results

    return _raw


def needs_load(
    context: dg.AssetExecutionContext, connection: duckdb.DuckDBPyConnection, name: str, fingerprint: str
) -> bool:
    """Whether raw input ``name`` must be (re)loaded; logs the decision either way (changes.py)."""
    reason = load_reason(connection, name, fingerprint, is_full(context))
    say(context, load_line(name, fingerprint, reason))
    return reason is not None


def unchanged(connection: duckdb.DuckDBPyConnection, table: str, fingerprint: str) -> dg.MaterializeResult:
    """The result of a raw asset whose table is already current: same data version, nothing loaded."""
    return dg.MaterializeResult(
        asset_key=["raw", table],
        data_version=dg.DataVersion(fingerprint),
        metadata={"loaded": False, "snapshot_fingerprint": fingerprint, **table_metadata(connection, "raw", table)},
    )


def replace_tables(connection: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]) -> None:
    """Swap in whole new raw tables in one transaction: readers see the old ones or the new."""
    connection.execute("create schema if not exists raw")
    connection.execute("begin transaction")
    for name, frame in tables.items():
        connection.register("incoming", frame)
        connection.execute(f"create or replace table raw.{name} as select * from incoming")
        connection.unregister("incoming")
    connection.execute("commit")


def record_loaded(connection: duckdb.DuckDBPyConnection, name: str, fingerprint: str) -> None:
    """Note which snapshot set of raw input ``name``, read by which code, the build database now holds."""
    connection.execute("create schema if not exists raw")
    connection.execute(
        "create table if not exists raw.loaded_snapshots "
        "(source varchar primary key, fingerprint varchar, code_fingerprint varchar, loaded_at timestamp)"
    )
    connection.execute(
        "insert or replace into raw.loaded_snapshots values (?, ?, ?, now()::timestamp)",
        [name, fingerprint, code_fingerprint()],
    )
