"""DataReportal: the curated figures file and its rules, and the report-page parser over HTTP."""

import csv
import shutil
from pathlib import Path

import duckdb
import pytest
import requests

from orchestration.settings import Settings
from orchestration.snapshots.records import sha256_of
from orchestration.sources import countries
from orchestration.sources.datareportal import Options
from orchestration.sources.datareportal import parser as datareportal
from tests.conftest import DATAREPORTAL_PAGES, SNAPSHOTS, materialize
from tests.loopback import serve

FIGURES = SNAPSHOTS / "datareportal" / "figures.csv"
KNOWN = set(countries.reference_table()["iso3"])
CONFIG = datareportal.load_config(Options().config)
COUNTRY = {c.iso3: c for c in CONFIG.countries}


def test_the_curated_file_reads_whole():
    frame = datareportal.read_figures(FIGURES, KNOWN)
    with FIGURES.open(newline="", encoding="utf-8") as handle:
        assert len(frame) == sum(1 for _ in csv.DictReader(handle))
    uzb = frame[(frame.iso3 == "UZB") & (frame.metric == "internet_penetration")].iloc[0]
    assert (uzb.value, uzb.qualifier) == (70.0, "more_than")
    tkm = frame[(frame.iso3 == "TKM") & (frame.report_year == 2022) & (frame.metric == "internet_penetration")]
    assert list(tkm.value) == [38.1, 38.1] and tkm.quoted_in.nunique() == 2


def curated(tmp_path, *rows: str) -> Path:
    path = tmp_path / "figures.csv"
    header = ",".join(datareportal.COLUMNS)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


ROW = "KAZ,Kazakhstan,2022,internet_penetration,85.9,percent_of_population,,https://datareportal.com/reports/digital-2022,Someone,https://example.org,"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ROW.replace("internet_penetration", "broadband_speed"), r"line 2: unknown metric 'broadband_speed'"),
        (
            ROW.replace("percent_of_population", "million_people"),
            r"line 2: unit 'million_people' does not fit metric internet_penetration",
        ),
        (ROW.replace("KAZ,", "KZZ,", 1), r"line 2: unknown ISO3 code 'KZZ'"),
        (ROW.replace(",2022,", ",22,", 1), r"line 2: report year '22' is not a year"),
        (ROW.replace(",85.9,", ",eighty,"), r"line 2: value 'eighty' is not a number"),
        (ROW.replace(",,https", ",about,https"), r"line 2: qualifier 'about' must be empty, more_than or less_than"),
        (
            ROW.replace("https://datareportal.com/reports/digital-2022", "https://example.com/x"),
            r"line 2: report_url must be a datareportal.com report",
        ),
        (ROW.replace("Someone", ""), r"line 2: quoted_in \(who quoted the figure\) is empty"),
        (ROW + ",extra", r"line 2: wrong number of fields"),
    ],
    ids=[
        "unknown-metric",
        "wrong-unit",
        "unknown-iso3",
        "not-a-year",
        "not-a-number",
        "bad-qualifier",
        "not-a-report",
        "no-citation",
        "extra-field",
    ],
)
def test_bad_rows_are_refused_naming_the_row(tmp_path, row, message):
    with pytest.raises(datareportal.DataReportalError, match=r"figures\.csv: .*" + message):
        datareportal.read_figures(curated(tmp_path, row), KNOWN)


def test_the_same_figure_twice_is_one_fact_but_a_different_value_is_a_conflict(tmp_path):
    again = ROW.replace("Someone", "Someone else")
    assert len(datareportal.read_figures(curated(tmp_path, ROW, again), KNOWN)) == 2
    differs = ROW.replace("85.9", "88.0").replace("Someone", "Another paper")
    with pytest.raises(
        datareportal.DataReportalError,
        match=(
            r"conflicting figures.*KAZ 2022 internet_penetration has different values: "
            r"85.9 percent_of_population exact \(line 2, quoted in Someone\); 88 percent_of_population exact \(line 3, quoted in Another paper\)"
        ),
    ):
        datareportal.read_figures(curated(tmp_path, ROW, differs), KNOWN)
    bound = ROW.replace(",,https", ",more_than,https").replace("Someone", "A third")
    with pytest.raises(datareportal.DataReportalError, match="85.9 percent_of_population more_than"):
        datareportal.read_figures(curated(tmp_path, ROW, bound), KNOWN)


def test_a_renamed_column_is_refused(tmp_path):
    path = curated(tmp_path, ROW)
    path.write_text(path.read_text().replace("quoted_in", "source"), encoding="utf-8")
    with pytest.raises(datareportal.DataReportalError, match=r"line 1: header must be"):
        datareportal.read_figures(path, KNOWN)


def fetched(base_url: str, name: str) -> str:
    response = requests.get(f"{base_url}/reports/{name}", timeout=5)
    response.raise_for_status()
    return response.text


@pytest.fixture(scope="module")
def pages():
    fixtures = {f"/reports/{path.stem}": path.read_bytes() for path in DATAREPORTAL_PAGES.glob("digital-*.html")}
    with serve(fixtures) as base_url:
        yield base_url


def test_a_page_with_every_figure(pages):
    url = f"{pages}/reports/digital-2022-turkmenistan"
    figures, missing = datareportal.parse_report_page(
        fetched(pages, "digital-2022-turkmenistan"), COUNTRY["TKM"], 2022, url
    )
    found = {f["metric"]: (f["value"], f["unit"]) for f in figures}
    assert found == {
        "population": (6.16, "million_people"),
        "internet_users": (2.35, "million_people"),
        "internet_penetration": (38.1, "percent_of_population"),
        "cellular_mobile_connections": (4.92, "million_connections"),
        "cellular_mobile_connections_pct": (79.9, "percent_of_population"),
    }
    assert missing == ["social_media_users"]
    assert all(f["report_url"] == url and f["iso3"] == "TKM" for f in figures)
    # The same figures the curated file cites for Turkmenistan 2022, from the same template.
    curated_tkm = datareportal.read_figures(FIGURES, KNOWN).query("iso3 == 'TKM' and report_year == 2022")
    for row in curated_tkm.itertuples():
        if row.metric in found:
            assert found[row.metric] == (row.value, row.unit)


def test_a_page_missing_some_figures(pages):
    figures, missing = datareportal.parse_report_page(
        fetched(pages, "digital-2023-kyrgyzstan"), COUNTRY["KGZ"], 2023, "u"
    )
    assert {f["metric"]: (f["value"], f["unit"]) for f in figures} == {
        "internet_penetration": (12.3, "percent_of_population"),
        "social_media_users": (456.7, "thousand_people"),
    }
    assert missing == ["population", "internet_users", "cellular_mobile_connections"]


def test_a_page_whose_wording_changed_is_an_error_not_a_number(pages):
    with pytest.raises(
        datareportal.DataReportalError,
        match=r"digital-2024-tajikistan: internet_users: the wording no longer matches the template",
    ):
        datareportal.parse_report_page(
            fetched(pages, "digital-2024-tajikistan"), COUNTRY["TJK"], 2024, f"{pages}/reports/digital-2024-tajikistan"
        )


def test_a_page_for_another_year_or_country_does_not_match(pages):
    with pytest.raises(datareportal.DataReportalError, match="wording no longer matches"):
        datareportal.parse_report_page(fetched(pages, "digital-2022-turkmenistan"), COUNTRY["TKM"], 2023, "u")
    with pytest.raises(datareportal.DataReportalError, match="no headline figure"):
        datareportal.parse_report_page("<html><body>Page not found</body></html>", COUNTRY["TKM"], 2022, "u")


def test_a_live_check_stages_new_pages_and_their_figures_join_the_citations(tmp_path):
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    page = (DATAREPORTAL_PAGES / "digital-2022-turkmenistan.html").read_bytes()
    requested = []
    with serve({"/reports/digital-2022-turkmenistan": page}, requested) as base_url:
        settings = Settings(
            home=tmp_path / "home", snapshots_dir=snapshots, sources={"datareportal": Options(base_url=base_url)}
        )
        result = materialize(settings, ["snapshots/datareportal", "raw/datareportal_figures"], live=("datareportal",))
    assert result.success
    assert len(requested) == len(CONFIG.countries) * len(CONFIG.years)  # every configured page asked for; 404s skipped
    # Staged, loaded and gated, but no snapshot until a refresh publishes (tests/test_refresh_loop.py).
    assert (settings.build_dir / "staging" / "datareportal" / "digital-2022-turkmenistan.html").read_bytes() == page
    assert not (snapshots / "datareportal" / "digital-2022-turkmenistan.html").exists()
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        cited = connection.execute(
            "select source_kind, report_url from raw.datareportal_figures where iso3 = 'TKM' and report_year = 2022 "
            "and metric = 'internet_penetration' order by 1"
        ).fetchall()
    assert [kind for kind, _ in cited] == ["curated", "curated", "report_page"]
    assert cited[-1][1] == f"{base_url}/reports/digital-2022-turkmenistan"


def test_a_changed_template_in_a_live_check_saves_nothing_and_keeps_the_page_with_its_reason(tmp_path):
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    before = {p.name: sha256_of(p) for p in (snapshots / "datareportal").iterdir()}
    good = (DATAREPORTAL_PAGES / "digital-2022-turkmenistan.html").read_bytes()
    changed = (DATAREPORTAL_PAGES / "digital-2024-tajikistan.html").read_bytes()
    with serve({"/reports/digital-2022-turkmenistan": good, "/reports/digital-2024-tajikistan": changed}) as base_url:
        settings = Settings(
            home=tmp_path / "home", snapshots_dir=snapshots, sources={"datareportal": Options(base_url=base_url)}
        )
        result = materialize(settings, ["snapshots/datareportal"], live=("datareportal",))
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    assert (
        "digital-2024-tajikistan.html: internet_users: the wording no longer matches" in (error.cause or error).message
    )
    assert {p.name: sha256_of(p) for p in (snapshots / "datareportal").iterdir()} == before
    [rejected] = (settings.build_dir / "rejected" / "datareportal").iterdir()
    assert (rejected / "digital-2024-tajikistan.html").read_bytes() == changed
    assert "the wording no longer matches" in (rejected / "reason.txt").read_text()
