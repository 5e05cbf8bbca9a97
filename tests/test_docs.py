"""The README and docs/: the front door stays short and links every page, no page quotes a timing,
and every example query in them, run against the shared build and checked against values the
test computes itself from the raw snapshot files (tests/raw_files.py), never from the marts."""

import hashlib
import re

import country_converter as coco
import pandas as pd
import pytest

from orchestration.analysts.serving.examples import example_queries
from orchestration.settings import PROJECT_ROOT
from tests import raw_files as raw
from tests.paper_printed import expected_status, printed
from tests.raw_files import C5

SURVEY_YEARS = [2003, 2004, 2005, 2008, 2010, 2012, 2014, 2016, 2018, 2020, 2022, 2024]


QUERIES = example_queries()  # what the served console offers too


def name_of(iso3: str) -> str:
    return raw.survey(2024).loc[iso3, "name"]


def number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def close(got, expected, tolerance: float = 1e-9) -> bool:
    """Equal values, both missing, or numbers within ``tolerance`` (a rounded column's half unit)."""
    if expected is None or got is None:
        return got is None and expected is None
    if isinstance(expected, str):
        return got == expected
    return abs(got - expected) <= tolerance


def rows_close(got: list[tuple], expected: list[tuple], tolerance: float = 1e-9) -> bool:
    return len(got) == len(expected) and all(
        len(g) == len(e) and all(close(a, b, tolerance) for a, b in zip(g, e)) for g, e in zip(got, expected)
    )


def egdi_group(egdi: float) -> str:
    """The UN's published bands of the EGDI."""
    return "Very High" if egdi >= 0.75 else "High" if egdi >= 0.5 else "Middle" if egdi >= 0.25 else "Low"


def region_means(years: list[int], groups: set[str]) -> list[tuple]:
    """(year, group, mean EGDI, states reporting): the UN regions, Central Asia and the world."""
    expected = []
    for year in years:
        frame = raw.survey(year)
        frame = frame[frame.surveyed]
        members = {region: frame[frame.region == region] for region in frame.region.unique()}
        members |= {"Central Asia": frame.loc[frame.index.intersection(C5)], "World": frame}
        expected += [(year, group, part.egdi.mean(), len(part)) for group, part in members.items() if group in groups]
    return sorted(expected, key=lambda row: (row[0], row[1]))


def _central_asia_latest():
    frame = raw.survey(2024).loc[C5].sort_values("egdi", ascending=False)
    return [
        (row.name, row.egdi, int(row.rank), egdi_group(row.egdi), row.epi, int(row.epi_rank))
        for row in frame.itertuples()
    ]


def _ten_year_change():
    old, new = raw.survey(2012), raw.survey(2022)
    return {
        (
            name_of(iso3),
            old.loc[iso3, "egdi"],
            new.loc[iso3, "egdi"],
            (new.loc[iso3, "egdi"] / old.loc[iso3, "egdi"] - 1) * 100,
            int(old.loc[iso3, "rank"] - new.loc[iso3, "rank"]),
        )
        for iso3 in C5
    }


def _e_participation_leaders():
    old, new = raw.survey(2012), raw.survey(2022)
    leaders = new[new.epi_rank <= 15].copy()
    leaders["name"] = [name_of(iso3) for iso3 in leaders.index]
    leaders["change"] = [int(old.loc[iso3, "epi_rank"] - leaders.loc[iso3, "epi_rank"]) for iso3 in leaders.index]
    return [
        (row.name, row.epi, int(row.epi_rank), row.change)
        for row in leaders.sort_values(["epi_rank", "name"]).itertuples()
    ]


def _egdi_and_connectivity():
    expected = []
    for iso3 in C5:
        for year in (y for y in SURVEY_YEARS if y >= 2012):
            frame = raw.survey(year)
            if frame.loc[iso3, "surveyed"]:
                expected.append(
                    (
                        name_of(iso3),
                        year,
                        frame.loc[iso3, "egdi"],
                        number(raw.wdi("IT.NET.USER.ZS").loc[iso3].get(str(year))),
                        number(raw.wdi("IT.NET.BBND.P2").loc[iso3].get(str(year))),
                    )
                )
    return sorted(expected, key=lambda row: (row[0], row[1]))


def _income_groups():
    """The coverage rules: no mean below 80 % of the economies, no weighted mean below 90 % of
    the group's people; the weighted mean weights by population."""
    users, population = raw.wdi("IT.NET.USER.ZS")["2022"], raw.wdi("SP.POP.TOTL")["2022"]
    expected = set()
    for group, members in raw.economies().groupby("IncomeGroup").groups.items():
        values = users.reindex(members).dropna()
        coverage = len(values) / len(members)
        weights = population.reindex(values.index)
        weight_coverage = weights.sum() / population.reindex(members).sum()
        expected.add(
            (
                group,
                len(values),
                len(members),
                round(coverage, 2),
                round(weight_coverage, 2),
                values.mean() if coverage >= 0.8 else None,
                (values * weights).sum() / weights.sum() if weight_coverage >= 0.9 else None,
            )
        )
    return expected


def _study_against_the_world_bank():
    figures = {
        row["iso3"]: row
        for row in raw.datareportal_figures()
        if row["report_year"] == "2022" and row["metric"] == "internet_penetration"
    }
    expected = set()
    for iso3 in C5:
        cited, qualifier = float(figures[iso3]["value"]), figures[iso3]["qualifier"] or None
        wb = number(raw.wdi("IT.NET.USER.ZS").loc[iso3, "2022"])
        expected.add((name_of(iso3), cited, qualifier, wb, None if qualifier or wb is None else round(cited - wb, 1)))
    return expected


def _where_a_number_came_from():
    path = raw.SNAPSHOTS / "un_egov" / "EGOV_DATA_2022.csv"
    line = next(
        n
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith('2022,"Kazakhstan')
    )
    record = raw.provenance_of("un_egov", path.name)
    return [
        (
            raw.survey(2022).loc["KAZ", "egdi"],
            path.name,
            line,
            hashlib.sha256(path.read_bytes()).hexdigest(),
            record["citation"],
            record["obtained_from"],
        )
    ]


def _where_a_wdi_value_came_from():
    name = raw.WDI_FILES["IT.NET.USER.ZS"]
    lines = (raw.SNAPSHOTS / "worldbank" / name).read_text(encoding="utf-8-sig").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if ",UZB," in text or '"UZB"' in text)
    vintage = raw.provenance_of("worldbank", name)["vintage"]
    values = raw.wdi("IT.NET.USER.ZS").loc["UZB"].dropna()
    return [(int(year), value, vintage, name, line) for year, value in values.items()]


def _other_claims():
    old, new = raw.survey(2012), raw.survey(2022)
    recomputed = {
        "central_asia_average_egdi": new.loc[C5, "egdi"].mean(),
        "kaz_tii_2022": new.loc["KAZ", "tii"],
        "kaz_epi_rank_2012": old.loc["KAZ", "epi_rank"],
        "kaz_epi_rank_drop": old.loc["KAZ", "epi_rank"] - new.loc["KAZ", "epi_rank"],
        **{f"{iso3.lower()}_egdi_rank_2022": new.loc[iso3, "rank"] for iso3 in C5},
    }
    claims = {row["claim_id"]: row["value"] for row in printed("other_claims.csv")}
    return {
        (
            claim,
            float(claims[claim]),
            float(recomputed[claim]),
            expected_status(claims[claim], float(recomputed[claim]), exact="rank" in claim),
        )
        for claim in claims
    }


def _table_1_mismatches():
    return {
        ("table_1", row["country"], measure)
        for row in printed("table1_egdi_central_asia.csv")
        for measure, value in raw.table_1(coco.convert(row["country"], to="ISO3")).items()
        if expected_status(row[measure], value, exact="rank" in measure) != "match"
    }


def check(db, title: str) -> None:
    rows = db.execute(QUERIES[title]).fetchall()
    if title.startswith("1. "):
        assert rows == _central_asia_latest()
    elif title.startswith("4. "):
        got = {(name, base, target, pct, change) for name, base, target, pct, change in rows}
        assert len(rows) == 5 and rows_close(sorted(got), sorted(_ten_year_change()), tolerance=0.05 + 1e-9)
    elif title.startswith("5. "):
        expected = region_means(
            SURVEY_YEARS, {"Africa", "Americas", "Asia", "Europe", "Oceania", "Central Asia", "World"}
        )
        assert rows_close(rows, expected, tolerance=0.00005 + 1e-12)
    elif title.startswith("6. "):
        assert rows == _e_participation_leaders()
    elif title.startswith("7. "):
        assert rows_close(rows, _egdi_and_connectivity())
    elif title.startswith("2. "):
        assert rows_close(sorted(rows, key=str), sorted(_income_groups(), key=str), tolerance=0.05 + 1e-9)
    elif title.startswith("8. "):
        assert rows_close(
            sorted((r[:5] for r in rows), key=str),
            sorted(_study_against_the_world_bank(), key=str),
            tolerance=0.05 + 1e-9,
        )
    elif title.startswith("3. "):
        assert rows == _where_a_number_came_from()
    elif title.startswith("9. "):
        assert rows == _where_a_wdi_value_came_from()
    elif title.startswith("Table 1:"):
        by_country = {coco.convert(row[0], to="ISO3"): row[1:] for row in rows}
        assert set(by_country) == set(C5)
        for iso3, (e22, e12, pct, rank, change) in by_country.items():
            expected = raw.table_1(iso3)
            assert (e22, e12, rank, change) == (
                expected["egdi_2022"],
                expected["egdi_2012"],
                expected["rank_2022"],
                expected["rank_change_since_2012"],
            )
            assert pct == pytest.approx(expected["dynamics_10y_pct"])
    elif title.startswith("Table 3:"):
        new = raw.survey(2022)
        countries = {coco.convert(row[1], to="ISO3") for row in rows}
        assert countries == set(new[new.epi_rank <= 15].index) | set(C5)
    elif title.startswith("Figure 1:"):
        expected = region_means(SURVEY_YEARS, {"Africa", "Americas", "Asia", "Europe", "Oceania", "Central Asia"})
        assert rows_close(rows, [row[:3] for row in expected], tolerance=0.00005 + 1e-12)
    elif title.startswith("Internet penetration 2022"):
        assert rows_close(
            sorted((r[:5] for r in rows), key=str),
            sorted(_study_against_the_world_bank(), key=str),
            tolerance=0.05 + 1e-9,
        )
    elif title.startswith("The study's other claims"):
        assert rows_close(sorted(row[:4] for row in rows), sorted(_other_claims()))
    elif title.startswith("Every printed number"):
        # Table 1 and the other claims, recomputed here; tests/test_paper.py audits Table 3 and internet penetration.
        shown = {
            (item, country, measure)
            for item, country, measure, *_ in rows
            if item not in ("table_3", "internet_penetration")
        }
        assert shown == _table_1_mismatches() | {
            (claim, None, "value") for claim, *_, status in _other_claims() if status != "match"
        }
    else:
        pytest.fail(f"example query {title!r} has no expected answer here: add one")


def test_the_pages_have_their_examples():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(re.findall(r"^-- \d+\. ", readme.split("```sql", 1)[1].split("```", 1)[0], flags=re.M)) == 3
    assert len(QUERIES) >= 10


DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))


def test_the_readme_is_a_short_front_door_linking_every_page():
    readme = PROJECT_ROOT / "README.md"
    assert readme.stat().st_size <= 16 * 1024
    linked = set(re.findall(r"\]\((docs/[a-z-]+\.md)\)", readme.read_text(encoding="utf-8")))
    assert linked == {f"docs/{page.name}" for page in DOCS} and len(DOCS) >= 6


# A measured duration written by hand ("227 s", "~6 s of a refresh", "3.5 minutes"): figures live
# in bench/RESULTS.md, which make bench writes.
TIMING = re.compile(r"\b\d[\d.,]*\s?(ms|s|seconds?|minutes?|min)\b")


@pytest.mark.parametrize("page", [PROJECT_ROOT / "README.md", *DOCS], ids=lambda path: path.name)
def test_no_page_quotes_a_timing(page):
    text = page.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # SQL and shell blocks may say "5 s" as a limit's value
    found = [line for line in prose.splitlines() if TIMING.search(line.replace("1-, 5- and 10-year", ""))]
    assert not found, f"{page.name}: timings belong in bench/RESULTS.md: {found}"


@pytest.mark.parametrize("title", QUERIES)
def test_readme_query_gives_the_values_of_the_raw_files(db, title):
    check(db, title)
