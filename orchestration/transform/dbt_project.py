"""The dbt project handle and its preparation (the manifest the dbt assets are built from)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster_dbt import DbtProject, DbtProjectPreparer
from dbt.constants import PARTIAL_PARSE_FILE_NAME

from orchestration.library_adapters import WarehouseDbtCliResource
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings

_NOT_SOURCES = ("target", "logs", "dbt_packages")
# dagster-dbt gives every invocation a folder of its own under target/ (~6 MB: manifest, compiled
# SQL, run results, log); the newest are kept to look into, the rest would grow without end.
KEPT_RUN_TARGETS = 20


class WarehouseDbtPreparer(DbtProjectPreparer):
    """Writes target/manifest.json with `dbt parse` when a fresh clone has none or a file of the dbt
    project changed since, so that an unchanged project is not parsed again at every start-up. It
    runs this environment's dbt: dagster-dbt's own preparer runs the `dbt` found on PATH, which is
    not this environment's when .venv/bin/dagster or .venv/bin/warehouse runs without activating it."""

    def prepare(self, project: DbtProject) -> None:
        if not manifest_is_current(project):
            WarehouseDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
                ["parse", "--quiet"], target_path=project.target_path
            ).wait()

    def prepare_if_dev(self, project: DbtProject) -> None:
        """Under `dagster dev` (make ui) a parse when the project changed, so model edits show at
        once; anywhere else (`dagster definitions validate`, `dagster job execute`, a fresh clone) a
        parse only when there is no manifest at all."""
        if self.using_dagster_dev() or not project.manifest_path.exists():
            self.prepare(project)


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# DbtProject takes no preparer of ours in the pinned dagster-dbt; its own prepare_if_dev() would run
# the default one, so the project's preparation goes through this one.
PREPARER = WarehouseDbtPreparer()
# DbtProject.target_path is relative to the project folder, where dbt runs; this process runs elsewhere.
TARGET_DIR = DBT_PROJECT.project_dir / DBT_PROJECT.target_path


def prepare(settings: Settings) -> None:
    """The manifest the dbt assets are defined from, current before a refresh defines them."""
    os.environ.update(settings.dbt_env())
    PREPARER.prepare(DBT_PROJECT)


def manifest_is_current(project: DbtProject) -> bool:
    """Whether no file of the project changed since the manifest was parsed. The warehouse home
    does not matter: the manifest names the build database "build" whatever folder holds it, and
    a `dbt build` in another home re-parses by itself only when it runs ("profile has changed")."""
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    for top in project.project_dir.iterdir():
        if top.name in _NOT_SOURCES:
            continue
        # Folders too: a folder's time changes when a file in it is added, removed or renamed.
        if any(path.stat().st_mtime > built for path in [top, *top.rglob("*")]):
            return False
    return True


def prepare_at_load() -> None:
    """What loading the code location needs (WarehouseDbtPreparer.prepare_if_dev)."""
    os.environ.update(Settings.from_env().dbt_env())
    PREPARER.prepare_if_dev(DBT_PROJECT)


def prune_run_targets(target: Path, op_name: str, keep: int = KEPT_RUN_TARGETS) -> None:
    """Delete all but the ``keep`` newest folders dagster-dbt made in ``target`` for the op's invocations."""
    folders = [path for path in target.glob(f"{op_name}-*") if path.is_dir()]
    for folder in sorted(folders, key=lambda path: path.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def keep_parse_state(invocation_target: Path, target: Path) -> None:
    """Make the parse state an invocation wrote the one the next starts from. dagster-dbt copies
    target/partial_parse.msgpack into each invocation's folder, and dbt parses the whole project
    again unless that state was parsed with the same profile values, the build database's
    path among them: left as `dbt parse` wrote it, every build in a home other than the one it was
    parsed for re-parses. Replaced whole, as another home's refresh may be reading it."""
    state = invocation_target / PARTIAL_PARSE_FILE_NAME
    if not state.exists():
        return
    staged = target / f".{PARTIAL_PARSE_FILE_NAME}.{os.getpid()}"
    shutil.copyfile(state, staged)
    os.replace(staged, target / PARTIAL_PARSE_FILE_NAME)
