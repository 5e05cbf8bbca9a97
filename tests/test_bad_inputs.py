"""The bad-input matrix: each bad upstream file stops the refresh with a message naming the file and
the row, check or reason; the published warehouse stays as it was; the bad input stays for
inspection; and the refresh runs green again once the input is fixed."""

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Settings
from orchestration.sources.snapshots import SourceProvenance, sha256_of
from tests.conftest import SNAPSHOTS, failure_text, materialize

# Every test here runs refreshes of its own: `make test`, not `make check`.
pytestmark = pytest.mark.slow


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
                            r"EGOV_DATA_2022\.csv: unmapped country names: 'Atlantis' matches no country"),
    "country-missing-from-a-year": Case("un_egov", UN_2022, edit_lines(lambda lines: lines[:8] + lines[9:]),
                                        r"\[states_per_survey_year\] expect_column_values_to_be_between\(column=n_states, min_value=193.*survey_year 2022"),
    "worldbank-non-numeric": Case("worldbank", "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv", edit_text('"130.4206754"', '"n/a"'),
                                  r"API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv: values that are not numbers: line 126 \(KAZ, 2022\): 'n/a'"),
    "worldbank-out-of-range": Case("worldbank", "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv", edit_text('"130.4206754"', '"1304.206754"'),
                                   r"\[series\] expect_column_values_to_be_between\(column=max_value, max_value=300\.0\).*"
                                   r"source_file API_IT\.CEL\.SETS\.P2_DS2_en_csv_v2_2987\.csv, country_code KAZ, indicator_code IT\.CEL\.SETS\.P2: max_value=1304\.206754"),
    "datareportal-unknown-metric": Case("datareportal", "figures.csv", edit_text(",internet_users,17.73,", ",internet_speed,17.73,"),
                                        r"figures\.csv: line 14: unknown metric 'internet_speed'"),
}


@pytest.fixture(scope="module")
def home_with_published(built, tmp_path_factory) -> Path:
    """A warehouse home whose build area and published file come from a good refresh."""
    home = tmp_path_factory.mktemp("bad_inputs") / "home"
    shutil.copytree(built.home, home, ignore=shutil.ignore_patterns("quality", "*.lock"))
    return home


def record_as_upstream(path: Path) -> None:
    provenance = SourceProvenance.load(path.parent)
    provenance.record(path, obtained_from="test: a bad upstream file", date_accessed="2026-11-28")
    provenance.save(path.parent)


def published_state(path: Path) -> tuple[str, list]:
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall()
    return sha256_of(path), tables


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_is_stopped_kept_and_recovered_from(name, home_with_published, tmp_path):
    case = CASES[name]
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    bad = snapshots / case.source / case.file
    case.damage(bad)
    record_as_upstream(bad)
    damaged = bad.read_bytes()
    settings = Settings(home=home_with_published, snapshots_dir=snapshots)
    before = published_state(settings.published_db)

    result = materialize(settings, source=case.source)

    assert not result.success
    assert re.search(case.message, failure_text(result), flags=re.S), failure_text(result)
    assert "published_warehouse" not in {e.step_key for e in result.all_events if e.is_step_success}
    assert published_state(settings.published_db) == before
    assert bad.read_bytes() == damaged, "the bad input is kept as it came, for inspection"

    shutil.copy2(SNAPSHOTS / case.source / case.file, bad)
    shutil.copy2(SNAPSHOTS / case.source / "provenance.json", snapshots / case.source / "provenance.json")
    fixed = materialize(settings, source=case.source)
    assert fixed.success, failure_text(fixed)
    assert published_state(settings.published_db)[1] == before[1]


def test_rows_a_gate_rejected_stay_in_the_build_area(home_with_published, tmp_path):
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    bad = snapshots / "un_egov" / UN_2022
    CASES["index-value-1.7"].damage(bad)
    record_as_upstream(bad)
    settings = Settings(home=home_with_published, snapshots_dir=snapshots)
    assert not materialize(settings, source="un_egov").success
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        assert connection.execute("select egdi, source_file, source_line from raw.un_egov_surveys "
                                  "where iso3 = 'KAZ' and survey_year = 2022").fetchall() == [(1.7, UN_2022, 9)]
    assert (settings.quality_dir / "un_egov_surveys" / "index.html").exists()
    # Restore the build area for the other tests in this module.
    assert materialize(Settings(home=home_with_published, snapshots_dir=SNAPSHOTS), source="un_egov").success
