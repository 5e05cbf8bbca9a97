"""The bad-input matrix: each bad upstream file is refused with a message naming the file and the
row, check or reason, by the parser or by its raw table's gate. One case per source goes through
a whole refresh: it stops before publishing, the published warehouse stays as it was, the bad
input stays for inspection, and the repaired input restores the very same rows."""

import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Settings
from orchestration.sources.registry import SOURCES
from orchestration.sources.snapshots import SourceProvenance, sha256_of
from tests.conftest import SNAPSHOTS, copy_home, failure_text, materialize


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
    "index-value-1.7": Case("un_egov", UN_2022, edit_text('"Kazakhstan ",28,0.86280', '"Kazakhstan ",28,1.70000'),
                            r"expect_column_values_to_be_between\(column=egdi.*source_file EGOV_DATA_2022\.csv, source_line 9, survey_year 2022, iso3 KAZ: egdi=1\.7"),
    "duplicated-row": Case("un_egov", UN_2022, edit_lines(lambda lines: lines + [lines[8]]),
                           r"expect_compound_columns_to_be_unique\(column_list=\['survey_year', 'iso3'\]\).*EGOV_DATA_2022\.csv, source_line 195, survey_year 2022, iso3 KAZ"),
    "renamed-column": Case("un_egov", UN_2022, edit_text("E-Participation Index", "EPart Index"),
                           r"EGOV_DATA_2022\.csv: line 1: unrecognised header; missing \['E-Participation Index'\]"),
    "empty-file": Case("un_egov", UN_2022, lambda path: path.write_bytes(b""), r"EGOV_DATA_2022\.csv: the file is empty"),
    "truncated-file": Case("un_egov", UN_2022, lambda path: path.write_bytes(path.read_bytes()[:5000]),
                           r"EGOV_DATA_2022\.csv: line \d+: the file ends mid-row \(truncated\)"),
    "latin-1-file": Case("un_egov", UN_2022, edit_text("Kazakhstan", "Kazakhstan", encoding="latin-1"),
                         r"EGOV_DATA_2022\.csv: line \d+: not valid UTF-8"),
    "unknown-country": Case("un_egov", UN_2022, edit_text('"Kazakhstan "', '"Atlantis "'),
                            r"EGOV_DATA_2022\.csv: country names: line 9: 'Atlantis' is not in .*crosswalk\.csv \(country_converter has no suggestion"),
    "ambiguous-country": Case("un_egov", UN_2022, edit_text('"Kazakhstan "', '"Niger and Nigeria "'),
                              r"EGOV_DATA_2022\.csv: country names: line 9: 'Niger and Nigeria' is not in .*\(country_converter finds it ambiguous: NER, NGA"),
    "country-missing-from-a-year": Case("un_egov", UN_2022, edit_lines(lambda lines: lines[:8] + lines[9:]),
                                        r"\[states_per_survey_year\] expect_column_values_to_be_between\(column=n_states, min_value=193.*survey_year 2022"),
    "worldbank-non-numeric": Case("worldbank", "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv", edit_text('"130.4206754"', '"n/a"'),
                                  r"API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv: values that are not numbers: line 126 \(KAZ, 2022\): 'n/a'"),
    "worldbank-out-of-range": Case("worldbank", "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv", edit_text('"130.4206754"', '"1304.206754"'),
                                   r"\[series\] expect_column_values_to_be_between\(column=max_value, max_value=300\.0\).*"
                                   r"source_file API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv, country_code KAZ, indicator_code IT\.CEL\.SETS\.P2: max_value=1304\.206754"),
    # Years are content, so the gate checks them: DataReportal's reports start in 2011, and the year
    # after next is a typo (next year's report appears early in January).
    "datareportal-year-before-2011": Case("datareportal", "figures.csv", edit_text("KAZ,Kazakhstan,2023,internet_users,17.73,", "KAZ,Kazakhstan,1999,internet_users,17.73,"),
                                          r"expect_column_values_to_be_between\(column=report_year, min_value=2011\.0.*source_file figures\.csv, source_line 14.*report_year=1999"),
    "datareportal-year-beyond-next-year": Case("datareportal", "figures.csv", edit_text("KAZ,Kazakhstan,2023,internet_users,17.73,", f"KAZ,Kazakhstan,{NEXT_YEAR + 1},internet_users,17.73,"),
                                               rf"expect_column_values_to_be_between\(column=report_year, min_value=2011\.0, max_value={NEXT_YEAR}\.0\).*source_line 14.*report_year={NEXT_YEAR + 1}"),
    "datareportal-unknown-metric": Case("datareportal", "figures.csv", edit_text(",internet_users,17.73,", ",internet_speed,17.73,"),
                                        r"figures\.csv: line 14: unknown metric 'internet_speed'"),
}


PARSER_CASES = ["renamed-column", "empty-file", "truncated-file", "latin-1-file", "unknown-country", "ambiguous-country",
                "worldbank-non-numeric", "datareportal-unknown-metric"]
GATE_CASES = ["index-value-1.7", "duplicated-row", "country-missing-from-a-year", "worldbank-out-of-range",
              "datareportal-year-before-2011", "datareportal-year-beyond-next-year"]
# One case per source through a whole refresh (and a never-seen country name), then the repaired
# input: the rest stop in the parser or a gate alone, which is all a refresh runs before it stops.
END_TO_END = ["index-value-1.7", "unknown-country", "worldbank-non-numeric", "datareportal-unknown-metric"]
RAW_TABLES = {"un_egov": ["raw/un_egov_surveys"], "worldbank": ["raw/wdi_observations", "raw/wdi_countries", "raw/wdi_indicators"],
              "datareportal": ["raw/datareportal_figures"]}


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


def test_the_matrix_covers_every_case_once():
    assert sorted(PARSER_CASES + GATE_CASES) == sorted(CASES) and set(END_TO_END) <= set(CASES)


@pytest.mark.parametrize("name", PARSER_CASES)
def test_the_parser_refuses_a_bad_file_naming_it_and_the_reason(name, tmp_path):
    case = CASES[name]
    bad = damaged_copy(case, tmp_path)
    with pytest.raises(ValueError) as refused:  # InputFileError, or CountryMappingError for names
        SOURCES[case.source].check_file(bad, Settings(home=tmp_path / "home", snapshots_dir=bad.parent.parent))
    assert re.search(case.message, str(refused.value), flags=re.S), str(refused.value)


@pytest.mark.parametrize("name", GATE_CASES)
def test_the_gate_refuses_a_bad_table_naming_the_row_and_the_expectation(name, tmp_path):
    case = CASES[name]
    bad = damaged_copy(case, tmp_path)
    settings = Settings(home=tmp_path / "home", snapshots_dir=bad.parent.parent)
    result = materialize(settings, [f"snapshots/{case.source}", *RAW_TABLES[case.source]])
    assert not result.success
    assert re.search(case.message, failure_text(result), flags=re.S), failure_text(result)


def test_a_passing_gate_writes_its_data_docs_and_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    settings = Settings(home=tmp_path / "home", snapshots_dir=SNAPSHOTS)
    assert materialize(settings, ["snapshots/datareportal", *RAW_TABLES["datareportal"]]).success
    assert (settings.quality_dir / "datareportal_figures" / "index.html").is_file()
    # No file; the one empty folder is the ephemeral Dagster instance's that `materialize` uses.
    assert [path for path in temporary.rglob("*") if path.is_file()] == []


@pytest.fixture(scope="module")
def home_with_published(built, tmp_path_factory) -> Path:
    """A warehouse home whose build area and published file come from a good refresh."""
    return copy_home(built, tmp_path_factory.mktemp("bad_inputs") / "home")


def raw_rows(build_db: Path, raw_table: str) -> list[tuple]:
    """Every row of a raw table but its load time, in a stable order."""
    with duckdb.connect(str(build_db), read_only=True) as connection:
        columns = [c for (c,) in connection.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? and column_name <> 'loaded_at' "
            "order by column_index", raw_table.split("/")).fetchall()]
        return connection.execute(f"select {', '.join(columns)} from {raw_table.replace('/', '.')} order by all").fetchall()


@pytest.mark.slow
@pytest.mark.parametrize("name", END_TO_END)
def test_a_bad_input_stops_the_refresh_and_the_repaired_one_restores_the_same_data(name, home_with_published, tmp_path):
    case = CASES[name]
    bad = damaged_copy(case, tmp_path)
    damaged, snapshots = bad.read_bytes(), bad.parent.parent
    settings = Settings(home=home_with_published, snapshots_dir=snapshots)
    published_before = sha256_of(settings.published_db)
    raw_before = {table: raw_rows(settings.build_db, table) for table in RAW_TABLES[case.source]}

    result = materialize(settings, source=case.source)

    assert not result.success
    assert re.search(case.message, failure_text(result), flags=re.S), failure_text(result)
    assert "published_warehouse" not in {e.step_key for e in result.all_events if e.is_step_success}
    assert sha256_of(settings.published_db) == published_before
    assert bad.read_bytes() == damaged, "the bad input is kept as it came, for inspection"
    if name == "index-value-1.7":
        # Rows a gate rejected stay in the build area, with the data docs that say why.
        with duckdb.connect(str(settings.build_db), read_only=True) as connection:
            assert connection.execute("select egdi, source_file, source_line from raw.un_egov_surveys "
                                      "where iso3 = 'KAZ' and survey_year = 2022").fetchall() == [(1.7, UN_2022, 9)]
        # Each expectation's reason is its GX description: printed with the failure, rendered in Data Docs.
        reason = "egdi is an index on a 0-1 scale (KNOWN_ANOMALIES lists the UN's own exceptions)"
        assert f"-- {reason}" in failure_text(result)
        docs = settings.quality_dir / "un_egov_surveys"
        assert (docs / "index.html").exists() and any(reason in page.read_text(encoding="utf-8") for page in docs.rglob("rows.html"))

    shutil.copy2(SNAPSHOTS / case.source / case.file, bad)
    shutil.copy2(SNAPSHOTS / case.source / "provenance.json", snapshots / case.source / "provenance.json")
    fixed = materialize(settings, source=case.source)
    assert fixed.success, failure_text(fixed)
    # The same rows as before the bad file, so the published file is still current and untouched.
    assert {table: raw_rows(settings.build_db, table) for table in RAW_TABLES[case.source]} == raw_before
    assert sha256_of(settings.published_db) == published_before
