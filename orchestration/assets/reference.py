"""Reference tables that no upstream file holds: the country list, and every snapshot's origin record."""

import hashlib
import json

import dagster as dg
import pandas as pd

from orchestration.assets.snapshot_sets import current_set, needs_load, unchanged
from orchestration.resources import WarehouseResource
from orchestration.sources import countries
from orchestration.sources.registry import SOURCES
from orchestration.sources.snapshots import SnapshotFile, SourceProvenance

REFERENCE = "reference"


def _fingerprint(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


@dg.asset(
    key=["raw", "country_reference"],
    group_name=REFERENCE,
    kinds={"python", "duckdb"},
    description="ISO3 codes, names and UN M49 regions of every country, from the country_converter library.",
)
def country_reference(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    library = f"country_converter {countries.coco.__version__}"
    fingerprint = _fingerprint(library)
    if not needs_load(context, warehouse, "country_reference", fingerprint):
        return unchanged(warehouse, ["raw", "country_reference"], fingerprint)
    warehouse.replace_table("raw", "country_reference", countries.reference_table())
    warehouse.record_loaded("country_reference", fingerprint)
    return dg.MaterializeResult(metadata={"loaded": True, "library": library, **warehouse.table_metadata("raw", "country_reference")},
                                data_version=dg.DataVersion(fingerprint))


@dg.asset(
    key=["raw", "snapshot_files"],
    deps=[dg.AssetKey(["snapshots", source]) for source in SOURCES],
    group_name=REFERENCE,
    kinds={"python", "duckdb"},
    description="The provenance record of every snapshot file loaded, so analysts can cite each number.",
)
def snapshot_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows = [_provenance_row(snapshot_set.provenance, record)
            for snapshot_set in (current_set(warehouse, spec) for spec in SOURCES.values()) for _, record in snapshot_set.files]
    fingerprint = _fingerprint(json.dumps(rows, sort_keys=True))
    if not needs_load(context, warehouse, "snapshot_files", fingerprint):
        return unchanged(warehouse, ["raw", "snapshot_files"], fingerprint)
    warehouse.replace_table("raw", "snapshot_files", pd.DataFrame(rows))
    warehouse.record_loaded("snapshot_files", fingerprint)
    return dg.MaterializeResult(metadata={"loaded": True, **warehouse.table_metadata("raw", "snapshot_files")},
                                data_version=dg.DataVersion(fingerprint))


def _provenance_row(provenance: SourceProvenance, record: SnapshotFile) -> dict:
    return {
        "source": provenance.source,
        "file_name": record.file,
        "sha256": record.sha256,
        "size_bytes": record.bytes,
        "vintage": record.vintage,
        "producer": provenance.producer,
        "title": provenance.title,
        "upstream_url": provenance.upstream_url,
        "obtained_from": record.obtained_from,
        "date_accessed": record.date_accessed,
        "licence": provenance.licence,
        "citation": provenance.citation,
        "notes": record.notes,
    }


ASSETS = [country_reference, snapshot_files]
