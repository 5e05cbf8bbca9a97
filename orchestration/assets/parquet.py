"""The raw layer exported as Parquet, one folder per dbt source table: what the same dbt models
read when they run on Apache Spark (the `spark` target; see orchestration/spark.py)."""

import json
import shutil

import dagster as dg

from orchestration.changes import build_plan, is_full
from orchestration.dbt_project import DBT_PROJECT
from orchestration.resources import WarehouseResource


def raw_sources() -> list[tuple[str, str]]:
    """(schema, table) of every dbt source, from the manifest the dbt assets are built from."""
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))
    return sorted({(source["schema"], source["identifier"]) for source in manifest["sources"].values()})


@dg.asset(
    key=["raw_parquet"],
    deps=[dg.AssetKey(list(source)) for source in raw_sources()],
    group_name="spark",
    kinds={"parquet"},
    description="build/parquet/<schema>/<table>/: each gated raw table as Parquet, the dbt sources of the Spark target.",
    output_required=False,
)
def raw_parquet(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    root = warehouse.settings.parquet_dir
    counts = {}
    with warehouse.build_connection() as connection:
        if not build_plan(connection, warehouse.settings, is_full(context)).build and root.exists():
            return
        for schema, table in raw_sources():
            folder = root / schema / table
            incoming = folder.with_name(f".{table}.incoming")
            shutil.rmtree(incoming, ignore_errors=True)
            incoming.mkdir(parents=True)
            connection.execute(f"copy {schema}.{table} to ? (format parquet)", [str(incoming / "part-0.parquet")])
            shutil.rmtree(folder, ignore_errors=True)
            incoming.rename(folder)
            counts[f"{schema}.{table}"] = connection.execute(f"select count(*) from {schema}.{table}").fetchall()[0][0]
    context.log.info(f"exported {len(counts)} raw tables to {root}")
    yield dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(root)),
        "tables": dg.MetadataValue.md("\n".join(f"- `{name}`: {rows:,} rows" for name, rows in counts.items())),
    })
