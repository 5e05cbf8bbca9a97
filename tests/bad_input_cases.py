"""The bad upstream files the tests feed the warehouse: each case names the source file, how it is
damaged, and the message that must refuse it (tests/test_bad_inputs.py runs them all;
tests/test_operations.py uses one for the status and alert of a failed refresh)."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration.snapshots.records import SourceProvenance
from tests.conftest import SNAPSHOTS


@dataclass(frozen=True)
class Case:
    source: str
    file: str
    damage: Callable[[Path], None]
    message: str


def edit_text(old: str, new: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        text = path.read_text(encoding="utf-8-sig")
        assert old in text, f"{old!r} not in {path.name}"
        path.write_bytes(text.replace(old, new, 1).encode(encoding))

    return damage


def edit_lines(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(change(lines)), encoding="utf-8")

    return damage


UN_2022 = "EGOV_DATA_2022.csv"
NEXT_YEAR = date.today().year + 1
CASES = {
    "index-value-1.7": Case(
        "un_egov",
        UN_2022,
        edit_text('"Kazakhstan ",28,0.86280', '"Kazakhstan ",28,1.70000'),
        r"expect_column_values_to_be_between\(column=egdi.*source_file EGOV_DATA_2022\.csv, source_line 9, survey_year 2022, iso3 KAZ: egdi=1\.7",
    ),
    "duplicated-row": Case(
        "un_egov",
        UN_2022,
        edit_lines(lambda lines: lines + [lines[8]]),
        r"expect_compound_columns_to_be_unique\(column_list=\['survey_year', 'iso3'\]\).*EGOV_DATA_2022\.csv, source_line 195, survey_year 2022, iso3 KAZ",
    ),
    "renamed-column": Case(
        "un_egov",
        UN_2022,
        edit_text("E-Participation Index", "EPart Index"),
        r"EGOV_DATA_2022\.csv: line 1: unrecognised header; missing \['E-Participation Index'\]",
    ),
    "empty-file": Case(
        "un_egov", UN_2022, lambda path: path.write_bytes(b""), r"EGOV_DATA_2022\.csv: the file is empty"
    ),
    "truncated-file": Case(
        "un_egov",
        UN_2022,
        lambda path: path.write_bytes(path.read_bytes()[:5000]),
        r"EGOV_DATA_2022\.csv: line \d+: the file ends mid-row \(truncated\)",
    ),
    "latin-1-file": Case(
        "un_egov",
        UN_2022,
        edit_text("Kazakhstan", "Kazakhstan", encoding="latin-1"),
        r"EGOV_DATA_2022\.csv: line \d+: not valid UTF-8",
    ),
    "unknown-country": Case(
        "un_egov",
        UN_2022,
        edit_text('"Kazakhstan "', '"Atlantis "'),
        r"EGOV_DATA_2022\.csv: country names: line 9: 'Atlantis' is not in .*crosswalk\.csv \(country_converter has no suggestion",
    ),
    "ambiguous-country": Case(
        "un_egov",
        UN_2022,
        edit_text('"Kazakhstan "', '"Niger and Nigeria "'),
        r"EGOV_DATA_2022\.csv: country names: line 9: 'Niger and Nigeria' is not in .*\(country_converter finds it ambiguous: NER, NGA",
    ),
    "country-missing-from-a-year": Case(
        "un_egov",
        UN_2022,
        edit_lines(lambda lines: lines[:8] + lines[9:]),
        r"\[states_per_survey_year\] expect_column_values_to_be_between\(column=n_states, min_value=193.*survey_year 2022",
    ),
    "worldbank-non-numeric": Case(
        "worldbank",
        "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv",
        edit_text('"130.4206754"', '"n/a"'),
        r"API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv: values that are not numbers: line 126 \(KAZ, 2022\): 'n/a'",
    ),
    "worldbank-out-of-range": Case(
        "worldbank",
        "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv",
        edit_text('"130.4206754"', '"1304.206754"'),
        r"\[series\] expect_column_values_to_be_between\(column=max_value, max_value=300\.0\).*"
        r"source_file API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv, country_code KAZ, indicator_code IT\.CEL\.SETS\.P2: max_value=1304\.206754",
    ),
    # Years are content, so the gate checks them: DataReportal's reports start in 2011, and the year
    # after next is a typo (next year's report appears early in January).
    "datareportal-year-before-2011": Case(
        "datareportal",
        "figures.csv",
        edit_text("KAZ,Kazakhstan,2023,internet_users,17.73,", "KAZ,Kazakhstan,1999,internet_users,17.73,"),
        r"expect_column_values_to_be_between\(column=report_year, min_value=2011\.0.*source_file figures\.csv, source_line 14.*report_year=1999",
    ),
    "datareportal-year-beyond-next-year": Case(
        "datareportal",
        "figures.csv",
        edit_text("KAZ,Kazakhstan,2023,internet_users,17.73,", f"KAZ,Kazakhstan,{NEXT_YEAR + 1},internet_users,17.73,"),
        rf"expect_column_values_to_be_between\(column=report_year, min_value=2011\.0, max_value={NEXT_YEAR}\.0\).*source_line 14.*report_year={NEXT_YEAR + 1}",
    ),
    "datareportal-unknown-metric": Case(
        "datareportal",
        "figures.csv",
        edit_text(",internet_users,17.73,", ",internet_speed,17.73,"),
        r"figures\.csv: line 14: unknown metric 'internet_speed'",
    ),
}


def damaged_copy(case: Case, tmp_path: Path) -> Path:
    """A copy of the snapshots with the case's file damaged and recorded as if upstream sent it."""
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    bad = snapshots / case.source / case.file
    case.damage(bad)
    provenance = SourceProvenance.load(bad.parent)
    provenance.record(bad, obtained_from="test: a bad upstream file", date_accessed="2026-11-28")
    provenance.save(bad.parent)
    return bad
