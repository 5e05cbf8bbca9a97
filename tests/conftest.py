"""Shared fixtures: one warehouse refreshed by the `warehouse` command into a temporary folder,
shared read-only by every test of a run (and by every pytest-xdist worker)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from filelock import FileLock

from orchestration.settings import DBT_EXECUTABLE, PROJECT_ROOT, Settings, prepare_process_environment
from orchestration.snapshots.records import sha256_of

SNAPSHOTS = PROJECT_ROOT / "warehouse" / "snapshots"
PAPER = PROJECT_ROOT / "dbt_project" / "seeds" / "paper"
# Saved DataReportal report pages, served by the tests' stand-in upstream.
DATAREPORTAL_PAGES = Path(__file__).parent / "fixtures" / "datareportal"
WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def pytest_configure(config):
    """Parse dbt's manifest before collection: test modules import the dbt assets, which are
    defined from it, and a fresh clone has none. Under pytest-xdist the controller parses once,
    before it starts the workers, so no two `dbt parse` write the same target folder."""
    prepare_process_environment()
    # Tests drop whole files into inboxes and refresh at once; an inbox file is taken once unchanged
    # for this long (default 5 s). The slow-writer test sets its own.
    os.environ.setdefault("WAREHOUSE_INBOX_SETTLE_S", "0.5")
    if hasattr(config, "workerinput"):
        return
    from orchestration.transform.dbt_project import prepare

    with tempfile.TemporaryDirectory(prefix="dbt-parse-") as home:
        prepare(Settings(home=Path(home), snapshots_dir=SNAPSHOTS))


def _embedded_snapshots() -> dict[str, str]:
    return {
        str(path.relative_to(SNAPSHOTS)): sha256_of(path) for path in sorted(SNAPSHOTS.rglob("*")) if path.is_file()
    }


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        session.config.embedded_snapshots = _embedded_snapshots()


def pytest_sessionfinish(session, exitstatus):
    """The embedded snapshots are the product's data: a test that wrote into them fails the run."""
    before = getattr(session.config, "embedded_snapshots", None)
    if before is not None and _embedded_snapshots() != before:
        session.config.get_terminal_writer().line(
            f"FAILED: a test changed {SNAPSHOTS}; tests must work on snapshot_copy", red=True
        )
        session.exitstatus = 1


def pytest_collection_modifyitems(items):
    """Slow tests first, those that need no shared build before those that do: a worker starts on
    them while another makes the build, and the quick tests fill the gaps at the end."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, "built" in item.fixturenames))


def environment(folder: Path, snapshots: Path = SNAPSHOTS) -> dict[str, str]:
    """The `warehouse` command's environment with a warehouse home and a Dagster home of its own in ``folder``."""
    return {
        **os.environ,
        "WAREHOUSE_HOME": str(folder / "home"),
        "WAREHOUSE_SNAPSHOTS": str(snapshots),
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """The `warehouse` command as a user runs it, from the project folder."""
    return subprocess.run([WAREHOUSE, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def dbt(project: Path, settings: Settings, target: Path, *args: str) -> subprocess.CompletedProcess:
    """dbt run on its own on ``settings``' build database, as the dbt step runs it (the same profile)."""
    return subprocess.run(
        [DBT_EXECUTABLE, *args, "--profiles-dir", str(project), "--target-path", str(target)],
        cwd=project,
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
        timeout=300,
    )


def materialize(
    settings: Settings,
    selection: list[str] | None = None,
    live: tuple[str, ...] = (),
    source: str | None = None,
    instance: dg.DagsterInstance | None = None,
    full: bool = False,
) -> dg.ExecuteInProcessResult:
    """The asset graph as a refresh runs it, offline unless a source is named in ``live``: all of
    it, the assets in ``selection`` ("a/b" keys), or one ``source``'s refresh job; ``full`` as
    `warehouse refresh --full` asks."""
    from orchestration.definitions import build_definitions
    from orchestration.run_context import FULL_TAG

    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(f"refresh_{source}" if source else "refresh_warehouse")
    keys = [dg.AssetKey(key.split("/")) for key in selection] if selection else None
    if source:
        # The report is drawn and tested once, on `built`; gate tests need not redraw it each time.
        keys = list(
            (dg.AssetSelection.all() - dg.AssetSelection.groups("report")).resolve(definitions.resolve_asset_graph())
        )
    selected = keys or definitions.resolve_asset_graph().get_all_asset_keys()
    snapshot_sets = [key.path[1] for key in selected if key.path[0] == "snapshots"]
    run_config = {
        "ops": {f"snapshots__{name}": {"config": {"inbox": True, "live": name in live}} for name in snapshot_sets}
    }
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        asset_selection=keys,
        run_config=run_config,
        tags={FULL_TAG: "true"} if full else None,
    )


@dataclass(frozen=True)
class FirstRefresh:
    """What a user's first refresh on a fresh clone left: the warehouse, what it printed, and
    the Dagster home that recorded the run."""

    settings: Settings
    stdout: str
    dagster_home: Path


@pytest.fixture(scope="session")
def first_refresh(tmp_path_factory, worker_id) -> FirstRefresh:
    """`warehouse refresh --source un_egov` on an empty build area (one source's refresh loads
    them all: the marts join them). The first worker to ask runs it; the others wait for it."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "first_refresh"
    with FileLock(shared / "first_refresh.lock"):
        if not (folder / "stdout.txt").exists():
            result = run(["refresh", "--source", "un_egov"], environment(folder))
            assert result.returncode == 0, result.stderr[-3000:]
            (folder / "stdout.txt").write_text(result.stdout, encoding="utf-8")
    return FirstRefresh(
        Settings(home=folder / "home", snapshots_dir=SNAPSHOTS),
        (folder / "stdout.txt").read_text(encoding="utf-8"),
        folder / "dagster_home",
    )


@pytest.fixture(scope="session")
def built(first_refresh) -> Settings:
    """The warehouse refreshed from the embedded snapshots, shared read-only by the tests."""
    return first_refresh.settings


def logged_decisions(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The ``[refresh]`` lines a run logged: what it loaded, rebuilt and published, and why."""
    from orchestration.run_context import LOG_PREFIX

    return [
        e.user_message[len(LOG_PREFIX) :] for e in instance.all_logs(run_id) if e.user_message.startswith(LOG_PREFIX)
    ]


def crlf_copy(name: str) -> bytes:
    """A survey file with the same numbers in new bytes: a changed snapshot that passes every gate."""
    return (SNAPSHOTS / "un_egov" / name).read_bytes().replace(b"\n", b"\r\n")


def copy_home(built: Settings, target: Path) -> Path:
    """A private copy of the built warehouse home (without its lock, holder or data docs)."""
    shutil.copytree(built.home, target, ignore=shutil.ignore_patterns("quality", "*.lock", "refresh.holder"))
    return target


@pytest.fixture
def home(built, tmp_path) -> Path:
    """A private copy of the built warehouse home, for a test that refreshes or damages it."""
    return copy_home(built, tmp_path / "home")


@pytest.fixture(scope="module")
def db(built):
    """A read-only connection to the published warehouse of ``built``, as an analyst opens it."""
    connection = duckdb.connect(str(built.published_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def snapshot_copy(tmp_path) -> Path:
    """A private copy of the snapshots that a test may damage."""
    target = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, target)
    return target


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every reason a run gives for failing: step errors (with their causes) and failed checks."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure or event.is_run_failure:
            error = event.event_specific_data.error if event.event_specific_data else None
            while error is not None:
                texts.append(error.message)
                error = error.cause
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
            texts.append(event.asset_check_evaluation_data.description or "")
    return "\n".join(texts)


# Two publications that differ in known ways: the second is refreshed from an edited DataReportal
# snapshot (figures.csv dropped into the inbox). What the edit does, by key (iso3, report_year, metric):
EDITED_FIGURE = ("KGZ", 2022, "internet_penetration")  # value 51.1 -> 52.3
REMOVED_FIGURE = ("TKM", 2021, "internet_users")  # its line deleted
ADDED_FIGURE = ("KGZ", 2023, "internet_penetration")  # a line added: the 2022 line, for 2023, value 77.7


def edited_figures() -> bytes:
    lines = (SNAPSHOTS / "datareportal" / "figures.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    edited = []
    for line in lines:
        if line.startswith("TKM,Turkmenistan,2021,internet_users,"):
            continue
        if line.startswith("KGZ,Kyrgyzstan,2022,internet_penetration,51.1,"):
            edited.append(line.replace(",51.1,", ",52.3,", 1))
            edited.append(line.replace(",2022,internet_penetration,51.1,", ",2023,internet_penetration,77.7,", 1))
            continue
        edited.append(line)
    assert len(edited) == len(lines), "the edit found the lines it edits"
    return "".join(edited).encode("utf-8")


@dataclass(frozen=True)
class TwoPublications:
    settings: Settings
    env: dict[str, str]
    old: str  # the built warehouse's publication
    new: str  # refreshed from the edited snapshot
    stdout: str


@pytest.fixture(scope="session")
def two_publications(first_refresh, tmp_path_factory, worker_id) -> TwoPublications:
    """A copy of the built warehouse, refreshed once more from ``edited_figures()``; made by the first
    worker to ask, shared read-only."""
    from orchestration import publications

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "two_publications"
    env = environment(folder, folder / "snapshots")
    settings = Settings(home=folder / "home", snapshots_dir=folder / "snapshots")
    with FileLock(shared / "two_publications.lock"):
        if not (folder / "stdout.txt").exists():
            shutil.copytree(SNAPSHOTS, settings.snapshots_dir)  # the refresh promotes the edited file into its copy
            copy_home(first_refresh.settings, settings.home)
            shutil.copytree(first_refresh.dagster_home, folder / "dagster_home")
            dropped = settings.inbox_dir / "datareportal" / "figures.csv"
            dropped.parent.mkdir(parents=True, exist_ok=True)
            dropped.write_bytes(edited_figures())
            os.utime(dropped, (1, 1))  # settled long ago: the inbox takes it at once
            result = run(["refresh", "--source", "datareportal"], env)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            (folder / "stdout.txt").write_text(result.stdout, encoding="utf-8")
    old = publications.newest(first_refresh.settings).id
    new = publications.newest(settings).id
    assert old != new
    return TwoPublications(settings, env, old, new, (folder / "stdout.txt").read_text(encoding="utf-8"))
