"""The Dagster code location: wiring only."""

from __future__ import annotations

import importlib
import logging

import dagster as dg

from orchestration.assets import dbt, publish, reference, report
from orchestration.assets.snapshot_sets import snapshots_asset
from orchestration.checks import GX_CHECKS
from orchestration.dbt_project import DBT_PROJECT, WarehouseDbtCliResource
from orchestration.jobs import REFRESH_JOB, jobs, schedules
from orchestration.resources import WarehouseResource
from orchestration.sensors import build_failure_sensor, build_inbox_sensor
from orchestration.settings import DBT_EXECUTABLE, Settings
from orchestration.sources.registry import SOURCES

# When nothing changed the dbt step yields nothing on purpose, and publishing is skipped with it;
# Dagster would warn once per dbt test that a blocking check "emitted no result".
logging.getLogger("dagster._core.execution.plan.active").addFilter(
    lambda record: "emitted no result in step 'warehouse_dbt_models'" not in record.getMessage()
)

ASSETS = [
    *[snapshots_asset(spec) for spec in SOURCES.values()],
    # Each source package's raw assets, from its assets module.
    *[asset for name in SOURCES for asset in importlib.import_module(f"orchestration.sources.{name}.assets").ASSETS],
    *reference.ASSETS,
    dbt.warehouse_dbt_models,
    dbt.REBUILD_LIST,
    publish.published_warehouse,
    report.report,
]


def resources(settings: Settings) -> dict:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "dbt": WarehouseDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
    }


# Who answers for an asset: data engineers for what comes in and goes out (snapshots, raw tables,
# publishing, the report), analytics engineers for the dbt models.
MODELS_OWNER, DATA_OWNER = "team:analytics-engineering", "team:data-engineering"


def _with_owner(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(owners=[MODELS_OWNER if "dbt" in spec.kinds else DATA_OWNER])


def _with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    return dg.apply_freshness_policy(
        spec, dg.FreshnessPolicy.time_window(fail_window=SOURCES[spec.group_name].fresh_for)
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    refresh_jobs = jobs()
    definitions = dg.Definitions(
        assets=ASSETS,
        asset_checks=GX_CHECKS,
        jobs=refresh_jobs,
        schedules=schedules(settings, refresh_jobs),
        sensors=[build_inbox_sensor(settings, refresh_jobs), build_failure_sensor(settings)],
        resources=resources(settings),
        # DuckDB takes one writer process at a time: steps run one after another in one process,
        # and each closes its connection before the next (dbt's subprocess included) opens one.
        executor=dg.in_process_executor,
    )
    # How stale each source's raw tables may get before the UI shows them overdue.
    raw_tables = dg.AssetSelection.groups(*SOURCES) & dg.AssetSelection.key_prefixes("raw")
    definitions = definitions.map_resolved_asset_specs(func=_with_freshness, selection=raw_tables)
    return definitions.map_resolved_asset_specs(func=_with_owner)


defs = build_definitions(Settings.from_env())

__all__ = ["REFRESH_JOB", "build_definitions", "defs"]
