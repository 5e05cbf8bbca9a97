"""The Dagster code location: wiring only."""

from __future__ import annotations

import dagster as dg

from orchestration.assets import datareportal, dbt, parquet, publish, raw, report, worldbank
from orchestration.checks import GX_CHECKS
from orchestration.dbt_project import DBT_PROJECT, WarehouseDbtCliResource
from orchestration.resources import WarehouseResource
from orchestration.sensors import build_failure_sensor, build_inbox_sensor
from orchestration.settings import Settings
from orchestration.sources.registry import SOURCES

REFRESH_JOB = "refresh_warehouse"

ASSETS = [
    raw.un_egov_snapshots,
    raw.un_egov_surveys,
    raw.country_reference,
    raw.snapshot_files,
    worldbank.worldbank_snapshots,
    worldbank.worldbank_raw,
    datareportal.datareportal_snapshots,
    datareportal.datareportal_figures,
    dbt.warehouse_dbt_models,
    parquet.raw_parquet,
    publish.published_warehouse,
    report.report,
]


def resources(settings: Settings) -> dict:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "dbt": WarehouseDbtCliResource(project_dir=DBT_PROJECT),
    }


def source_job_name(source: str) -> str:
    return f"refresh_{source}"


def jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    """One refresh per source (its assets and everything downstream, publish included), and one for all."""
    per_source = [
        dg.define_asset_job(source_job_name(name), selection=dg.AssetSelection.groups(name).downstream(),
                            description=f"Refresh {source.title} and what depends on it, then publish.")
        for name, source in SOURCES.items()
    ]
    return [dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.all(), description="Refresh every source and publish."), *per_source]


def schedules(refresh_jobs: list) -> list[dg.ScheduleDefinition]:
    """Each upstream's cadence; stopped until a data engineer turns them on (README)."""
    by_name = {job.name: job for job in refresh_jobs}
    return [
        dg.ScheduleDefinition(name=f"{name}_schedule", job=by_name[source_job_name(name)], cron_schedule=source.cron,
                              execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
                              description=f"{source.title}: {source.cadence}.")
        for name, source in SOURCES.items()
    ]


def _with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    source = SOURCES[spec.group_name]
    return dg.apply_freshness_policy(spec, dg.FreshnessPolicy.time_window(fail_window=source.fresh_for))


def build_definitions(settings: Settings) -> dg.Definitions:
    refresh_jobs = jobs()
    definitions = dg.Definitions(
        assets=ASSETS,
        asset_checks=GX_CHECKS,
        jobs=refresh_jobs,
        schedules=schedules(refresh_jobs),
        sensors=[build_inbox_sensor(settings, [job for job in refresh_jobs if job.name != REFRESH_JOB]), build_failure_sensor(settings)],
        resources=resources(settings),
        # DuckDB takes one writer process at a time: steps run one after another in one process,
        # and each closes its connection before the next (dbt's subprocess included) opens one.
        executor=dg.in_process_executor,
    )
    # How stale each source's raw tables may get before the UI shows them overdue.
    raw_tables = dg.AssetSelection.groups(*SOURCES) & dg.AssetSelection.key_prefixes("raw")
    return definitions.map_resolved_asset_specs(func=_with_freshness, selection=raw_tables)


defs = build_definitions(Settings.from_env())
