"""Raw assets: verified snapshot files, parsed, loaded whole into the build database's ``raw`` schema."""


from datetime import datetime, timezone

import dagster as dg
import pandas as pd

from orchestration.resources import WarehouseResource
from orchestration.sources import countries, un_egov
from orchestration.sources.snapshots import SnapshotFile, SourceProvenance, verified_files

UN_EGOV = "un_egov"

un_egov_snapshots = dg.AssetSpec(
    key=["snapshots", UN_EGOV],
    description=(
        "The UN E-Government Survey Data Center exports, EGOV_DATA_<year>.csv, embedded under "
        "warehouse/snapshots/un_egov/ with their provenance.json."
    ),
    group_name=UN_EGOV,
    kinds={"csv"},
)


def _loaded_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc)).tz_localize(None)


@dg.asset(
    key=["raw", "un_egov_surveys"],
    deps=[un_egov_snapshots],
    group_name=UN_EGOV,
    kinds={"python", "duckdb"},
    description="Every survey year parsed into one table, one row per (survey year, state), with provenance columns.",
)
def un_egov_surveys(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    folder = warehouse.settings.snapshots_dir / UN_EGOV
    provenance, files = verified_files(folder, un_egov.FILE_PATTERN)
    frames = []
    for path, record in files:
        frame = un_egov.parse_file(path)
        frame["source_file"] = record.file
        frame["source_sha256"] = record.sha256
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["loaded_at"] = _loaded_now()
    rows = warehouse.replace_table("raw", "un_egov_surveys", table)
    warehouse.record_loaded(UN_EGOV, provenance.fingerprint())
    context.log.info(f"loaded {rows} rows from {len(files)} files in {folder}")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "files": len(files),
            "survey_years": dg.MetadataValue.text(", ".join(map(str, sorted(table["survey_year"].unique())))),
            "not_surveyed_rows": int((~table["surveyed"]).sum()),
            "snapshot_fingerprint": provenance.fingerprint(),
        },
        data_version=dg.DataVersion(provenance.fingerprint()),
    )


@dg.asset(
    key=["raw", "country_reference"],
    group_name="reference",
    kinds={"python", "duckdb"},
    description="ISO3 codes, names and UN M49 regions of every country, from the country_converter library.",
)
def country_reference(warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows = warehouse.replace_table("raw", "country_reference", countries.reference_table())
    return dg.MaterializeResult(metadata={"rows": rows, "library": f"country_converter {countries.coco.__version__}"})


# Every folder under warehouse/snapshots/ that holds a source, each with its snapshots/<source> asset.
SNAPSHOT_SOURCES = (UN_EGOV, "worldbank", "datareportal")


@dg.asset(
    key=["raw", "snapshot_files"],
    deps=[dg.AssetKey(["snapshots", source]) for source in SNAPSHOT_SOURCES],
    group_name="reference",
    kinds={"python", "duckdb"},
    description="The provenance record of every embedded snapshot file, so analysts can cite each number.",
)
def snapshot_files(warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows = []
    for source in SNAPSHOT_SOURCES:
        provenance, files = verified_files(warehouse.settings.snapshots_dir / source, "*")
        rows += [_provenance_row(provenance, record) for _, record in files]
    count = warehouse.replace_table("raw", "snapshot_files", pd.DataFrame(rows))
    return dg.MaterializeResult(metadata={"rows": count})


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
