"""Write-audit-publish: the published file changes whole, or not at all."""

import json
import os
import shutil
import stat
import subprocess
import sys

import duckdb
import pytest

from orchestration import publications
from orchestration.publishing.published_file import publish
from orchestration.settings import PROJECT_ROOT, PUBLISHED_SCHEMAS, Settings
from orchestration.snapshots.records import sha256_of
from tests.conftest import SNAPSHOTS, environment, run


@pytest.fixture
def published_home(built, tmp_path) -> Settings:
    """A warehouse home holding a copy of a good published file and the build database it came from."""
    settings = Settings(home=tmp_path / "home", snapshots_dir=built.snapshots_dir)
    settings.build_dir.mkdir(parents=True)
    shutil.copy2(built.published_db, settings.published_db)
    shutil.copy2(built.build_db, settings.build_db)
    return settings


@pytest.mark.slow
def test_changed_code_rebuilds_everything_and_a_failing_dbt_test_stops_it_before_publishing(home, tmp_path):
    """A copy of the dbt project with one more test, which the data fails. The code changed, so
    every source is loaded again and every model rebuilt; the failed test stops the run before
    publishing, and the published file stays byte for byte as it was."""
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "tests" / "singular" / "kazakhstan_has_no_scores.sql").write_text(
        "-- A rule the data breaks on purpose: Kazakhstan has scores.\n"
        "select iso3, survey_year from {{ ref('egov_scores') }} where iso3 = 'KAZ'\n",
        encoding="utf-8",
    )
    published = home / "warehouse.duckdb"
    before = sha256_of(published)

    result = run(["refresh"], {**environment(tmp_path), "WAREHOUSE_DBT_PROJECT": str(project)})

    assert result.returncode == 1, result.stdout[-3000:]
    for source in ("un_egov", "worldbank", "datareportal"):
        assert f"{source}: loading (the code changed since it was loaded)" in result.stdout
    assert "the code changed since the last publication: building every model" in result.stdout
    assert "GATE    marts/egov_scores kazakhstan_has_no_scores: failed (dbt test)" in result.stderr
    assert "Failure in test kazakhstan_has_no_scores" in result.stderr and "Got 12 results" in result.stderr
    assert "ok      published_warehouse" not in result.stdout
    assert sha256_of(published) == before and f"{published} was left as it was" in result.stderr


def test_a_reader_keeps_its_snapshot_and_a_new_reader_sees_the_new_one(built, published_home):
    published = published_home.published_db
    old_run = (
        duckdb.connect(str(published), read_only=True)
        .execute("select dagster_run_id from meta.publication")
        .fetchone()[0]
    )
    reader = duckdb.connect(str(published), read_only=True)
    try:
        publish(published_home, PUBLISHED_SCHEMAS, run_id="second-publication")
        # The reader still sees the complete old file, and can keep querying it.
        assert reader.execute("select dagster_run_id from meta.publication").fetchone()[0] == old_run
        assert reader.execute("select count(*) from marts.egov_scores").fetchone()[0] == 2316
    finally:
        reader.close()
    with duckdb.connect(str(published), read_only=True) as fresh:
        assert fresh.execute("select dagster_run_id from meta.publication").fetchone()[0] == "second-publication"
        # 193 member states in each of the 12 survey files.
        assert fresh.execute("select count(*) from marts.egov_scores").fetchone()[0] == 193 * 12
        # Every published table holds exactly the build database's rows.
        fresh.execute(f"attach '{built.build_db}' as build (read_only)")
        relations = "select schema_name, table_name from duckdb_tables() where database_name = ? and schema_name in ('marts', 'paper')"
        tables = fresh.execute(relations, ["build"]).fetchall()
        assert sorted(tables) == sorted(
            fresh.execute(relations, [fresh.execute("select current_database()").fetchone()[0]]).fetchall()
        )
        for schema, table in tables:
            assert (
                fresh.execute(
                    f"select count(*) from (select * from build.{schema}.{table} "
                    f"except all select * from {schema}.{table})"
                ).fetchone()[0]
                == 0
            ), f"{schema}.{table}"
    assert not list(published.parent.glob(".tmp-*")) and not list(published_home.build_dir.glob(".tmp-*")), (
        "no staged file is left behind"
    )


def test_publishing_an_unreadable_build_leaves_the_old_file(published_home, tmp_path):
    before = sha256_of(published_home.published_db)
    published_home.build_db.write_bytes(b"not a database")
    with pytest.raises(duckdb.Error):
        publish(published_home, PUBLISHED_SCHEMAS, run_id="never")
    assert sha256_of(published_home.published_db) == before
    assert not list(published_home.home.glob(".tmp-*")) and not list(published_home.build_dir.glob(".tmp-*"))


def test_the_published_file_keeps_the_gate_history_of_its_run(built):
    """meta.gate_results: every gate of the run that published, passed and validated, with its counts."""
    with duckdb.connect(str(built.published_db), read_only=True) as connection:
        run_id = connection.execute("select dagster_run_id from meta.publication").fetchone()[0]
        rows = connection.execute(
            "select table_name, passed, validated, expectations, failed, failures from meta.gate_results "
            "where run_id = ? order by table_name",
            [run_id],
        ).fetchall()
    assert [row[0] for row in rows] == [
        "raw.datareportal_figures",
        "raw.un_egov_surveys",
        "raw.wdi_countries",
        "raw.wdi_observations",
    ]
    assert all(
        passed and validated and expectations > 0 and failed == 0 and failures is None
        for _, passed, validated, expectations, failed, failures in rows
    ), rows


MEMORY_PROBE = """
import json, os, subprocess, sys
from pathlib import Path
from orchestration.warehouse import Warehouse
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings
settings = Settings(home=Path(sys.argv[1]), snapshots_dir=Path(sys.argv[2]))
with Warehouse(settings).build_connection() as connection:
    build = connection.execute("select current_setting('memory_limit')").fetchone()[0]
target = settings.home / "dbt-target"
shown = subprocess.run([DBT_EXECUTABLE, "show", "--inline", "select current_setting('memory_limit') as m", "--output", "json",
                        "--log-format", "json", "--quiet", "--target-path", str(target)],
                       cwd=DBT_PROJECT_DIR, env={**os.environ, **settings.dbt_env()},
                       capture_output=True, text=True, check=True).stdout
print(json.dumps({"build": build, "dbt": json.loads(json.loads(shown.strip().splitlines()[-1])["data"]["preview"])[0]["m"]}))
"""


@pytest.mark.slow
def test_the_duckdb_memory_limit_setting_reaches_the_build_connection_and_dbt(tmp_path):
    """dbt writes its parse into a target folder of the test's own: written into the project's, it
    raced the refreshes of other workers reading target/manifest.json (one failed a clean-clone run)."""
    env = {**os.environ, "WAREHOUSE_DUCKDB_MEMORY_LIMIT": "321MiB"}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "home"), str(SNAPSHOTS)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"build": "321.0 MiB", "dbt": "321.0 MiB"}


def test_each_publication_is_kept_read_only_by_its_id_and_those_beyond_the_limit_go(published_home, monkeypatch):
    """Two publications with WAREHOUSE_KEEP_PUBLICATIONS=1: the newest is kept, the file as
    published; the older one goes, and a reader who has it open goes on reading it."""
    monkeypatch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "1")
    publish(published_home, PUBLISHED_SCHEMAS, run_id="aaaaaaaa-first")
    first = publications.current(published_home)
    reader = duckdb.connect(str(publications.kept_file(published_home, first)), read_only=True)
    try:
        publish(published_home, PUBLISHED_SCHEMAS, run_id="bbbbbbbb-second")
        kept = publications.kept(published_home)
        assert [p.run_id for p in kept] == ["bbbbbbbb-second"]
        assert sorted(p.name for p in published_home.publications_dir.iterdir() if p.name != ".lock") == [
            f"{kept[0].id}.duckdb",
            f"{kept[0].id}.json",
        ]
        assert reader.execute(
            "select dagster_run_id, count(*) from meta.publication, marts.egov_scores group by 1"
        ).fetchall() == [("aaaaaaaa-first", 2316)]
    finally:
        reader.close()
    with pytest.raises(
        publications.UnknownPublication, match=f"no publication '{first.id}' is kept; those kept: {kept[0].id}$"
    ):
        publications.find(published_home, first.id)
    path = publications.kept_file(published_home, kept[0])
    assert stat.S_IMODE(path.stat().st_mode) == 0o444, "kept read-only"
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("select publication_id, dagster_run_id from meta.publication").fetchall() == [
            (kept[0].id, "bbbbbbbb-second")
        ]
    with duckdb.connect(str(published_home.published_db), read_only=True) as connection:
        assert connection.execute("select publication_id from meta.publication").fetchall() == [(kept[0].id,)]
    assert publications.current(published_home) == kept[0]
