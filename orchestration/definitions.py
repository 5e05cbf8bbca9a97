"""The Dagster code location: wiring only."""

from __future__ import annotations

import dagster as dg

from orchestration.analysts import report_asset as report
from orchestration.gates.checks import gx_checks
from orchestration.library_adapters import WarehouseDbtCliResource, quiet_unreported_dbt_checks
from orchestration.operations.jobs import REFRESH_JOB, jobs, schedules
from orchestration.operations.resources import warehouse_resource
from orchestration.operations.sensors import build_failure_sensor, build_inbox_sensor
from orchestration.publishing import assets as publish
from orchestration.settings import DBT_EXECUTABLE, Settings
from orchestration.snapshots.assets import snapshots_asset
from orchestration.sources.registry import SOURCES
from orchestration.transform import dbt_assets as dbt
from orchestration.transform import reference_assets as reference
from orchestration.transform.dbt_project import DBT_PROJECT
from orchestration.transform.raw_assets import raw_assets

quiet_unreported_dbt_checks()


def assets() -> list:
    """Every asset, made from the sources registered when the definitions are built."""
    return [
        *[snapshots_asset(spec) for spec in SOURCES.values()],
        *[raw_assets(spec) for spec in SOURCES.values()],
        *reference.reference_assets(),
        dbt.warehouse_dbt_models,
        dbt.REBUILD_LIST,
        publish.published_warehouse,
        report.report,
    ]


def resources(settings: Settings) -> dict:
    return {
        "warehouse": warehouse_resource(settings),
        "dbt": WarehouseDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    refresh_jobs = jobs()
    return dg.Definitions(
        assets=assets(),
        asset_checks=gx_checks(),
        jobs=refresh_jobs,
        schedules=schedules(settings, refresh_jobs),
        sensors=[build_inbox_sensor(settings, refresh_jobs), build_failure_sensor(settings)],
        resources=resources(settings),
        # DuckDB takes one writer process at a time: steps run one after another in one process,
        # and each closes its connection before the next (dbt's subprocess included) opens one.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())

__all__ = ["REFRESH_JOB", "build_definitions", "defs"]
