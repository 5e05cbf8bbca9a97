"""World Bank WDI: the indicator configuration and the parsers of its snapshot files.

Per-indicator bulk CSV files (``API_<code>_DS2_en_csv_v2_<n>.csv``) come in the layouts seen upstream:

- the original: UTF-8 with BOM, a 4-line preamble carrying "Last Updated Date", every field
  quoted, and a trailing comma that makes an empty last column;
- re-saved copies without the preamble, unquoted, with CRLF;
- the country metadata file, whose quoted notes span lines.

The whole-database zip (bulk_zip.py) holds one data file in the same wide layout, without the
preamble. All are read by DuckDB's CSV reader and unpivoted inside DuckDB, so a file of any size streams
into the build database without passing through Python row by row. Live API fetches are saved as
JSON snapshots (see worldbank_api.py) and read here into the same shape.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.sources.text_files import InputFileError, parsed_once, read_utf8
from orchestration.sources.worldbank import bulk_zip

WHOLE_DATABASE = "wdi_bulk"

INDICATOR_FILE = re.compile(r"^API_(?P<code>[A-Z0-9_.]+?)_(DS2_|pivoted_|live)")
COUNTRY_FILE_PATTERNS = ("Metadata_Country_*.csv", "country_live*.json")
_FIXED = ["Country Name", "Country Code", "Indicator Name", "Indicator Code"]
_METADATA_HEADER = ["Country Code", "Region", "IncomeGroup", "SpecialNotes", "TableName"]
_YEAR = re.compile(r"^\d{4}$")
UNITS = ("percent", "per_100", "count", "usd", "other")
# How a series is aggregated over a group: a population-weighted mean, a sum, or only the plain mean.
WEIGHTINGS = ("population", "sum", "none")
# The World Bank's own "Aggregation method" (WDISeries.csv) -> ours, for the series the config does not name.
AGGREGATION_METHODS = {"Weighted average": "population", "Sum": "sum"}
# A share bounded by 0 and 100: "(% of population)", "(% of population ages 15+)", "(% of total ...)".
# Not "% of GDP" or "annual %", which the World Bank publishes above 100 and below 0.
_BOUNDED_SHARE = re.compile(r"\((% of [^)]*population[^)]*|% of total[^)]*)\)\s*$")


class WorldBankParseError(InputFileError):
    """A WDI file that cannot be read in any layout the World Bank publishes."""


@dataclass(frozen=True)
class Indicator:
    code: str
    unit: str
    weighting: str


@dataclass(frozen=True)
class LiveSettings:
    per_page: int
    timeout_seconds: float
    retries: int
    backoff_seconds: float
    countries_per_request: int


@parsed_once
def load_config(path: Path) -> tuple[list[Indicator], LiveSettings]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    indicators = [Indicator(**entry) for entry in data.get("indicator", [])]
    for indicator in indicators:
        if indicator.unit not in UNITS or indicator.weighting not in WEIGHTINGS:
            raise ValueError(
                f"{path}: indicator {indicator.code}: unit must be one of {UNITS}, weighting one of {WEIGHTINGS}"
            )
    codes = [indicator.code for indicator in indicators]
    if len(set(codes)) != len(codes) or not codes:
        raise ValueError(f"{path}: indicator codes must be present and distinct: {codes}")
    return indicators, LiveSettings(**data["live"])


def unit_of(indicator_name: str | None, unit_of_measure: str | None) -> str:
    """The range rule of a series the config does not name: percent for a bounded share, else none."""
    if (unit_of_measure or "").strip() == "%" or _BOUNDED_SHARE.search(indicator_name or ""):
        return "percent"
    return "other"


def weighting_of(aggregation_method: str | None) -> str:
    return AGGREGATION_METHODS.get((aggregation_method or "").strip(), "none")


def snapshot_key(path: Path) -> str | None:
    """What a snapshot file holds: an indicator code, "country" for the metadata, "wdi_bulk" for the
    whole-database zip, or None."""
    if bulk_zip.is_bulk_zip(path):
        return WHOLE_DATABASE
    if any(path.match(pattern) for pattern in COUNTRY_FILE_PATTERNS):
        return "country"
    return indicator_code_of(path)


def covers(path: Path) -> frozenset[str]:
    """The slots a file fills besides its own: the zip fills the country list's and every series
    it holds, so promoting it supersedes the metadata and the per-indicator files of those series."""
    if bulk_zip.is_bulk_zip(path):
        return frozenset({"country"}) | bulk_zip.series_codes(path)
    return frozenset()


def indicator_code_of(path: Path) -> str | None:
    match = INDICATOR_FILE.match(path.name)
    return match.group("code") if match else None


@dataclass(frozen=True)
class _Layout:
    skip: int  # lines before the first row of values: the preamble, if any, and the header
    columns: tuple[str, ...]  # as DuckDB is to name them, "empty_last" for the trailing comma
    last_updated: str | None


def _layout(path: Path, text: str) -> _Layout:
    lines = [line.rstrip("\r") for line in text.split("\n", 6)[:6]]
    last_updated = None
    skip = 0
    if lines[0].lstrip('"').startswith("Data Source"):
        # The original layout: Data Source, blank, Last Updated Date, blank, then the header.
        preamble = [next(csv.reader([line]), []) for line in lines[:4]]
        if len(preamble[2]) < 2 or preamble[2][0] != "Last Updated Date":
            raise WorldBankParseError(f'{path}: line 3: expected "Last Updated Date" in the preamble')
        last_updated, skip = preamble[2][1], 4
    if len(lines) <= skip or not lines[skip]:
        raise WorldBankParseError(f"{path}: no header line")
    header = next(csv.reader([lines[skip]]))
    trailing_comma = bool(header) and header[-1] == ""
    if trailing_comma:
        header = header[:-1]
    years = header[4:]
    if header[:4] != _FIXED or not years or not all(_YEAR.match(year) for year in years):
        raise WorldBankParseError(
            f"{path}: line {skip + 1}: unrecognised header; expected {_FIXED} then years, got {header[:6]}..."
        )
    return _Layout(
        skip=skip + 1, columns=(*header, *(["empty_last"] if trailing_comma else [])), last_updated=last_updated
    )


def _head(path: Path) -> str:
    """The first lines of a file too large to decode whole (a zip's data file): DuckDB checks the
    encoding and every row of the rest as it reads it."""
    with path.open("rb") as handle:
        return _decoded_head(path, b"".join(handle.readline() for _ in range(6)))


def _decoded_head(where, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorldBankParseError(f"{where}: not valid UTF-8 in its first lines") from None


def check_bulk_zip(path: Path) -> None:
    """An incoming zip's form, without reading its millions of values (the raw asset reads them,
    naming any bad line): the data file's header, and the series and country lists."""
    where, raw = bulk_zip.data_file_head(path)
    _layout(where, _decoded_head(where, raw))
    bulk_zip.read_series(path)
    bulk_zip.read_countries(path)


def read_indicator_csvs(
    connection: duckdb.DuckDBPyConnection, paths: list[Path], extracted: frozenset[Path] = frozenset()
) -> dict[Path, str | None]:
    """Bulk CSV files as the temp view ``wdi_incoming``, one row per economy-year with a value
    (``value`` as a number; the checks below found every cell to be one), and each file's vintage. The temp view
    ``wdi_series_incoming`` lists each file's series with their names and the fingerprint of their
    values and lines, from the wide rows. Of the
    files ``extracted`` from a zip only the head is decoded here.

    Files of one layout are read by a single DuckDB scan, with the columns given rather than
    sniffed, into a wide temp table: the same work as DuckDB's bare read_csv of those files. The
    view unpivots them lazily, so at full-WDI scale the 19 million long rows are written once, by
    whatever selects from it; the checks below run on the wide rows.
    """
    layouts = {path: _layout(path, _head(path) if path in extracted else read_utf8(path)) for path in paths}
    groups = defaultdict(list)
    for path, layout in layouts.items():
        groups[(layout.skip, layout.columns)].append(path)
    numbered = []
    for number, ((skip, columns), group) in enumerate(groups.items()):
        table = f"wdi_wide_{number}"
        try:
            connection.execute(
                f"create or replace temp table {table} as select * from {_read_csv(skip, columns)}", _files(group)
            )
        except duckdb.Error as error:
            _raise_for_the_file(connection, group, skip, columns, error)
        numbered.append((_number_lines(connection, table, skip), columns))
    connection.execute(
        "create or replace temp view wdi_incoming as " + " union all ".join(_unpivoted(*each) for each in numbered)
    )
    connection.execute(
        "create or replace temp view wdi_series_incoming as "
        + " union all ".join(_series_of(lines, columns) for lines, columns in numbered)
    )
    _check_values(connection, numbered)
    return {path: layout.last_updated for path, layout in layouts.items()}


def read_indicator_csv(connection: duckdb.DuckDBPyConnection, path: Path) -> tuple[duckdb.DuckDBPyRelation, str | None]:
    """One bulk CSV as a long relation with numeric values, and its vintage."""
    vintage = read_indicator_csvs(connection, [path])[path]
    relation = connection.sql(
        "select country_code, country_name, indicator_code, indicator_name, year, value, source_line from wdi_incoming"
    )
    return relation, vintage


def _read_csv(skip: int, columns: tuple[str, ...]) -> str:
    """DuckDB's reader of the files bound as ``$files`` (a path never becomes SQL text), with the
    layout given, not sniffed: sniffing reads every file again. The column names passed _layout's checks."""
    types = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in columns) + "}"
    return (
        f"read_csv($files, skip={skip}, header=false, auto_detect=false, columns={types}, filename=true, "
        "strict_mode=true, null_padding=false, quote='\"', delim=',')"
    )


def _files(paths: list[Path]) -> dict[str, list[str]]:
    return {"files": [str(path) for path in paths]}


def _number_lines(connection: duckdb.DuckDBPyConnection, table: str, skip: int) -> str:
    """The view ``<table>_lines``: each wide row with its line in its file. Returns its name."""
    # DuckDB's CSV reader has no file_row_number, but it reads the files in the order given and
    # the table keeps that order, so a row's line is its rowid less its file's first, past the
    # lines skipped.
    connection.execute(
        f"""
        create or replace temp view {table}_lines as
        select w.*, cast({skip} + 1 + w.rowid - f.first_row as integer) as source_line
        from {table} as w
        join (select filename, min(rowid) as first_row from {table} group by filename) as f on w.filename = f.filename
        """
    )
    return f"{table}_lines"


def _unpivoted(lines: str, columns: tuple[str, ...]) -> str:
    """The SELECT that unpivots a ``_lines`` view into the long shape of ``wdi_incoming``."""
    years = ", ".join(f'"{name}"' for name in columns[4:] if name != "empty_last")
    return f"""
        select filename as source_file, source_line, "Country Code" as country_code, "Country Name" as country_name,
               "Indicator Code" as indicator_code, "Indicator Name" as indicator_name, cast(year as integer) as year,
               try_cast(trim(raw_value) as double) as value
        from (unpivot (select filename, source_line, "Country Code", "Country Name", "Indicator Code", "Indicator Name", {years}
                       from {lines})
              on {years} into name year value raw_value)
        where trim(raw_value) <> ''
    """


def _series_of(lines: str, columns: tuple[str, ...]) -> str:
    """Each series of a ``_lines`` view with its fingerprint: an order-free hash of its wide rows,
    lines and text, so a release is compared with the last one series by series without unpivoting."""
    cells = ", ".join(f'"{name}"' for name in columns if name != "empty_last")
    return f"""
        select filename as source_file, "Indicator Code" as indicator_code, any_value("Indicator Name") as indicator_name,
               bit_xor(hash(hash(source_line, {cells}))) as values_hash
        from {lines} group by filename, "Indicator Code"
    """


def _raise_for_the_file(
    connection, paths: list[Path], skip: int, columns: tuple[str, ...], error: duckdb.Error
) -> None:
    """A scan of many files failed: find the file, and say which, with DuckDB's reason."""
    for path in paths:
        try:
            connection.execute(f"select count(*) from {_read_csv(skip, columns)}", _files([path])).fetchall()
        except duckdb.Error as one:
            raise WorldBankParseError(f"{path}: DuckDB could not read it as CSV: {one}") from None
    raise WorldBankParseError(f"{paths[0].parent}: DuckDB could not read these CSV files: {error}") from None


def _not_numbers(connection: duckdb.DuckDBPyConnection, lines: str, columns: tuple[str, ...]) -> list[tuple]:
    """(file, line, code, year, text) of the first cells that are not numbers, found on the wide rows
    so that the values are unpivoted only once, when they are written."""
    years = [name for name in columns[4:] if name != "empty_last"]
    bad = " or ".join(f"""(trim("{year}") <> '' and try_cast(trim("{year}") as double) is null)""" for year in years)
    found = []
    for file, line, code, *cells in connection.execute(
        f"""select filename, source_line, "Country Code", {", ".join(f'"{year}"' for year in years)} from {lines}
            where {bad} order by filename, source_line limit 5"""
    ).fetchall():
        found += [
            (file, line, code, year, text.strip())
            for year, text in zip(years, cells)
            if text and text.strip() and _not_a_number(text.strip())
        ]
    return found[:5]


def _not_a_number(text: str) -> bool:
    try:
        float(text)
        return False
    except ValueError:
        return True


def _check_values(connection: duckdb.DuckDBPyConnection, wide: list[tuple[str, tuple[str, ...]]]) -> None:
    """Every value a number, every file holding its own indicator, every row an economy code: all on
    the wide rows, which are 64 times fewer than the values."""
    bad = sorted(cell for lines, columns in wide for cell in _not_numbers(connection, lines, columns))[:5]
    if bad:
        where = "; ".join(f"line {line} ({code}, {year}): {value!r}" for _, line, code, year, value in bad)
        raise WorldBankParseError(f"{bad[0][0]}: values that are not numbers: {where}")
    wide = [lines for lines, _ in wide]
    rows = " union all ".join(
        f'select filename, source_line, "Indicator Code" as code, "Country Code" as country from {table}'
        for table in wide
    )
    for file, codes in connection.execute(
        f"select filename, list(distinct code order by code) from ({rows}) group by 1"
    ).fetchall():
        expected = indicator_code_of(Path(file))
        if expected and codes != [expected]:
            raise WorldBankParseError(f"{file}: the file is named for {expected} but holds {codes}")
    blank = connection.execute(
        f"select filename, min(source_line) from ({rows}) where coalesce(trim(country), '') = '' group by 1 order by 1 limit 1"
    ).fetchall()
    if blank:
        raise WorldBankParseError(f"{blank[0][0]}: line {blank[0][1]}: blank Country Code")


def read_country_metadata_csv(path: Path) -> pd.DataFrame:
    """Metadata_Country_*.csv: region and income group per code; a blank region marks an aggregate."""
    text = read_utf8(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if header[: len(_METADATA_HEADER)] != _METADATA_HEADER:
        raise WorldBankParseError(f"{path}: line 1: unrecognised header {header}; expected {_METADATA_HEADER}")
    rows = []
    for fields in reader:
        if not any(fields):
            continue
        if len(fields) < len(_METADATA_HEADER):
            raise WorldBankParseError(
                f"{path}: line {reader.line_num}: {len(fields)} fields where the header has {len(header)}"
            )
        code, region, income, notes, name = (field.strip() for field in fields[:5])
        rows.append((code, name, region or None, income or None, notes or None, reader.line_num))
    return _country_frame(rows)


def read_country_metadata_json(path: Path) -> pd.DataFrame:
    """A live /country fetch saved by worldbank_api: the same columns as the CSV."""
    rows = []
    for record in _live_records(path):
        region = (record.get("region") or {}).get("value", "").strip()
        aggregate = (record.get("region") or {}).get("id") == "NA" or not region
        income = (record.get("incomeLevel") or {}).get("value", "").strip()
        rows.append(
            (
                record["id"].strip(),
                record["name"].strip(),
                None if aggregate else region,
                None if aggregate or not income else income,
                None,
                None,
            )
        )
    return _country_frame(rows)


def read_country_metadata_zip(path: Path) -> pd.DataFrame:
    """The zip's WDICountry.csv: the same columns as Metadata_Country_*.csv."""
    return _country_frame(bulk_zip.read_countries(path))


def _country_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["country_code", "country_name", "region", "income_group", "special_notes", "source_line"]
    )
    frame["is_aggregate"] = frame["region"].isna()
    # Explicit types: a live fetch has no notes at all, and an all-None column would load untyped.
    text = {column: "string" for column in ("country_code", "country_name", "region", "income_group", "special_notes")}
    return frame.astype({**text, "source_line": "Int32"})


def read_indicator_json(path: Path) -> tuple[pd.DataFrame, str | None]:
    """A live indicator fetch saved by worldbank_api, in the long shape of read_indicator_csv."""
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    rows = [
        (
            (record.get("countryiso3code") or "").strip() or record["country"]["id"],
            record["country"]["value"].strip(),
            record["indicator"]["id"],
            record["indicator"]["value"].strip(),
            int(record["date"]),
            float(record["value"]),
            None,
        )
        for record in _live_records(path)
        if record.get("value") is not None
    ]
    frame = pd.DataFrame(
        rows,
        columns=["country_code", "country_name", "indicator_code", "indicator_name", "year", "value", "source_line"],
    )
    return frame.astype({"year": "int32", "source_line": "Int32"}), snapshot.get("lastupdated")


def _live_records(path: Path) -> list[dict]:
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    records = []
    for body in snapshot["pages"]:
        payload = json.loads(body)
        records += payload[1] or []
    return records
