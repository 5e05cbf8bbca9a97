"""The Dagster code location: wiring only."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.assets import datareportal, dbt, publish, raw, worldbank
from orchestration.checks import GX_CHECKS
from orchestration.dbt_project import DBT_PROJECT
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings

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
    publish.published_warehouse,
]


def resources(settings: Settings) -> dict:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "dbt": DbtCliResource(project_dir=DBT_PROJECT),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    refresh = dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.all(), description="Refresh every source and publish.")
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=GX_CHECKS,
        jobs=[refresh],
        resources=resources(settings),
        # DuckDB takes one writer process at a time: steps run one after another in one process,
        # and each closes its connection before the next (dbt's subprocess included) opens one.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
