"""The analyst report and the browsable dbt docs, drawn after every successful publication."""

import os
import shutil

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.assets.publish import published_warehouse
from orchestration.report import write_report
from orchestration.resources import WarehouseResource


@dg.asset(
    key=["report"],
    deps=[published_warehouse],
    group_name="report",
    kinds={"html"},
    description="warehouse/report/index.html: the study's figures and tables recomputed and audited, offline; and docs.html, the dbt docs.",
)
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, dbt: DbtCliResource) -> dg.MaterializeResult:
    settings = warehouse.settings
    page = write_report(settings.published_db, settings.report_dir / "index.html")
    os.environ.update(settings.dbt_env())
    docs = dbt.cli(["docs", "generate", "--static"]).wait()
    shutil.copyfile(docs.target_path / "static_index.html", settings.report_dir / "docs.html")
    context.log.info(f"report written to {page}")
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(page)),
        "dbt_docs": dg.MetadataValue.path(str(settings.report_dir / "docs.html")),
    })
