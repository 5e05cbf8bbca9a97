"""UN E-Government Survey: parse the Data Center's per-year CSV exports.

One file per survey year, ``EGOV_DATA_<year>.csv``, one row per UN member state. The quirks
handled here are the real ones listed in the snapshot's PROVENANCE.md:

- country names are quoted and often carry a trailing space;
- the 2024 file came with a renamed header, an extra Region column and CRLF line endings;
- states that were not yet members have a blank rank and all indices 0.00000, which means
  "not surveyed" and is loaded as NULL, never as 0.

Anything else unexpected is an error that names the file, the line and the reason.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from orchestration.sources.countries import to_iso3
from orchestration.sources.text_files import InputFileError, read_utf8

FILE_PATTERN = "EGOV_DATA_*.csv"
INDICES = ("egdi", "epi", "osi", "hci", "tii")
COLUMNS = ("survey_year", "country_name", "egdi_rank", *INDICES)

# Each header the upstream has been seen with, in the order of COLUMNS, plus columns we know
# and deliberately ignore (the 2024 uploader's Region: regions come from UN M49 instead).
_HEADERS = (
    (
        (
            "Survey Year",
            "Country Name",
            "E-Government Rank",
            "E-Government Index",
            "E-Participation Index",
            "Online Service Index",
            "Human Capital Index",
            "Telecommunication Infrastructure Index",
        ),
        (),
    ),
    (
        (
            "Survey Year",
            "Country",
            "Rank",
            "E_Index",
            "E_Participation",
            "Online_Service",
            "Human_Capital",
            "Tele_Infra",
        ),
        ("Region",),
    ),
)
_YEAR_IN_NAME = re.compile(r"EGOV_DATA_(\d{4})\.csv$")
# Every country name the surveys print, with its ISO3 code: reviewed, committed, extended by hand.
CROSSWALK = Path(__file__).with_name("crosswalk.csv")


class UnEgovParseError(InputFileError):
    """A survey file that cannot be read as the UN publishes it."""


@dataclass(frozen=True)
class _Row:
    line: int
    fields: dict[str, str]


def parse_file(path: Path) -> pd.DataFrame:
    """One survey file as a DataFrame with COLUMNS plus ``iso3``, ``surveyed`` and ``source_line``."""
    text = read_utf8(path)
    rows = list(_rows(path, text))
    if not rows:
        raise UnEgovParseError(f"{path}: no data rows below the header")
    year = _year_from_name(path)
    records = [_record(path, row, year) for row in rows]
    frame = pd.DataFrame.from_records(records)
    frame.insert(2, "iso3", to_iso3(list(zip(frame["source_line"], frame["country_name"])), CROSSWALK, where=str(path)))
    return frame.astype(
        {
            "survey_year": "int32",
            "egdi_rank": "Int32",
            **{index: "Float64" for index in INDICES},
            "surveyed": "bool",
            "source_line": "int32",
        }
    )


def parse_files(paths: list[Path]) -> pd.DataFrame:
    return pd.concat([parse_file(path) for path in paths], ignore_index=True)


def _rows(path: Path, text: str):
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader)]
    known = _match_header(path, header)
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            raise UnEgovParseError(f"{path}: line {line}: {len(fields)} fields where the header has {len(header)}")
        yield _Row(line, {column: fields[header.index(name)] for column, name in known.items()})


def _match_header(path: Path, header: list[str]) -> dict[str, str]:
    for expected, ignored in _HEADERS:
        if set(header) == set(expected) | set(ignored):
            return dict(zip(COLUMNS, expected))
    closest = min(_HEADERS, key=lambda variant: len(set(variant[0]) ^ set(header)))[0]
    missing = [name for name in closest if name not in header]
    extra = [name for name in header if name not in closest]
    raise UnEgovParseError(
        f"{path}: line 1: unrecognised header; missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
    )


def _year_from_name(path: Path) -> int:
    match = _YEAR_IN_NAME.search(path.name)
    if not match:
        raise UnEgovParseError(f"{path}: file name is not EGOV_DATA_<year>.csv")
    return int(match.group(1))


def _record(path: Path, row: _Row, year: int) -> dict:
    where = f"{path}: line {row.line}"
    fields = {column: value.strip() for column, value in row.fields.items()}
    survey_year = _number(where, "survey_year", fields["survey_year"], int)
    if survey_year != year:
        raise UnEgovParseError(f"{where}: survey year {survey_year} in a file named for {year}")
    name = fields["country_name"]
    if not name:
        raise UnEgovParseError(f"{where}: blank country name")
    values = {index: _number(where, index, fields[index], float) for index in INDICES}
    rank = fields["egdi_rank"]
    # A blank rank with every index at zero is the UN's placeholder for a state that was not a
    # member that year: not surveyed, so no values at all rather than zeros.
    surveyed = bool(rank)
    if not surveyed and any(values.values()):
        raise UnEgovParseError(f"{where}: {name!r} has no rank but non-zero indices")
    return {
        "survey_year": survey_year,
        "country_name": name,
        "egdi_rank": _number(where, "egdi_rank", rank, int) if surveyed else None,
        **{index: value if surveyed else None for index, value in values.items()},
        "surveyed": surveyed,
        "source_line": row.line,
    }


def _number(where: str, column: str, text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise UnEgovParseError(f"{where}: column {column}: {text!r} is not a number") from None
