"""Reference tables that no upstream file holds: the country list, and every snapshot's origin record."""

import dagster as dg
import pandas as pd

from orchestration.snapshots import raw_inputs
from orchestration.snapshots.sets import run_set
from orchestration.sources import countries
from orchestration.sources.registry import SOURCES
from orchestration.transform.raw_assets import needs_load, record_loaded, replace_tables, unchanged
from orchestration.warehouse import DATA_OWNERS, Warehouse, table_metadata

REFERENCE = "reference"


def _load(
    context: dg.AssetExecutionContext, warehouse: Warehouse, name: str, table: str, fingerprint: str, frame
) -> dg.MaterializeResult:
    """Load ``table`` from ``frame()`` unless it already holds ``fingerprint``."""
    with warehouse.build_connection() as connection:
        if not needs_load(context, connection, name, fingerprint):
            return unchanged(connection, table, fingerprint)
        replace_tables(connection, {table: frame()})
        record_loaded(connection, name, fingerprint)
        return dg.MaterializeResult(
            metadata={"loaded": True, **table_metadata(connection, "raw", table)},
            data_version=dg.DataVersion(fingerprint),
        )


@dg.asset(
    owners=DATA_OWNERS,
    key=["raw", "country_reference"],
    group_name=REFERENCE,
    kinds={"python", "duckdb"},
    description="ISO3 codes, names and UN M49 regions of every country, from the country_converter library.",
)
def country_reference(
    context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse]
) -> dg.MaterializeResult:
    result = _load(
        context,
        warehouse,
        raw_inputs.COUNTRY_REFERENCE,
        "country_reference",
        raw_inputs.country_reference_fingerprint(),
        countries.reference_table,
    )
    return dg.MaterializeResult(
        metadata={**result.metadata, "library": raw_inputs.country_library()}, data_version=result.data_version
    )


def snapshot_files_asset() -> dg.AssetsDefinition:
    """Made when the definitions are, from the sources registered then."""

    @dg.asset(
        owners=DATA_OWNERS,
        key=["raw", "snapshot_files"],
        deps=[dg.AssetKey(["snapshots", source]) for source in SOURCES],
        group_name=REFERENCE,
        kinds={"python", "duckdb"},
        description="The provenance record of every snapshot file loaded, so analysts can cite each number.",
    )
    def snapshot_files(
        context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse]
    ) -> dg.MaterializeResult:
        rows = raw_inputs.provenance_rows([run_set(warehouse, spec) for spec in SOURCES.values()])
        fingerprint = raw_inputs.snapshot_files_fingerprint(rows)
        return _load(
            context, warehouse, raw_inputs.SNAPSHOT_FILES, "snapshot_files", fingerprint, lambda: pd.DataFrame(rows)
        )

    return snapshot_files


def reference_assets() -> list[dg.AssetsDefinition]:
    return [country_reference, snapshot_files_asset()]
