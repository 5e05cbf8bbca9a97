"""The analyst report and the browsable dbt docs, drawn after every successful publication."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg

from orchestration.analysts.report import write_report
from orchestration.publications import copy_path, newest
from orchestration.publishing.assets import published_warehouse
from orchestration.settings import DBT_EXECUTABLE, Settings
from orchestration.transform.changes import code_fingerprint
from orchestration.transform.dbt_project import DBT_PROJECT, PARTIAL_PARSE_FILE_NAME, TARGET_DIR
from orchestration.warehouse import DATA_OWNERS, Warehouse


@dg.asset(
    owners=DATA_OWNERS,
    key=["report"],
    deps=[published_warehouse],
    group_name="report",
    kinds={"html"},
    description="warehouse/report/index.html: the study's figures and tables recomputed and audited, offline; and docs.html, the dbt docs.",
)
def report(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse]) -> dg.MaterializeResult:
    settings = warehouse.settings
    # Drawn from the build area's copy of what was just published: the published file may be locked by an analyst.
    page = write_report(copy_path(settings), settings.report_dir / "index.html", newest(settings))
    shutil.copyfile(_dbt_docs(settings, context), settings.report_dir / "docs.html")
    context.log.info(f"report written to {page}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(page)),
            "dbt_docs": dg.MetadataValue.path(str(settings.report_dir / "docs.html")),
        }
    )


def docs_folder(code: str) -> Path:
    """Where the dbt docs of one version of the code are drawn."""
    return TARGET_DIR / "docs" / code[:16]


def _dbt_docs(settings: Settings, context: dg.AssetExecutionContext) -> Path:
    """`dbt docs generate --static` as a plain subprocess: DbtCliResource would first load a dbt
    adapter in this process that docs do not use. The project's manifest and partial-parse
    state are copied in, and --no-compile skips compiling every node: the docs show each
    model's SQL as written. The docs describe the models, not the data (the catalog's columns and
    types are the code's), so they are drawn once for each version of the code, under the dbt
    project's target folder, and every warehouse home of this checkout uses them."""
    drawn = docs_folder(code_fingerprint())
    if (drawn / "static_index.html").exists():
        context.log.info(f"dbt docs: drawn before for this version of the code ({drawn}); kept")
        return drawn / "static_index.html"
    drawn.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=".drawing-", dir=drawn.parent))
    for state in (DBT_PROJECT.manifest_path, TARGET_DIR / PARTIAL_PARSE_FILE_NAME):
        shutil.copyfile(state, target / state.name)
    done = subprocess.run(
        [
            DBT_EXECUTABLE,
            "docs",
            "generate",
            "--static",
            "--no-compile",
            "--target-path",
            str(target),
            "--project-dir",
            str(DBT_PROJECT.project_dir),
            "--profiles-dir",
            str(DBT_PROJECT.profiles_dir),
        ],
        cwd=DBT_PROJECT.project_dir,
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise RuntimeError(
            f"dbt docs generate failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        )
    target.chmod(0o755)  # mkdtemp's folder is its owner's alone; the docs are for anyone who can read the project
    try:
        target.rename(drawn)
    except OSError:  # another refresh drew the same docs meanwhile: theirs are as good
        shutil.rmtree(target, ignore_errors=True)
    return drawn / "static_index.html"
