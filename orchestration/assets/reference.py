"""Reference tables that no upstream file holds: the country list, and every snapshot's origin record."""

import dagster as dg
import pandas as pd

from orchestration import raw_inputs
from orchestration.assets.snapshot_sets import current_set, needs_load, unchanged
from orchestration.resources import WarehouseResource
from orchestration.sources import countries
from orchestration.sources.registry import SOURCES

REFERENCE = "reference"


@dg.asset(
    key=["raw", "country_reference"],
    group_name=REFERENCE,
    kinds={"python", "duckdb"},
    description="ISO3 codes, names and UN M49 regions of every country, from the country_converter library.",
)
def country_reference(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    library, fingerprint = raw_inputs.country_library(), raw_inputs.country_reference_fingerprint()
    if not needs_load(context, warehouse, raw_inputs.COUNTRY_REFERENCE, fingerprint):
        return unchanged(warehouse, ["raw", "country_reference"], fingerprint)
    warehouse.replace_table("raw", "country_reference", countries.reference_table())
    warehouse.record_loaded(raw_inputs.COUNTRY_REFERENCE, fingerprint)
    return dg.MaterializeResult(
        metadata={"loaded": True, "library": library, **warehouse.table_metadata("raw", "country_reference")},
        data_version=dg.DataVersion(fingerprint),
    )


@dg.asset(
    key=["raw", "snapshot_files"],
    deps=[dg.AssetKey(["snapshots", source]) for source in SOURCES],
    group_name=REFERENCE,
    kinds={"python", "duckdb"},
    description="The provenance record of every snapshot file loaded, so analysts can cite each number.",
)
def snapshot_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows = raw_inputs.provenance_rows([current_set(warehouse.settings, spec) for spec in SOURCES.values()])
    fingerprint = raw_inputs.snapshot_files_fingerprint(rows)
    if not needs_load(context, warehouse, raw_inputs.SNAPSHOT_FILES, fingerprint):
        return unchanged(warehouse, ["raw", "snapshot_files"], fingerprint)
    warehouse.replace_table("raw", "snapshot_files", pd.DataFrame(rows))
    warehouse.record_loaded(raw_inputs.SNAPSHOT_FILES, fingerprint)
    return dg.MaterializeResult(
        metadata={"loaded": True, **warehouse.table_metadata("raw", "snapshot_files")},
        data_version=dg.DataVersion(fingerprint),
    )


ASSETS = [country_reference, snapshot_files]
