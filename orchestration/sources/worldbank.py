"""World Bank WDI: the indicator configuration and the parsers of its snapshot files.

Bulk CSV files (``API_<code>_DS2_en_csv_v2_<n>.csv``) come in the layouts seen upstream:

- the original: UTF-8 with BOM, a 4-line preamble carrying "Last Updated Date", every field
  quoted, and a trailing comma that makes an empty last column;
- re-saved copies without the preamble, unquoted, with CRLF;
- the country metadata file, whose quoted notes span lines.

They are read by DuckDB's CSV reader and unpivoted inside DuckDB, so a file of any size streams
into the build database without passing through Python row by row. Live API fetches are saved as
JSON snapshots (see worldbank_api.py) and read here into the same shape.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.sources.text_files import InputFileError, read_utf8

INDICATOR_FILE = re.compile(r"^API_(?P<code>[A-Z0-9_.]+?)_(DS2_|pivoted_|live)")
COUNTRY_FILE_PATTERNS = ("Metadata_Country_*.csv", "country_live*.json")
_FIXED = ["Country Name", "Country Code", "Indicator Name", "Indicator Code"]
_METADATA_HEADER = ["Country Code", "Region", "IncomeGroup", "SpecialNotes", "TableName"]
_YEAR = re.compile(r"^\d{4}$")
UNITS = ("percent", "per_100", "count", "usd")
WEIGHTINGS = ("population", "none")


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


def load_config(path: Path) -> tuple[list[Indicator], LiveSettings]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    indicators = [Indicator(**entry) for entry in data.get("indicator", [])]
    for indicator in indicators:
        if indicator.unit not in UNITS or indicator.weighting not in WEIGHTINGS:
            raise ValueError(f"{path}: indicator {indicator.code}: unit must be one of {UNITS}, weighting one of {WEIGHTINGS}")
    codes = [indicator.code for indicator in indicators]
    if len(set(codes)) != len(codes) or not codes:
        raise ValueError(f"{path}: indicator codes must be present and distinct: {codes}")
    return indicators, LiveSettings(**data["live"])


def snapshot_key(path: Path) -> str | None:
    """What a snapshot file holds: an indicator code, "country" for the metadata, or None."""
    if any(path.match(pattern) for pattern in COUNTRY_FILE_PATTERNS):
        return "country"
    return indicator_code_of(path)


def indicator_code_of(path: Path) -> str | None:
    match = INDICATOR_FILE.match(path.name)
    return match.group("code") if match else None


@dataclass(frozen=True)
class _Layout:
    skip: int
    header: list[str]
    last_updated: str | None


def _layout(path: Path, text: str) -> _Layout:
    lines = text.splitlines()
    last_updated = None
    skip = 0
    if lines[0].lstrip('"').startswith("Data Source"):
        # The original layout: Data Source, blank, Last Updated Date, blank, then the header.
        preamble = [next(csv.reader([line]), []) for line in lines[:4]]
        if len(preamble[2]) < 2 or preamble[2][0] != "Last Updated Date":
            raise WorldBankParseError(f"{path}: line 3: expected \"Last Updated Date\" in the preamble")
        last_updated, skip = preamble[2][1], 4
    if len(lines) <= skip:
        raise WorldBankParseError(f"{path}: no header line")
    header = next(csv.reader([lines[skip]]))
    if header and header[-1] == "":
        header = header[:-1]  # the original layout's trailing comma
    years = header[4:]
    if header[:4] != _FIXED or not years or not all(_YEAR.match(year) for year in years):
        raise WorldBankParseError(
            f"{path}: line {skip + 1}: unrecognised header; expected {_FIXED} then years, got {header[:6]}..."
        )
    return _Layout(skip=skip, header=header, last_updated=last_updated)


def read_indicator_csv(connection: duckdb.DuckDBPyConnection, path: Path) -> tuple[duckdb.DuckDBPyRelation, str | None]:
    """A bulk CSV as a long relation (one row per economy-year with a value) and its vintage."""
    layout = _layout(path, read_utf8(path))
    years = layout.header[4:]
    source = (
        f"read_csv('{path}', skip={layout.skip}, header=true, all_varchar=true, strict_mode=true, "
        f"null_padding=false, quote='\"', delim=',')"
    )
    year_columns = ", ".join(f'"{year}"' for year in years)
    try:
        connection.execute(
            f"""
            create or replace temp table wdi_incoming as
            with numbered as (
                select *, {layout.skip + 1} + row_number() over () as source_line from {source}
            )
            select
                "Country Code" as country_code,
                "Country Name" as country_name,
                "Indicator Code" as indicator_code,
                "Indicator Name" as indicator_name,
                cast(year as integer) as year,
                trim(raw_value) as raw_value,
                source_line
            from (unpivot (select "Country Code", "Country Name", "Indicator Code", "Indicator Name",
                                  source_line, {year_columns} from numbered)
                  on {year_columns} into name year value raw_value)
            where trim(raw_value) <> ''
            """
        )
    except duckdb.Error as error:
        raise WorldBankParseError(f"{path}: DuckDB could not read it as CSV: {error}") from None
    _check_values(connection, path)
    relation = connection.sql(
        "select country_code, country_name, indicator_code, indicator_name, year, "
        "cast(raw_value as double) as value, source_line from wdi_incoming"
    )
    return relation, layout.last_updated


def _check_values(connection: duckdb.DuckDBPyConnection, path: Path) -> None:
    bad = connection.execute(
        "select source_line, country_code, year, raw_value from wdi_incoming "
        "where try_cast(raw_value as double) is null order by source_line limit 5"
    ).fetchall()
    if bad:
        where = "; ".join(f"line {line} ({code}, {year}): {value!r}" for line, code, year, value in bad)
        raise WorldBankParseError(f"{path}: values that are not numbers: {where}")
    codes = [row[0] for row in connection.execute("select distinct indicator_code from wdi_incoming").fetchall()]
    expected = indicator_code_of(path)
    if expected and codes and codes != [expected]:
        raise WorldBankParseError(f"{path}: the file is named for {expected} but holds {codes}")
    blank = connection.execute("select min(source_line) from wdi_incoming where coalesce(trim(country_code), '') = ''").fetchall()[0][0]
    if blank:
        raise WorldBankParseError(f"{path}: line {blank}: blank Country Code")


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
            raise WorldBankParseError(f"{path}: line {reader.line_num}: {len(fields)} fields where the header has {len(header)}")
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
        rows.append((record["id"].strip(), record["name"].strip(), None if aggregate else region,
                     None if aggregate or not income else income, None, None))
    return _country_frame(rows)


def _country_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["country_code", "country_name", "region", "income_group", "special_notes", "source_line"])
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
    frame = pd.DataFrame(rows, columns=["country_code", "country_name", "indicator_code", "indicator_name", "year", "value", "source_line"])
    return frame.astype({"year": "int32", "source_line": "Int32"}), snapshot.get("lastupdated")


def _live_records(path: Path) -> list[dict]:
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    records = []
    for body in snapshot["pages"]:
        payload = json.loads(body)
        records += payload[1] or []
    return records
