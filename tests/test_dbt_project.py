"""A refresh re-parses the dbt project only when a file of it changed since the manifest."""

import json
import os
import shutil
import time

from dagster_dbt import DbtProject

from orchestration.dbt_project import DBT_PROJECT, manifest_is_current

ENV = {"WAREHOUSE_BUILD_DB": "/somewhere/build/build.duckdb", "WAREHOUSE_DUCKDB_MEMORY_LIMIT": "1GB"}


def copy_of_the_project(tmp_path) -> DbtProject:
    """A copy whose files date from before its manifest, as after a parse."""
    folder = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT.project_dir, folder, ignore=shutil.ignore_patterns("logs", "*-*"))
    past = time.time() - 100
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (past, past))
    (folder / "target" / "parsed_for.json").write_text(json.dumps(ENV))
    for name in ("manifest.json", "parsed_for.json"):
        os.utime(folder / "target" / name, (past + 50, past + 50))
    return DbtProject(project_dir=folder, profiles_dir=folder)


def test_an_unchanged_project_is_not_parsed_again(tmp_path):
    assert manifest_is_current(copy_of_the_project(tmp_path), ENV)


def test_an_edited_model_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    model = project.project_dir / "models" / "marts" / "wdi_dynamics.sql"
    model.write_text(model.read_text() + "\n")
    assert not manifest_is_current(project, ENV)


def test_a_removed_model_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    (project.project_dir / "models" / "marts" / "wdi_dynamics.sql").unlink()
    assert not manifest_is_current(project, ENV)


def test_a_clone_without_a_manifest_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    project.manifest_path.unlink()
    assert not manifest_is_current(project, ENV)


def test_a_manifest_parsed_for_another_warehouse_needs_a_parse(tmp_path):
    project = copy_of_the_project(tmp_path)
    assert not manifest_is_current(project, {**ENV, "WAREHOUSE_BUILD_DB": "/elsewhere/build/build.duckdb"})
