"""dbt models as Dagster assets, keyed by schema so the graph reads raw -> staging -> marts."""

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.run_context import is_full, say, say_failure
from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from orchestration.transform import wdi_rebuild
from orchestration.transform.changes import build_plan
from orchestration.transform.dbt_project import (
    DBT_PROJECT,
    TARGET_DIR,
    keep_parse_state,
    prepare_at_load,
    prune_run_targets,
)
from orchestration.warehouse import DATA_OWNERS, MODELS_OWNERS, Warehouse, table_metadata

KEPT_LOGS = 20
# How much of dbt's log a failure shows when dbt stopped before its summary (a parse error).
FAILURE_TAIL = 40

# The dbt assets are defined from the manifest: a fresh clone parses once, `dagster dev` on change.
prepare_at_load()


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Models become <schema>/<model>; sources keep the raw asset keys set in their YAML meta."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return MODELS_OWNERS

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["config"].get("schema") or "dbt"


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=WarehouseDbtTranslator())
def warehouse_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: dg.ResourceParam[Warehouse]
):
    """`dbt build` in the build database: every model, with its tests as blocking checks; or,
    when the build database holds what the published warehouse was built from, nothing, so
    that publishing and the report are skipped too (changes.py)."""
    with warehouse.build_connection() as connection:
        plan = build_plan(connection, warehouse.settings, is_full(context))
        say(context, plan.reason)
        if not plan.build:
            return
        rebuild = wdi_rebuild.plan(connection, is_full(context) or context.is_subset)
        wdi_rebuild.begin(connection)
    say(
        context,
        f"WDI models: every series rebuilt ({rebuild.reason})"
        if rebuild.full
        else f"WDI models: {rebuild.reason}; only those rewritten",
    )
    os.environ.update(warehouse.settings.dbt_env())
    # --no-write-json: dbt's closing manifest.json and run_results.json (~0.25 s) are read by nothing;
    # the events stream as it runs, and its log is kept whole (below).
    invocation = dbt.cli(
        ["build", "--no-write-json", *(["--full-refresh"] if rebuild.full else [])],
        context=context,
        raise_on_error=False,
    )
    # dbt holds the build database while it runs, so each model's row count and columns are read
    # once it has finished; dagster-dbt's own fetch_row_counts() needs the dbt adapter this
    # resource skips (orchestration/library_adapters.py).
    log_path = dbt_log_path(warehouse.settings, context.run_id)
    # dagster-dbt writes each dbt event to stdout: to the run's own file instead, so the console
    # shows a line per step (orchestration/operations/cli.py) and the whole log stays at hand.
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        events = list(invocation.stream())
    dbt_log = log_path.read_text(encoding="utf-8")
    context.log.debug(dbt_log)
    say(context, f"dbt's log: {log_path}")
    keep_parse_state(invocation.target_path, TARGET_DIR)
    prune_run_targets(TARGET_DIR, context.op_def.name)
    with warehouse.build_connection() as connection:
        events = [
            event.with_metadata(
                {**event.metadata, **table_metadata(connection, *context.asset_key_for_output(event.output_name).path)}
            )
            if isinstance(event, dg.Output)
            else event
            for event in events
        ]
    yield from events
    if not invocation.is_successful():
        say_failure(context, "dbt failed:\n" + failures(dbt_log))
        raise invocation.get_error()
    if not context.is_subset:  # a part of the models built says nothing of the others
        with warehouse.build_connection() as connection:
            wdi_rebuild.finish(connection)


# The incremental WDI models' rebuild list (dbt source build_state.wdi_rebuild): written by the dbt
# step itself before dbt runs (orchestration/transform/wdi_rebuild.py), so an input the graph shows, not an
# asset that a run materialises.
REBUILD_LIST = dg.AssetSpec(
    key=["build_state", "wdi_rebuild"],
    description="The WDI series an incremental build rewrites: those added, changed or removed since the last "
    "finished build, by per-series fingerprints. Written by the dbt step before dbt runs.",
    kinds={"duckdb"},
    group_name="worldbank",
    owners=DATA_OWNERS,
)


def dbt_log_path(settings: Settings, run_id: str) -> Path:
    """Where a run's dbt log goes: warehouse/logs/dbt/<run>.log, the newest KEPT_LOGS kept."""
    folder = settings.logs_dir / "dbt"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)[KEPT_LOGS - 1 :]:
        old.unlink(missing_ok=True)
    return folder / f"{run_id}.log"


def failures(dbt_log: str) -> str:
    """dbt's own account of what failed: its closing summary, every failure with its message and
    compiled SQL's path; or, when dbt stopped before building anything, the end of its log."""
    lines = dbt_log.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("Completed with")]
    return "\n".join(lines[starts[-1] :] if starts else lines[-FAILURE_TAIL:])


def published_keys() -> list[dg.AssetKey]:
    """The dbt assets whose schemas are published: what publishing waits for."""
    return sorted((key for key in warehouse_dbt_models.keys if key.path[0] in PUBLISHED_SCHEMAS), key=str)
