"""The bad-input matrix: each bad upstream file is refused with a message naming the file and the
row, check or reason, by the parser or by its raw table's gate. One case per source goes through
a whole refresh: it stops before publishing, the published warehouse stays as it was, the bad
input stays for inspection, and the repaired input restores the very same rows."""

import re
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Settings
from orchestration.snapshots.records import sha256_of
from orchestration.sources.registry import SOURCES
from tests.bad_input_cases import CASES, UN_2022, damaged_copy
from tests.conftest import SNAPSHOTS, copy_home, failure_text, materialize

PARSER_CASES = [
    "renamed-column",
    "empty-file",
    "truncated-file",
    "latin-1-file",
    "unknown-country",
    "ambiguous-country",
    "worldbank-non-numeric",
    "datareportal-unknown-metric",
]
GATE_CASES = [
    "index-value-1.7",
    "duplicated-row",
    "country-missing-from-a-year",
    "worldbank-out-of-range",
    "datareportal-year-before-2011",
    "datareportal-year-beyond-next-year",
]
# One case per source through a whole refresh (and a never-seen country name), then the repaired
# input: the rest stop in the parser or a gate alone, which is all a refresh runs before it stops.
END_TO_END = ["index-value-1.7", "unknown-country", "worldbank-non-numeric", "datareportal-unknown-metric"]
RAW_TABLES = {
    "un_egov": ["raw/un_egov_surveys"],
    "worldbank": ["raw/wdi_observations", "raw/wdi_countries", "raw/wdi_indicators"],
    "datareportal": ["raw/datareportal_figures"],
}


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
        columns = [
            c
            for (c,) in connection.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ? and column_name <> 'loaded_at' "
                "order by column_index",
                raw_table.split("/"),
            ).fetchall()
        ]
        return connection.execute(
            f"select {', '.join(columns)} from {raw_table.replace('/', '.')} order by all"
        ).fetchall()


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
            assert connection.execute(
                "select egdi, source_file, source_line from raw.un_egov_surveys "
                "where iso3 = 'KAZ' and survey_year = 2022"
            ).fetchall() == [(1.7, UN_2022, 9)]
        # Each expectation's reason is its GX description: printed with the failure, rendered in Data Docs.
        reason = "egdi is an index on a 0-1 scale (KNOWN_ANOMALIES lists the UN's own exceptions)"
        assert f"-- {reason}" in failure_text(result)
        docs = settings.quality_dir / "un_egov_surveys"
        assert (docs / "index.html").exists() and any(
            reason in page.read_text(encoding="utf-8") for page in docs.rglob("rows.html")
        )

    shutil.copy2(SNAPSHOTS / case.source / case.file, bad)
    shutil.copy2(SNAPSHOTS / case.source / "provenance.json", snapshots / case.source / "provenance.json")
    fixed = materialize(settings, source=case.source)
    assert fixed.success, failure_text(fixed)
    # The same rows as before the bad file, so the published file is still current and untouched.
    assert {table: raw_rows(settings.build_db, table) for table in RAW_TABLES[case.source]} == raw_before
    assert sha256_of(settings.published_db) == published_before
