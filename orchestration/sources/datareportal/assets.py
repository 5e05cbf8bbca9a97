"""DataReportal: the curated figures and saved report pages, as one raw table."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.assets.snapshot_sets import current_set, needs_load, unchanged
from orchestration.resources import WarehouseResource
from orchestration.sources import countries
from orchestration.sources.datareportal import SPEC
from orchestration.sources.datareportal import parser as datareportal
from orchestration.sources.snapshots import SnapshotFile


@dg.asset(
    key=["raw", "datareportal_figures"],
    deps=[dg.AssetKey(["snapshots", SPEC.name])],
    group_name=SPEC.name,
    kinds={"python", "duckdb"},
    description="Every cited DataReportal figure: one row per citation, validated, conflicts refused.",
)
def datareportal_figures(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    snapshot_set = current_set(warehouse.settings, SPEC)
    if not needs_load(context, warehouse, SPEC.name, snapshot_set.fingerprint):
        return unchanged(warehouse, ["raw", "datareportal_figures"], snapshot_set.fingerprint)
    folder = warehouse.settings.snapshots_dir / SPEC.name
    known_iso3 = set(countries.reference_table()["iso3"])
    frames = [_curated(path, record, known_iso3) for path, record in snapshot_set.matching(datareportal.FIGURES_FILE)]
    if not frames:
        raise datareportal.DataReportalError(f"{folder}: no {datareportal.FIGURES_FILE}")
    pages = snapshot_set.matching(datareportal.PAGE_PATTERN)
    page_names = datareportal.configured_pages(datareportal.load_config(warehouse.settings.datareportal_config))
    frames += [_page(path, record, page_names) for path, record in pages]
    # Explicit types: report pages have no line numbers, which would otherwise change the column's type.
    table = pd.concat(frames, ignore_index=True).astype(
        {"report_year": "int32", "value": "float64", "source_line": "Int32"}
    )
    datareportal.check_conflicts(table, f"{folder} (curated figures and report pages together)")
    table["loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
    rows = warehouse.replace_table("raw", "datareportal_figures", table)
    warehouse.record_loaded(SPEC.name, snapshot_set.fingerprint)
    context.log.info(f"loaded {rows} citations from the curated file and {len(pages)} report pages")
    return dg.MaterializeResult(
        metadata={
            "loaded": True,
            "report_pages": len(pages),
            "snapshot_fingerprint": snapshot_set.fingerprint,
            **warehouse.table_metadata("raw", "datareportal_figures"),
        },
        data_version=dg.DataVersion(snapshot_set.fingerprint),
    )


def _curated(path: Path, record: SnapshotFile, known_iso3: set[str]) -> pd.DataFrame:
    frame = datareportal.read_figures(path, known_iso3)
    return frame.assign(source_kind="curated", source_file=record.file, source_sha256=record.sha256)


def _page(path: Path, record: SnapshotFile, page_names: dict) -> pd.DataFrame:
    """The figures of one saved report page; ``page_names`` maps file names to (year, country)."""
    if path.name not in page_names:
        raise datareportal.DataReportalError(f"{path}: a report page for no configured country and year")
    year, country = page_names[path.name]
    figures, _ = datareportal.parse_report_page(path.read_text(encoding="utf-8"), country, year, record.obtained_from)
    frame = pd.DataFrame(figures, columns=datareportal.COLUMNS)
    return frame.assign(
        source_line=None, source_kind="report_page", source_file=record.file, source_sha256=record.sha256
    )


ASSETS = [datareportal_figures]
