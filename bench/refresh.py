"""A refresh as a data engineer runs it (`warehouse refresh`), split into its phases from the
Dagster run's own event log."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from bench.measure import WAREHOUSE, Measured, run
from orchestration.settings import PROJECT_ROOT

# The commit whose warm full refresh the target of issue #25 is a ratio of (at most 0.6 of it).
BASELINE = "a94c6c4"
# The `warehouse` command of a checkout at another commit (BASELINE, where it was orchestration/cli.py):
# run from that checkout's folder, whose packages then come first on the path (this environment's
# libraries are a superset of its pins).
OTHER_CHECKOUT_CLI = "import sys; from orchestration.cli import main; sys.exit(main())"

PHASES = ("startup", "ingestion", "gates", "dbt build", "publish", "report")


@dataclass(frozen=True)
class Refresh:
    measured: Measured
    phases: dict[str, float]  # seconds
    steps: dict[str, float]  # seconds per Dagster step


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A warehouse and Dagster instance of their own, so runs start from an empty build area."""
    return {"WAREHOUSE_HOME": str(home / "warehouse"), "DAGSTER_HOME": str(home / "dagster"), **extra}


def refresh(env: dict[str, str], *args: str) -> Refresh:
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    measured = run([WAREHOUSE, "refresh", *args], env)
    return Refresh(measured, *_phases(Path(env["DAGSTER_HOME"]), measured))


def _phases(dagster_home: Path, measured: Measured) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per phase: start-up is process start to run start; the rest are step durations."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(limit=1)
        if not records or records[0].start_time is None or records[0].start_time < measured.started_at:
            return {"startup": measured.wall_s}, {}  # the command ended before it launched a run
        latest = records[0]
        steps = {
            entry.step_key: entry.dagster_event.event_specific_data.duration_ms / 1000
            for entry in instance.all_logs(latest.dagster_run.run_id)
            if entry.dagster_event and entry.dagster_event.is_step_success
        }
        startup = latest.start_time - measured.started_at
    phases = dict.fromkeys(PHASES, 0.0) | {"startup": startup}
    for step, seconds in steps.items():
        phases[_phase_of(step)] += seconds
    return phases, steps


def _phase_of(step: str) -> str:
    if step.endswith("great_expectations"):
        return "gates"
    if step == "warehouse_dbt_models":
        return "dbt build"
    if step == "published_warehouse":
        return "publish"
    if step == "report":
        return "report"
    return "ingestion"


def full_and_no_change(repeats: int) -> tuple[list[Refresh], list[Refresh], Path]:
    """``repeats`` full refreshes from an empty warehouse home, each followed by a no-change
    refresh. The home's path stays the same, as a data engineer's does, so only the first run
    parses the dbt project for it. Returns the published warehouse for the query benchmark."""
    home = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    env = environment(home)
    full, unchanged = [], []
    for _ in range(repeats):
        shutil.rmtree(home / "warehouse", ignore_errors=True)
        full.append(refresh(env))
        unchanged.append(refresh(env))
    return full, unchanged, home / "warehouse" / "warehouse.duckdb"


@dataclass(frozen=True)
class Against:
    """Warm `warehouse refresh --full` runs of this checkout and of ``commit``, taken in turn."""

    commit: str
    today: list[Measured]
    baseline: list[Measured]

    @property
    def ratio(self) -> float:
        return statistics.median(m.wall_s for m in self.today) / statistics.median(m.wall_s for m in self.baseline)


def warm_full_against(commit: str, repeats: int) -> Against:
    """Each side in a warehouse home of its own, refreshed once (not measured), then ``repeats``
    full refreshes of each, alternating, so a slow minute of the machine falls on both."""
    root = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    checkout = root / "checkout"
    added = subprocess.run(
        ["git", "worktree", "add", "--detach", str(checkout), commit], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if added.returncode != 0:
        raise RuntimeError(
            f"commit {commit} could not be checked out beside this one (a shallow clone?): {added.stderr.strip()}"
        )
    try:
        sides = {
            "today": ([WAREHOUSE, "refresh"], PROJECT_ROOT),
            "baseline": ([sys.executable, "-c", OTHER_CHECKOUT_CLI, "refresh"], checkout),
        }
        homes = {name: environment(root / name) for name in sides}
        for name, (command, folder) in sides.items():
            Path(homes[name]["DAGSTER_HOME"]).mkdir(parents=True)
            run(command, homes[name], folder)
        measured: dict[str, list[Measured]] = {name: [] for name in sides}
        for _ in range(repeats):
            for name, (command, folder) in sides.items():
                measured[name].append(run([*command, "--full"], homes[name], folder))
        return Against(commit, measured["today"], measured["baseline"])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=PROJECT_ROOT, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
