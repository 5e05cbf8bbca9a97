"""Citations that last, and changes that show: pins past retention, the data package, and the diff
of two publications, through the command line and the served door."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
from frictionless import Package, validate

from bench.served import served
from orchestration import publications
from orchestration.publishing.published_file import publish
from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from tests.conftest import (
    ADDED_FIGURE,
    EDITED_FIGURE,
    REMOVED_FIGURE,
    SNAPSHOTS,
    copy_home,
    edited_figures,
    environment,
    run,
)

FIGURE_KEY = ("iso3", "report_year", "metric")


def key_of(figure: tuple) -> dict:
    return dict(zip(FIGURE_KEY, figure))


def home_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**environment(settings.home.parent, settings.snapshots_dir), "WAREHOUSE_HOME": str(settings.home), **extra}


def listing(settings: Settings) -> dict[str, bytes]:
    """Every file under the publications folder, with its bytes: what "writes nothing" compares."""
    folder = settings.publications_dir
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def own_home(built, tmp_path) -> Settings:
    return Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=SNAPSHOTS)


# What changed between two publications.


def test_the_diff_names_exactly_the_edited_rows_and_columns(two_publications):
    """The second publication was refreshed from a figures.csv with one value changed, one line
    removed and one added: the diff of marts.datareportal_figures names exactly those."""
    result = run(
        [
            "publications",
            "diff",
            two_publications.old,
            two_publications.new,
            "--table",
            "marts.datareportal_figures",
            "--format",
            "json",
        ],
        two_publications.env,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    (table,) = found["tables"]
    assert table["key"] == list(FIGURE_KEY)
    assert (table["added"], table["removed"], table["changed"]) == (1, 1, 1)
    assert table["changed_columns"] == {"value": 1}
    assert table["examples"] == [{"key": key_of(EDITED_FIGURE), "column": "value", "old": 51.1, "new": 52.3}]
    assert table["added_examples"] == [key_of(ADDED_FIGURE)]
    assert table["removed_examples"] == [key_of(REMOVED_FIGURE)]
    assert table["columns_added"] == table["columns_removed"] == []


def test_the_whole_diff_shows_the_snapshot_record_and_matches_the_refresh_s_summary(two_publications):
    result = run(
        ["publications", "diff", two_publications.old, two_publications.new, "--format", "json"], two_publications.env
    )
    found = json.loads(result.stdout)
    tables = {t["table"]: t for t in found["tables"]}
    assert set(tables) >= {"marts.datareportal_figures", "marts.source_snapshots", "paper.table_1"}
    # The snapshot record of figures.csv: its sha256, from the files themselves.
    record = tables["marts.source_snapshots"]
    (sha,) = [e for e in record["examples"] if e["column"] == "sha256"]
    assert sha["key"] == {"source": "datareportal", "file_name": "figures.csv"}
    assert sha["old"] == hashlib.sha256((SNAPSHOTS / "datareportal" / "figures.csv").read_bytes()).hexdigest()
    assert sha["new"] == hashlib.sha256(edited_figures()).hexdigest()
    # Nothing of the E-Government Survey changed.
    assert tables["marts.egov_scores"]["status"] == tables["paper.table_1"]["status"] == "unchanged"
    # The refresh said the same, and so does its report and the record.
    rows = sum(t["rows"] for t in found["tables"])
    line = f"{found['tables_changed']} tables changed: {rows} rows"
    assert f"it replaced {two_publications.old}: {line}" in two_publications.stdout
    report = (two_publications.settings.report_dir / "index.html").read_text(encoding="utf-8")
    assert f"It replaced publication <code>{two_publications.old}</code>: {line}" in report
    assert publications.find(two_publications.settings, two_publications.new).replaces == two_publications.old
    text = run(["publications", "diff", two_publications.old, two_publications.new], two_publications.env).stdout
    assert f"{two_publications.old} -> {two_publications.new}: {line}" in text
    assert "iso3='KGZ', report_year=2022, metric='internet_penetration': 51.1 -> 52.3" in text


def test_the_served_diff_is_the_command_line_s_and_immutable(two_publications):
    cli = run(
        ["publications", "diff", two_publications.old, two_publications.new, "--format", "json"], two_publications.env
    )
    with served(home_env(two_publications.settings)) as running:
        path = f"{running.url}/api/publications/{two_publications.old}/diff/{two_publications.new}"
        answer = requests.get(path, timeout=30)
        assert answer.status_code == 200 and answer.json() == json.loads(cli.stdout)
        assert requests.get(path, headers={"If-None-Match": answer.headers["ETag"]}, timeout=30).status_code == 304
        one = requests.get(path, params={"table": "marts.datareportal_figures"}, timeout=30).json()
        assert [t["table"] for t in one["tables"]] == ["marts.datareportal_figures"]
        unknown = requests.get(path, params={"table": "marts.nothing"}, timeout=30)
        assert unknown.status_code == 404 and "marts.nothing" in unknown.json()["message"]
        itself = requests.get(
            f"{running.url}/api/publications/{two_publications.new}/diff/{two_publications.new}", timeout=30
        )
        assert itself.json()["tables_changed"] == 0
        listed = {p["id"]: p for p in requests.get(f"{running.url}/api/publications", timeout=30).json()}
        assert (
            listed[two_publications.new]["current"] and listed[two_publications.new]["replaces"] == two_publications.old
        )
        assert listed[two_publications.new]["changes"]["tables_changed"] == json.loads(cli.stdout)["tables_changed"]


def test_a_publication_compared_with_itself_has_no_change(built):
    own = publications.current(built).id
    result = run(["publications", "diff", own, own], environment(built.home.parent))
    assert result.returncode == 0 and result.stdout.startswith(f"{own} -> {own}: no change\n"), result.stdout


# Bad input: a clear message, and nothing written.


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "20200101-000000-deadbeef", "CURRENT"],
        ["diff", "CURRENT", "../warehouse"],
        ["pin", "..", "--reason", "x"],
        ["pin", "20200101-000000-deadbeef", "--reason", "cited"],
        ["unpin", "../../etc/passwd"],
        ["export", "20200101-000000-deadbeef", "FOLDER"],
    ],
)
def test_an_unknown_id_is_refused_naming_those_kept_and_nothing_is_written(own_home, tmp_path, args):
    current = publications.current(own_home).id
    before = listing(own_home)
    args = [current if a == "CURRENT" else str(tmp_path / "out") if a == "FOLDER" else a for a in args]
    result = run(["publications", *args], home_env(own_home))
    assert result.returncode == 2, result.stdout + result.stderr
    unknown = next(a for a in args[1:] if a not in (current, "--reason", "x", "cited"))
    assert f"refused: no publication {unknown!r} is kept; those kept: {current}" in result.stderr
    assert listing(own_home) == before and not (tmp_path / "out").exists()


def test_an_export_into_a_folder_that_holds_files_or_into_the_warehouse_is_refused(own_home, tmp_path):
    current = publications.current(own_home).id
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "mine.txt").write_text("an analyst's own file")
    before = listing(own_home)
    result = run(["publications", "export", current, str(occupied)], home_env(own_home))
    assert result.returncode == 2 and f"{occupied} exists and is not empty" in result.stderr
    assert [p.name for p in occupied.iterdir()] == ["mine.txt"]
    inside = own_home.home / "deposit"
    result = run(["publications", "export", current, str(inside)], home_env(own_home))
    assert result.returncode == 2 and f"{inside} is inside {own_home.home}" in result.stderr
    assert not inside.exists() and listing(own_home) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


# Pins.


def test_a_pinned_publication_outlives_retention_and_pinning_twice_changes_nothing(own_home):
    env = home_env(own_home, WAREHOUSE_KEEP_PUBLICATIONS="1")
    cited = publications.current(own_home).id
    result = run(["publications", "pin", cited, "--reason", "cited in the 2027 paper"], env)
    assert result.returncode == 0 and f"pinned {cited}" in result.stdout
    pinned = listing(own_home)
    again = run(["publications", "pin", cited, "--reason", "another reason"], env)
    assert again.returncode == 0 and "was pinned already" in again.stdout and "cited in the 2027 paper" in again.stdout
    assert listing(own_home) == pinned
    assert not os.stat(publications.kept_file(own_home, publications.find(own_home, cited))).st_mode & 0o222

    published = []  # publish() reads the limit from this process's environment
    for run_id in ("aaaaaaaa-second", "bbbbbbbb-third", "cccccccc-fourth"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "1")
            publish(own_home, PUBLISHED_SCHEMAS, run_id=run_id)
        published.append(publications.newest(own_home).id)
    kept = [p.id for p in publications.kept(own_home)]
    assert kept == [published[-1], cited]  # the newest unpinned one, and the pinned one; the others are gone
    for gone in published[:-1]:
        assert not (own_home.publications_dir / f"{gone}.duckdb").exists()
    answer = run(["query", "--publication", cited, "--json", "select publication_id from meta.publication"], env)
    assert json.loads(answer.stdout) == [{"publication_id": cited}]
    shown = run(["publications", "list"], env).stdout
    assert f"{cited}  published" in shown and "cited in the 2027 paper" in shown
    assert "2 kept: 1 pinned, 1 unpinned" in shown

    assert run(["publications", "unpin", cited], env).returncode == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "1")
        publish(own_home, PUBLISHED_SCHEMAS, run_id="dddddddd-fifth")
    assert [p.id for p in publications.kept(own_home)] == [publications.newest(own_home).id]


def test_the_served_listing_says_which_publication_is_pinned_and_why(own_home):
    cited = publications.current(own_home).id
    publications.pin(own_home, cited, "cited")
    with served(home_env(own_home)) as running:
        (listed,) = requests.get(f"{running.url}/api/publications", timeout=30).json()
    assert listed["id"] == cited and listed["current"] and listed["pinned"]["reason"] == "cited"


# The data package.


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_exported_package_validates_and_every_table_reads_back_as_published(built, tmp_path, fmt):
    current = publications.current(built)
    target = tmp_path / "deposit"
    result = run(["publications", "export", current.id, str(target), "--format", fmt], environment(built.home.parent))
    assert result.returncode == 0, result.stderr
    report = validate(target / "datapackage.json")
    assert report.valid, report.flatten(["type", "note", "resourceName", "rowNumber", "fieldName"])[:10]

    package = Package(target / "datapackage.json")
    with duckdb.connect(str(publications.kept_file(built, current)), read_only=True) as db:
        published = [
            f"{s}.{t}"
            for s, t in db.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'paper') order by all"
            ).fetchall()
        ]
        assert sorted(r.name for r in package.resources) == published
        for resource in package.resources:
            expected = db.execute(f"select * from {resource.name}").fetchall()
            assert _read_back(target / resource.path, resource, fmt) == expected, resource.name
            keys = db.execute(
                "select constraint_column_names from duckdb_constraints() where constraint_type = 'PRIMARY KEY' "
                "and schema_name || '.' || table_name = ?",
                [resource.name],
            ).fetchall()
            if keys:
                assert resource.schema.primary_key == keys[0][0]
        sources = db.execute("select * from marts.source_snapshots order by all").df()

    descriptor = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["publication"]["id"] == current.id and descriptor["publication"]["inputs"] == current.inputs
    recorded = pd.DataFrame([{k: s.get(k) for k in sources.columns} for s in descriptor["sources"]])
    pd.testing.assert_frame_equal(recorded, sources, check_dtype=False)
    for citation in set(sources["citation"]):
        assert citation in descriptor["citation"]
    assert {lic["title"] for lic in descriptor["licenses"]} == {
        f"{p}: {lic}" for p, lic in set(zip(sources["producer"], sources["licence"]))
    }
    assert current.id in (target / "README.md").read_text(encoding="utf-8")


def _read_back(path: Path, resource, fmt: str) -> list[tuple]:
    """A table's rows as a reader of the package gets them: Parquet through Arrow, CSV through
    frictionless and its Table Schema (whose numbers are decimals)."""
    if fmt == "parquet":
        return [tuple(row.values()) for row in pq.read_table(path).to_pylist()]
    return [tuple(float(v) if isinstance(v, Decimal) else v for v in row.values()) for row in resource.read_rows()]


def test_the_served_package_is_the_exported_one_as_a_zip(built, tmp_path):
    current = publications.current(built)
    target = tmp_path / "deposit"
    assert run(["publications", "export", current.id, str(target)], environment(built.home.parent)).returncode == 0
    with served(environment(built.home.parent)) as running:
        answer = requests.get(f"{running.url}/api/publications/{current.id}/package", timeout=120)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert requests.get(f"{running.url}/api/publications/../package", timeout=30).status_code == 404
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
        assert names == sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
        for name in names:
            assert archive.read(name) == (target / name).read_bytes(), name


# The diff's own cases, on small publications made for them.


def _publication(path: Path, statements: list[str]) -> Path:
    with duckdb.connect(str(path)) as db:
        db.execute("create schema marts; create schema meta")
        db.execute("create table meta.table_keys (table_name varchar, key_columns varchar[])")
        db.execute("insert into meta.table_keys values ('marts.groups', ['iso3', 'year'])")
        for statement in statements:
            db.execute(statement)
    return path


def test_the_same_change_to_the_last_column_of_many_rows_is_found_and_a_retyped_column_compares_by_value(tmp_path):
    """A country's income group changes in each of its 24 years: the same change to the last
    column of 24 rows of one partition (plain hash() of several values would let them cancel in the
    XOR). A column retyped from DOUBLE to INTEGER with equal values is no change of its rows; a
    table whose columns were all renamed has its rows counted on each side."""
    rows = "select iso3, year, 1.0::double as n, group_name from (values ('KAZ'), ('UZB')) c(iso3), range(2000, 2024) y(year)"
    old = _publication(
        tmp_path / "old.duckdb",
        [
            f"create table marts.groups as select iso3, year, n, 'LMC' as group_name from ({rows.replace('group_name', 'null')})",
            "create table marts.renamed as select 1 as a",
        ],
    )
    new = _publication(
        tmp_path / "new.duckdb",
        [
            "create table marts.groups as select iso3, year, 1::integer as n, "
            "case when iso3 = 'UZB' then 'UMC' else 'LMC' end as group_name "
            "from (values ('KAZ'), ('UZB')) c(iso3), range(2000, 2024) y(year)",
            "create table marts.renamed as select 1 as b",
        ],
    )
    from orchestration.publishing import diff

    found = {t.table: t for t in diff.between(old, new, "old", "new", {"temp_directory": ""}).tables}
    groups = found["marts.groups"]
    assert (groups.added, groups.removed, groups.changed) == (0, 0, 24)
    assert groups.changed_columns == {"group_name": 24}
    assert groups.examples[0] == {
        "key": {"iso3": "UZB", "year": 2000},
        "column": "group_name",
        "old": "LMC",
        "new": "UMC",
    }
    assert groups.columns_retyped == [{"column": "n", "old": "DOUBLE", "new": "INTEGER"}]
    renamed = found["marts.renamed"]
    assert (renamed.rows_old, renamed.rows_new, renamed.columns_added, renamed.columns_removed) == (1, 1, ["b"], ["a"])


def test_a_mean_whose_last_bits_moved_is_no_change_and_a_real_change_to_a_float_is_one(tmp_path):
    """Two builds of the same inputs may sum a mean's terms in another order (DuckDB's threads), so
    its last bits move: no change. A change beyond FLOAT_TOLERANCE of the value is one."""
    from orchestration.publishing import diff

    means = "select iso3, year, {value} as mean_value from (values ('KAZ'), ('UZB')) c(iso3), range(2000, 2024) y(year)"
    old = _publication(
        tmp_path / "old.duckdb", [f"create table marts.groups as {means.format(value='0.1::double + 0.2::double')}"]
    )
    # 0.1 + 0.2 and 0.3 differ in their last bit (0.30000000000000004); KAZ 2023 moves by 1e-9.
    moved = "case when iso3 = 'KAZ' and year = 2023 then 0.3::double + 1e-9 else 0.3::double end"
    new = _publication(tmp_path / "new.duckdb", [f"create table marts.groups as {means.format(value=moved)}"])
    groups = {t.table: t for t in diff.between(old, new, "old", "new", {"temp_directory": ""}).tables}["marts.groups"]
    assert (groups.added, groups.removed, groups.changed, groups.status) == (0, 0, 1, "changed")
    assert [(e["key"], e["column"]) for e in groups.examples] == [({"iso3": "KAZ", "year": 2023}, "mean_value")]
    same = _publication(tmp_path / "same.duckdb", [f"create table marts.groups as {means.format(value='0.3::double')}"])
    unchanged = diff.between(old, same, "old", "same", {"temp_directory": ""}).tables
    assert [(t.table, t.status, t.rows) for t in unchanged] == [("marts.groups", "unchanged", 0)]
