"""The dbt project handle and its preparation (the manifest the dbt assets are built from)."""

from __future__ import annotations

import os

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR, Settings

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare(settings: Settings) -> None:
    """Write target/manifest.json with `dbt parse`, as a fresh clone has none."""
    os.environ.update(settings.dbt_env())
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)


def prepare_if_dev() -> None:
    """Under `dagster dev` (make ui) re-parse at load, so model edits show at once."""
    os.environ.update(Settings.from_env().dbt_env())
    DBT_PROJECT.prepare_if_dev()
