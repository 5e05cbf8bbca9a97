"""The README and docs/: the front door stays short and links every page, no page quotes a timing,
and every example query in them, run against the shared build and checked against values the
test computes itself from the raw snapshot files (tests/raw_files.py), never from the marts.

And the docs say what the code has, found in the code each run: every environment variable it
reads and every `warehouse` subcommand and option are in docs/operating.md, nothing documented there
is gone from the code, and every path a page names is in the repository."""

import ast
import functools
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

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


# What docs/operating.md documents is what the code has: every environment variable the code reads,
# and every `warehouse` subcommand and option. Both are found in the code each run, so a setting or
# an option added later fails here until it is documented, and one removed until its row goes.

OPERATING = PROJECT_ROOT / "docs" / "operating.md"
PAGES = [PROJECT_ROOT / "README.md", *DOCS]
SETTING = re.compile(r"\bWAREHOUSE_[A-Z0-9_]+\b")
# Not settings, so not in operating.md, but each documented where it is used: WAREHOUSE_FAILPOINT
# has a refresh SIGKILL itself at a named point, which only the crash tests ask for (failpoints.py).
TEST_ONLY = {"WAREHOUSE_FAILPOINT": PROJECT_ROOT / "docs" / "developing.md"}


def _environment_read(node: ast.AST) -> str | None:
    """The name in ``os.environ.get("X")``, ``os.getenv("X")``, ``os.environ["X"]`` (read) or a
    source option's ``setting("X", default)``."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        called = ast.unparse(node.func)
        if called in ("os.environ.get", "os.getenv", "environ.get", "getenv", "setting"):
            return node.args[0].value
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and ast.unparse(node.value) in ("os.environ", "environ")
        and isinstance(node.slice, ast.Constant)
    ):
        return node.slice.value
    return None


@functools.cache
def settings_in_code() -> dict[str, set[str]]:
    """Every environment variable the code reads, with the files that name it: each WAREHOUSE_* in a
    string literal of orchestration/ (limits.py's Limit(...), settings.py, each source's Options,
    the CLI, the sensors, failpoints.py), every other variable read through os.environ or a source's
    ``setting(...)``, and every variable dbt's profile and macros read with ``env_var`` (dbt reads
    WAREHOUSE_DBT_TARGET, and the variables the warehouse sets for it)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / "orchestration").rglob("*.py")):
        where = str(path.relative_to(PROJECT_ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=where)):
            names = (
                SETTING.findall(node.value) if isinstance(node, ast.Constant) and isinstance(node.value, str) else []
            )
            names += [name for name in [_environment_read(node)] if isinstance(name, str)]
            for name in names:
                found.setdefault(name, set()).add(where)
    dbt = PROJECT_ROOT / "dbt_project"
    for path in [
        dbt / "profiles.yml",
        dbt / "dbt_project.yml",
        *sorted(dbt.glob("macros/**/*.sql")),
        *sorted(dbt.glob("models/**/*")),
    ]:
        if path.is_file():
            for name in re.findall(r"env_var\(\s*['\"]([A-Z][A-Z0-9_]*)['\"]", path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row of ``text`` (an escaped ``\\|`` stays in its cell)."""
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in text.splitlines()
        if line.startswith("|") and not re.fullmatch(r"\|[-| :]*\|", line.strip())
    ]


def documented_settings() -> set[str]:
    """The variables with a row of their own in a table of docs/operating.md."""
    rows = table_rows(OPERATING.read_text(encoding="utf-8"))
    return {match[1] for cells in rows if (match := re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", cells[0]))}


def test_every_setting_the_code_reads_has_its_row_in_operating_md():
    documented = documented_settings()
    missing = {
        name: sorted(where) for name, where in settings_in_code().items() if name not in documented | set(TEST_ONLY)
    }
    assert not missing, f"read by the code but with no row in docs/operating.md (setting, default, what): {missing}"


def test_every_setting_the_docs_name_is_read_by_the_code():
    code = set(settings_in_code())
    named = {
        (page.name, name)
        for page in PAGES
        for name in SETTING.findall(page.read_text(encoding="utf-8"))
        if name not in code
    }
    rows = {("operating.md", name) for name in documented_settings() if name not in code}
    assert not named | rows, f"documented, but no code reads them (renamed or removed?): {sorted(named | rows)}"


@pytest.mark.parametrize("name", TEST_ONLY)
def test_a_test_only_variable_is_read_by_the_code_and_documented_with_its_tests(name):
    assert name in settings_in_code(), f"{name} is no longer read: drop it from TEST_ONLY"
    page = TEST_ONLY[name]
    assert name in page.read_text(encoding="utf-8"), f"{name}: document it in {page.name}"


WAREHOUSE_COMMAND = Path(sys.executable).with_name("warehouse")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _help(*words: str) -> str:
    """`warehouse ... --help`, unwrapped: the parser's own account of its subcommands and options."""
    done = subprocess.run(
        [str(WAREHOUSE_COMMAND), *words, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@functools.cache
def commands() -> dict[str, list[tuple[str, ...]]]:
    """Each subcommand of `warehouse` with its options, each as all the strings that give it
    (``("-f", "--file")``), read from the help the parser prints."""
    top = _help()
    listed = top.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
    names = re.findall(r"^ {4}([a-z][\w-]*)(?: |$)", listed, flags=re.M)
    assert names, top
    options = {}
    for name in names:
        page = _help(name)
        # A subcommand with actions of its own (`warehouse publications pin ...`): its options are theirs.
        actions = (
            re.findall(r"^ {4}([a-z][\w-]*) ", page.split("ACTION", 2)[-1], flags=re.M) if "ACTION" in page else []
        )
        pages = [page] + [_help(name, action) for action in actions]
        lines = [line for text in pages for line in re.findall(r"^  (-\S.*?)(?: {2,}|$)", text, flags=re.M)]
        options[name] = list(dict.fromkeys(tuple(OPTION.findall(line)) for line in lines))
    return options


def _spans(text: str) -> list[str]:
    """The inline code of ``text`` and the lines of its code blocks."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    # A shell comment in a block is prose ("refresh the warehouse from the embedded snapshots").
    lines = [re.sub(r"(^|\s)#.*", "", line) for block in blocks for line in block.splitlines()]
    return re.findall(r"`([^`\n]+)`", prose) + lines


def _gives(text: str, strings: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(string)}(?![\w-])", text) for string in strings)


def test_every_subcommand_and_option_has_its_row_in_operating_md():
    """Each subcommand has a row in the command table of docs/operating.md that names each of its
    options, and every option a row names is the option of its subcommand."""
    section = OPERATING.read_text(encoding="utf-8").split("## The `warehouse` command", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for cells in table_rows(section):
        for name in set(re.findall(r"(?<![\w/-])warehouse ([a-z][\w-]*)", cells[0])):
            rows[name] = rows.get(name, "") + "\n" + " | ".join(cells)
    problems = []
    for name, options in commands().items():
        if name not in rows:
            problems.append(f"`warehouse {name}` has no row")
            continue
        given = {string for strings in options for string in strings}
        problems += [
            f"`warehouse {name}`: {' / '.join(strings)} is not in its row"
            for strings in options
            if "--help" not in strings and not _gives(rows[name], strings)
        ]
        problems += [
            f"`warehouse {name}`'s row names {string}, which it does not take"
            for span in re.findall(r"`([^`]*)`", rows[name])
            for string in OPTION.findall(span)
            if string not in given
        ]
    problems += [f"a row for `warehouse {name}`, which does not exist" for name in rows if name not in commands()]
    assert "`--help`" in section, "say that every command has --help"
    assert not problems, problems


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_every_warehouse_command_a_page_shows_exists(page):
    """`warehouse <subcommand> --option ...` anywhere in the README and docs/, in inline code or a
    code block, names a subcommand that exists and options it takes; in operating.md, an option
    shown alone is an option of some subcommand."""
    known = commands()
    problems = []
    for span in _spans(page.read_text(encoding="utf-8")):
        for name, rest in re.findall(r"(?:^|[\s/])warehouse ([a-z][\w-]*)([^`]*)", span):
            if name not in known:
                problems.append(f"{span!r}: no subcommand {name!r}")
                continue
            given = {string for strings in known[name] for string in strings}
            problems += [
                f"{span!r}: `warehouse {name}` takes no {string}"
                for string in OPTION.findall(rest)
                if string not in given
            ]
        alone = OPTION.match(span)
        if (
            page == OPERATING
            and alone
            and alone[1] not in {s for options in known.values() for o in options for s in o}
        ):
            problems.append(f"{span!r}: no subcommand takes {alone[1]}")
    assert not problems, problems


# Every place in the repository a page names exists: links, and paths in inline code. A path with a
# placeholder (<source>, {year}, *) is a pattern, and what refreshes and dbt make at run time is not
# in a checkout: under warehouse/ only the snapshots are, and dbt_project/target/ and logs/ never.
MADE_AT_RUN_TIME = re.compile(r"warehouse/(?!snapshots/)|dbt_project/(target|logs)/|build/|rejected/")
# A path may start inside orchestration/ (`sources/countries.py`) or the dbt project (`macros/x.sql`).
BASES = [PROJECT_ROOT, PROJECT_ROOT / "orchestration", PROJECT_ROOT / "dbt_project"]


def _named_paths(page: Path) -> list[Path | str]:
    """Each path the page names, resolved, or as written when no folder of the repository holds
    its first part (a file name alone, a tag such as warehouse/full=true)."""
    text = page.read_text(encoding="utf-8")
    links = [page.parent / target for target in re.findall(r"\]\(((?!https?:|#)[^)#\s]+)", text)]
    named: list[Path | str] = [link.resolve() for link in links]
    for span in re.findall(r"`([^`\s]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if "/" not in span or re.search(r"[<>{}*=:$]", span) or MADE_AT_RUN_TIME.match(span):
            continue
        first = span.split("/", 1)[0]
        base = next((base for base in BASES if first and (base / first).is_dir()), None)
        named.append(base / span if base else span)
    return named


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_every_path_a_page_names_exists(page):
    paths = [path for path in _named_paths(page) if isinstance(path, Path)]
    missing = [str(path.relative_to(PROJECT_ROOT)) for path in paths if not path.exists()]
    assert not missing, f"{page.name} names paths that are not in the repository: {missing}"


LAYOUT_FILE = re.compile(r"`([\w.-]+(?:\.\w+|/)|[\w-]+/[\w/.-]+)`")


def test_the_layout_table_names_files_that_exist():
    """Each row of the layout in docs/developing.md names files (`sandbox.py`, `serving/`) that are
    in its folder, or in a package below it (`parser.py` of each source)."""
    text = (PROJECT_ROOT / "docs" / "developing.md").read_text(encoding="utf-8")
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = []
    for cells in table_rows(layout)[1:]:
        folder = re.fullmatch(r"`([\w./-]+?)/(\*\.py)?`", cells[0])
        if not folder or MADE_AT_RUN_TIME.match(folder[1] + "/"):
            continue
        root = PROJECT_ROOT / folder[1]
        for name in LAYOUT_FILE.findall(cells[1]):
            # The foundation (`orchestration/*.py`) is the folder's own files; other rows name packages' files too.
            found = (root / name).exists() or (not folder[2] and any(root.rglob(name.rstrip("/"))))
            if not found and name.startswith(("tests/", "orchestration/")):  # named from the project root
                found = (PROJECT_ROOT / name).exists()
            if not found:
                missing.append(f"{folder[1]}/: {name}")
    assert not missing, f"docs/developing.md's layout names what is not there: {missing}"
