"""DataReportal: the curated figures and saved report pages, and their raw table."""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import requests

from orchestration.assets.snapshot_sets import LiveConfig, verified_set
from orchestration.resources import WarehouseResource
from orchestration.settings import DATAREPORTAL_CONFIG, Settings
from orchestration.sources import countries, datareportal, http
from orchestration.sources.snapshots import IncomingFile, SnapshotFile, save_incoming, verified_files

DATAREPORTAL = "datareportal"


@dg.asset(
    key=["snapshots", DATAREPORTAL],
    group_name=DATAREPORTAL,
    kinds={"csv", "html"},
    description=(
        "warehouse/snapshots/datareportal/: the curated figures.csv (every figure with its citation) "
        "and any report pages saved by a live refresh, with provenance."
    ),
)
def datareportal_snapshots(
    context: dg.AssetExecutionContext, config: LiveConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = warehouse.settings
    folder = settings.snapshots_dir / DATAREPORTAL
    if config.live:
        saved = _fetch_pages(context, settings)
        context.log.info(f"saved {len(saved)} report pages from {settings.datareportal_base_url}")
    return verified_set(folder, config.live)


def _fetch_pages(context: dg.AssetExecutionContext, settings: Settings) -> list[Path]:
    """Download every configured page, parse each, and save them only when all parsed cleanly."""
    config = datareportal.load_config(DATAREPORTAL_CONFIG)
    policy = http.RetryPolicy(timeout=config.timeout_seconds, retries=config.retries, backoff=config.backoff_seconds)
    session = requests.Session()
    incoming = []
    for country in config.countries:
        for year in config.years:
            url = datareportal.page_url(settings.datareportal_base_url, year, country)
            response = http.get(session, url, policy, f"DataReportal {country.iso3} {year}", missing_ok=True)
            if response is None:
                context.log.info(f"no report at {url} (404)")
                continue
            fetched_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            page = response.content
            try:
                datareportal.parse_report_page(page.decode("utf-8"), country, year, url)
            except (datareportal.DataReportalError, UnicodeDecodeError):
                _keep_rejected(settings, datareportal.page_file_name(year, country), page)
                raise
            incoming.append(IncomingFile(datareportal.page_file_name(year, country), page, url, fetched_at,
                                         vintage=f"Digital {year}", notes="report page saved by a live refresh"))
    if not incoming:
        return []
    return save_incoming(settings.snapshots_dir / DATAREPORTAL, incoming, lambda path, item: path.name == item.name)


def _keep_rejected(settings: Settings, name: str, content: bytes) -> None:
    rejected = settings.build_dir / "rejected" / DATAREPORTAL
    rejected.mkdir(parents=True, exist_ok=True)
    (rejected / name).write_bytes(content)


@dg.asset(
    key=["raw", "datareportal_figures"],
    deps=[datareportal_snapshots],
    group_name=DATAREPORTAL,
    kinds={"python", "duckdb"},
    description="Every cited DataReportal figure: one row per citation, validated, conflicts refused.",
)
def datareportal_figures(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    folder = warehouse.settings.snapshots_dir / DATAREPORTAL
    provenance, files = verified_files(folder, "*")
    known_iso3 = set(countries.reference_table()["iso3"])
    frames = [_curated(path, record, known_iso3) for path, record in files if path.name == datareportal.FIGURES_FILE]
    if not frames:
        raise datareportal.DataReportalError(f"{folder}: no {datareportal.FIGURES_FILE}")
    pages = [(path, record) for path, record in files if path.match(datareportal.PAGE_PATTERN)]
    config = datareportal.load_config(DATAREPORTAL_CONFIG)
    page_names = {datareportal.page_file_name(year, c): (year, c) for c in config.countries for year in config.years}
    frames += [_page(path, record, page_names) for path, record in pages]
    # Explicit types: report pages have no line numbers, which would otherwise change the column's type.
    table = pd.concat(frames, ignore_index=True).astype({"report_year": "int32", "value": "float64", "source_line": "Int32"})
    datareportal.check_conflicts(table, f"{folder} (curated figures and report pages together)")
    table["loaded_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = warehouse.replace_table("raw", "datareportal_figures", table)
    warehouse.record_loaded(DATAREPORTAL, provenance.fingerprint())
    context.log.info(f"loaded {rows} citations from the curated file and {len(pages)} report pages")
    return dg.MaterializeResult(
        metadata={"rows": rows, "report_pages": len(pages), "snapshot_fingerprint": provenance.fingerprint()},
        data_version=dg.DataVersion(provenance.fingerprint()),
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
    return frame.assign(source_line=None, source_kind="report_page", source_file=record.file, source_sha256=record.sha256)
