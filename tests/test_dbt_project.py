"""The dbt project: re-parsed only when a file of it changed since the manifest, and its
published models held to their contracts."""

import json
import os
import re
import shutil
import subprocess
import time

import duckdb
import pytest
from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.transform.dbt_project import DBT_PROJECT, keep_parse_state, manifest_is_current, prune_run_targets
from tests.conftest import dbt


def copy_of_the_project(tmp_path) -> DbtProject:
    """A copy whose files date from before its manifest, as after a parse."""
    folder = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT.project_dir, folder, ignore=shutil.ignore_patterns("logs", "*-*"))
    past = time.time() - 100
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (past, past))
    os.utime(folder / "target" / "manifest.json", (past + 50, past + 50))
    return DbtProject(project_dir=folder, profiles_dir=folder)


def test_an_unchanged_project_is_not_parsed_again(tmp_path):
    assert manifest_is_current(copy_of_the_project(tmp_path))


def test_an_edited_model_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    model = project.project_dir / "models" / "marts" / "wdi_dynamics.sql"
    model.write_text(model.read_text() + "\n")
    assert not manifest_is_current(project)


def test_a_removed_model_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    (project.project_dir / "models" / "marts" / "wdi_dynamics.sql").unlink()
    assert not manifest_is_current(project)


def test_a_clone_without_a_manifest_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    project.manifest_path.unlink()
    assert not manifest_is_current(project)


def test_only_the_newest_invocation_folders_are_kept_and_nothing_else_is_touched(tmp_path):
    names = [f"warehouse_dbt_models-run{n:02d}-abc" for n in range(25)]
    for age, name in enumerate(reversed(names)):  # run24 is the newest
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (time.time() - 60 * age, time.time() - 60 * age))
    for other in ("docs", "compiled", "other_op-run01-abc"):
        (tmp_path / other).mkdir()
    (tmp_path / "manifest.json").write_text("{}")
    prune_run_targets(tmp_path, "warehouse_dbt_models", keep=20)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        names[5:] + ["docs", "compiled", "other_op-run01-abc", "manifest.json"]
    )


def test_the_parse_state_of_the_latest_invocation_is_the_one_the_next_starts_from(tmp_path):
    target, invocation = tmp_path / "target", tmp_path / "target" / "warehouse_dbt_models-run01-abc"
    invocation.mkdir(parents=True)
    (target / "partial_parse.msgpack").write_bytes(b"parsed for another home")
    keep_parse_state(invocation, target)  # an invocation that stopped before parsing leaves the state as it was
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed for another home"
    (invocation / "partial_parse.msgpack").write_bytes(b"parsed for this home")
    keep_parse_state(invocation, target)
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed for this home"
    assert sorted(path.name for path in target.iterdir()) == ["partial_parse.msgpack", invocation.name]


def test_the_manifest_does_not_depend_on_the_warehouse_home():
    """So a manifest parsed for one home serves every other: the suite parsed it for a temporary
    home (conftest.py), and neither that folder nor any home path is written in it."""
    text = DBT_PROJECT.manifest_path.read_text()
    assert "build.duckdb" not in text and "dbt-parse-" not in text and "WAREHOUSE_HOME" not in text
    manifest = json.loads(text)
    databases = {node["database"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert databases == {"build"}


def test_each_not_null_constraint_of_a_contract_has_its_test_for_spark_and_each_such_test_its_constraint():
    """On DuckDB a contracted column's not_null is a constraint; on Spark, whose contract is not
    enforced, the same rule is the test not_null_unless_enforced, disabled on DuckDB. Neither may be
    written without the other, or one engine would not check the column."""
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    constrained = {
        (node["name"], column)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        for column, spec in node["columns"].items()
        if any(constraint["type"] == "not_null" for constraint in spec.get("constraints", []))
    }
    tested = {
        (node["attached_node"].split(".")[-1], node["column_name"])
        for nodes in manifest["disabled"].values()
        for node in nodes
        if node.get("test_metadata", {}).get("name") == "not_null_unless_enforced"
    }
    assert constrained == tested and ("dim_country", "country_name") in tested


CHANGED_TYPE = ("    egdi,\n", "    cast(egdi as varchar) as egdi,\n")
# Kyrgyzstan without its name: a NULL in a column whose not_null constraint the contract enforces.
NAMELESS = ("    country_name,\n", "    case when iso3 <> 'KGZ' then country_name end as country_name,\n")
# Kazakhstan's row for 2022 twice: a duplicated key.
DUPLICATED_KEY = (
    "from {{ ref('int_un_egov__scores') }}",
    "from (select * from {{ ref('int_un_egov__scores') }} union all "
    "select * from {{ ref('int_un_egov__scores') }} where iso3 = 'KAZ' and survey_year = 2022)",
)


def build_a_changed_copy(built, tmp_path, model_name: str, edit: tuple[str, str]) -> subprocess.CompletedProcess:
    """`dbt build` of one model in a copy of the project whose model has ``edit`` applied."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / f"{model_name}.sql"
    text = model.read_text(encoding="utf-8")
    assert edit[0] in text
    model.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    shutil.copytree(built.build_dir, tmp_path / "build", ignore=shutil.ignore_patterns("*.lock", "refresh.holder"))
    settings = Settings(home=tmp_path, snapshots_dir=built.snapshots_dir)
    return dbt(project, settings, tmp_path / "target", "build", "--select", model_name)


@pytest.mark.slow
def test_a_changed_column_type_fails_the_contract_before_the_table_is_built(built, tmp_path):
    """marts.* and paper.* have enforced contracts: a copy of the project whose egov_scores turns
    egdi into text fails `dbt build` with dbt's contract error, naming the column and both types."""
    result = build_a_changed_copy(built, tmp_path, "egov_scores", CHANGED_TYPE)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "This model has an enforced contract that failed." in result.stdout
    assert re.search(r"\| egdi\s+\| VARCHAR\s+\| DOUBLE\s+\| data type mismatch \|", result.stdout), result.stdout[
        -2000:
    ]


@pytest.mark.slow
def test_a_duplicated_key_fails_the_primary_key_and_leaves_the_table_as_it_was(built, tmp_path):
    """The keys are primary-key constraints DuckDB enforces while dbt fills the table: a copy of the
    project whose egov_scores repeats one row fails on that key, and the table built before stays."""
    result = build_a_changed_copy(built, tmp_path, "egov_scores", DUPLICATED_KEY)
    assert result.returncode == 1, result.stdout[-2000:]
    assert re.search(
        r"Constraint Error: PRIMARY KEY or UNIQUE constraint violation: duplicate key \"KAZ, 2022\"", result.stdout
    ), result.stdout[-2000:]
    with duckdb.connect(str(tmp_path / "build" / "build.duckdb"), read_only=True) as connection:
        assert connection.execute(
            "select count(*) from marts.egov_scores where iso3 = 'KAZ' and survey_year = 2022"
        ).fetchone() == (1,)


@pytest.mark.slow
def test_a_null_in_a_constrained_column_fails_the_build_without_a_second_test_saying_so(built, tmp_path):
    """A column that must not be NULL in a contracted model is a not_null constraint DuckDB enforces
    while dbt fills the table: a copy of the project whose dim_country loses Kyrgyzstan's name fails on
    that column, the table built before stays, and no not_null test runs after it (it would be a
    second dbt node and Dagster check saying the same; the Spark build keeps it, its contract not enforced)."""
    result = build_a_changed_copy(built, tmp_path, "dim_country", NAMELESS)
    assert result.returncode == 1, result.stdout[-2000:]
    assert re.search(r"Constraint Error: NOT NULL constraint failed: \S*dim_country\S*\.country_name", result.stdout), (
        result.stdout[-2000:]
    )
    assert "not_null_dim_country_un_region" in result.stdout  # a conditional not_null stays a test
    assert not re.search(
        r"not_null\w*_dim_country_(country_name|is_central_asia|is_un_member|is_wb_economy)", result.stdout
    )
    with duckdb.connect(str(tmp_path / "build" / "build.duckdb"), read_only=True) as connection:
        assert connection.execute("select country_name from marts.dim_country where iso3 = 'KGZ'").fetchone() == (
            "Kyrgyzstan",
        )
