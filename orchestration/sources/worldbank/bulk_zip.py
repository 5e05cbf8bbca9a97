"""The whole-database download, ``WDI_CSV.zip``: every series in one data file, with the series and
country metadata beside it (../shared/data/worldbank/wdi_bulk/LAYOUT.md).

The zip is kept as a snapshot byte for byte. Its data file is extracted into the build area and read
by DuckDB in the same wide layout as a per-indicator bulk file; the metadata files are small and
read here. Layout differences seen across releases (a byte-order mark, a trailing empty column,
LF or CRLF, ``WDICSV.csv`` or the older ``WDIData.csv``) are all accepted; anything else stops with
the file, the line and the reason.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd

from orchestration import limits
from orchestration.sources.text_files import InputFileError

DATA_FILES = ("WDICSV.csv", "WDIData.csv")  # newest name first
SERIES_FILE = "WDISeries.csv"
COUNTRY_FILE = "WDICountry.csv"
# WDISeries.csv column -> raw.wdi_indicators column
SERIES_COLUMNS = {
    "Series Code": "indicator_code",
    "Topic": "topic",
    "Indicator Name": "indicator_name",
    "Short definition": "short_definition",
    "Long definition": "long_definition",
    "Unit of measure": "unit_of_measure",
    "Periodicity": "periodicity",
    "Aggregation method": "aggregation_method",
    "Source": "source",
    "License Type": "license_type",
}
COUNTRY_COLUMNS = ("Country Code", "Table Name", "Region", "Income Group", "Special Notes")
# The metadata files are read into memory; the real ones are a few MB, so far past that is not one.
METADATA_MAX_BYTES = 256 << 20


class WdiZipError(InputFileError):
    """A zip that is not the WDI whole-database download in any layout the World Bank publishes."""


def is_bulk_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def _member(archive: zipfile.ZipFile, path: Path, names: tuple[str, ...]) -> zipfile.ZipInfo:
    """The first of ``names`` in the zip, wherever it sits in the zip's folders."""
    by_name = {Path(info.filename).name.lower(): info for info in archive.infolist() if not info.is_dir()}
    for name in names:
        if name.lower() in by_name:
            return by_name[name.lower()]
    raise WdiZipError(
        f"{path}: no {' or '.join(names)} in the zip (it holds {', '.join(sorted(by_name)) or 'nothing'})"
    )


def _open(path: Path) -> zipfile.ZipFile:
    """The zip, once its directory shows nothing inflates past the limits: no byte is inflated before."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise WdiZipError(f"{path}: not a readable zip: {error}") from None
    try:
        _check_sizes(path, archive.infolist())
    except WdiZipError:
        archive.close()
        raise
    return archive


def _check_sizes(path: Path, members: list[zipfile.ZipInfo]) -> None:
    max_bytes, max_ratio = limits.ZIP_MAX_BYTES.value(), limits.ZIP_MAX_RATIO.value()
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > max_ratio:
            raise WdiZipError(
                f"{path}!{info.filename}: inflates {ratio:,.0f} times ({info.compress_size:,} bytes to {info.file_size:,}), "
                f"past the limit of {max_ratio:g} ({limits.ZIP_MAX_RATIO.env}); refused as a zip bomb, nothing inflated"
            )
    total = sum(info.file_size for info in members)
    if total > max_bytes:
        raise WdiZipError(
            f"{path}: its members inflate to {total:,} bytes, past the limit of {max_bytes:,} "
            f"({limits.ZIP_MAX_BYTES.env}); refused, nothing inflated"
        )


def extract_data_file(path: Path, folder: Path) -> Path:
    """The data file, streamed out of the zip into ``folder``/<zip name>/, so that an error about it
    names both the zip and the file."""
    with _open(path) as archive:
        info = _member(archive, path, DATA_FILES)
        target = folder / path.name / Path(info.filename).name
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, target.open("wb") as sink:
            _copy_bounded(source, sink, info.file_size, f"{path}!{info.filename}")
    return target


def _copy_bounded(source, sink, declared: int, where: str) -> None:
    """Inflate no more than the directory declared: a member that lies about its size is cut off."""
    written = 0
    while block := source.read(1 << 20):
        written += len(block)
        if written > declared:
            raise WdiZipError(f"{where}: inflates past the {declared:,} bytes its zip directory declares; refused")
        sink.write(block)


def data_file_head(path: Path) -> tuple[str, bytes]:
    """The data file's name inside the zip and its first lines, without extracting it."""
    with _open(path) as archive:
        info = _member(archive, path, DATA_FILES)
        with archive.open(info) as handle:
            return f"{path}!{info.filename}", b"".join(handle.readline() for _ in range(6))


def vintage(path: Path) -> str:
    """The date the World Bank wrote the data file, from its zip entry: the zip carries no release date."""
    with _open(path) as archive:
        return datetime(*_member(archive, path, DATA_FILES).date_time).date().isoformat()


def _rows(path: Path, name: str, required: tuple[str, ...]) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """A metadata file's rows as {column: text}, each with its line; names the file and line on error."""
    with _open(path) as archive:
        info = _member(archive, path, (name,))
        if info.file_size > METADATA_MAX_BYTES:
            raise WdiZipError(
                f"{path}!{info.filename}: {info.file_size:,} bytes, far larger than a WDI metadata file "
                f"(at most {METADATA_MAX_BYTES:,} are read); refused"
            )
        raw = archive.read(info)
    where = f"{path}!{info.filename}"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise WdiZipError(f"{where}: line {line}: not valid UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if header and header[-1] == "":
        header = header[:-1]  # the trailing empty column of some releases
    missing = [column for column in required if column not in header]
    if missing:
        raise WdiZipError(f"{where}: line 1: columns {missing} missing from the header {header[:8]}...")
    rows = []
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        if len(fields) < len(header):
            raise WdiZipError(
                f"{where}: line {reader.line_num}: {len(fields)} fields where the header has {len(header)}"
            )
        rows.append((reader.line_num, dict(zip(header, (field.strip() for field in fields)))))
    return where, rows


def read_series(path: Path) -> pd.DataFrame:
    """WDISeries.csv: one row per series with its metadata; an empty field is NULL."""
    where, rows = _rows(path, SERIES_FILE, tuple(SERIES_COLUMNS))
    frame = pd.DataFrame(
        [{SERIES_COLUMNS[column]: row[column] or None for column in SERIES_COLUMNS} for _, row in rows],
        columns=list(SERIES_COLUMNS.values()),
    )
    doubled = frame.indicator_code[frame.indicator_code.duplicated()].tolist()
    if frame.indicator_code.isna().any() or doubled:
        raise WdiZipError(
            f"{where}: every series needs one row with its Series Code; blank or repeated: {doubled or ['(blank)']}"
        )
    return frame.astype("string")


def series_codes(path: Path) -> frozenset[str]:
    """The series the zip holds, from its series list: what it supersedes among per-indicator files."""
    return frozenset(read_series(path).indicator_code)


def read_countries(path: Path) -> list[tuple]:
    """WDICountry.csv as (code, name, region, income group, notes, line); a blank region marks an aggregate."""
    _, rows = _rows(path, COUNTRY_FILE, COUNTRY_COLUMNS)
    return [
        (
            row["Country Code"],
            row["Table Name"],
            row["Region"] or None,
            row["Income Group"] or None,
            row["Special Notes"] or None,
            line,
        )
        for line, row in rows
    ]
