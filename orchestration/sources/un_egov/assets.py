"""The UN survey's raw table: every survey year parsed, loaded whole into the build database."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from orchestration.assets.snapshot_sets import current_set, needs_load, unchanged
from orchestration.resources import WarehouseResource
from orchestration.sources.un_egov import SPEC
from orchestration.sources.un_egov.parser import FILE_PATTERN, parse_file


@dg.asset(
    key=["raw", "un_egov_surveys"],
    deps=[dg.AssetKey(["snapshots", SPEC.name])],
    group_name=SPEC.name,
    kinds={"python", "duckdb"},
    description="Every survey year parsed into one table, one row per (survey year, state), with provenance columns.",
)
def un_egov_surveys(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    snapshot_set = current_set(warehouse.settings, SPEC)
    if not needs_load(context, warehouse, SPEC.name, snapshot_set.fingerprint):
        return unchanged(warehouse, ["raw", "un_egov_surveys"], snapshot_set.fingerprint)
    files = snapshot_set.matching(FILE_PATTERN)
    frames = []
    for path, record in files:
        frame = parse_file(path)
        frame["source_file"] = record.file
        frame["source_sha256"] = record.sha256
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["loaded_at"] = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    rows = warehouse.replace_table("raw", "un_egov_surveys", table)
    warehouse.record_loaded(SPEC.name, snapshot_set.fingerprint)
    context.log.info(f"loaded {rows} rows from {len(files)} files")
    return dg.MaterializeResult(
        metadata={
            "loaded": True,
            **warehouse.table_metadata("raw", "un_egov_surveys"),
            "files": len(files),
            "survey_years": dg.MetadataValue.text(", ".join(map(str, sorted(table["survey_year"].unique())))),
            "not_surveyed_rows": int((~table["surveyed"]).sum()),
            "snapshot_fingerprint": snapshot_set.fingerprint,
        },
        data_version=dg.DataVersion(snapshot_set.fingerprint),
    )


ASSETS = [un_egov_surveys]
