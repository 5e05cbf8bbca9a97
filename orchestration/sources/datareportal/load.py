"""DataReportal: the curated figures and saved report pages, as one raw table."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from orchestration.sources import countries
from orchestration.sources.datareportal import options
from orchestration.sources.datareportal import parser as datareportal
from orchestration.sources.files import SnapshotFile
from orchestration.sources.spec import Loaded, LoadRequest


def load(request: LoadRequest) -> Loaded:
    snapshot_set = request.snapshot_set
    folder = request.settings.snapshots_dir / snapshot_set.source
    known_iso3 = set(countries.reference_table()["iso3"])
    frames = [_curated(path, record, known_iso3) for path, record in snapshot_set.matching(datareportal.FIGURES_FILE)]
    if not frames:
        raise datareportal.DataReportalError(f"{folder}: no {datareportal.FIGURES_FILE}")
    pages = snapshot_set.matching(datareportal.PAGE_PATTERN)
    page_names = datareportal.configured_pages(datareportal.load_config(options(request.settings).config))
    frames += [_page(path, record, page_names) for path, record in pages]
    # Explicit types: report pages have no line numbers, which would otherwise change the column's type.
    table = pd.concat(frames, ignore_index=True).astype(
        {"report_year": "int32", "value": "float64", "source_line": "Int32"}
    )
    datareportal.check_conflicts(table, f"{folder} (curated figures and report pages together)")
    table["loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
    return Loaded(
        message=f"loaded {len(table)} citations from the curated file and {len(pages)} report pages",
        tables={"datareportal_figures": table},
        metadata={"datareportal_figures": {"report_pages": len(pages)}},
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
