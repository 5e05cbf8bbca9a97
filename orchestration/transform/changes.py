"""What a refresh rebuilds: one mechanism, inside the run, whichever door started it (the
`warehouse` command, a schedule, the inbox sensor, `dagster job execute`, the UI's launchpad).

- Each raw asset compares the fingerprint of the snapshot set it would load (computed from the
  bytes, staged files included) and of the code with what the build database holds
  (``raw.loaded_snapshots``). Equal: its tables are current, and it loads nothing.
- The dbt step compares what the build database then holds with what the published warehouse was
  built from (the build area's record of the newest publication, orchestration/publications.py). Equal: nothing changed, so the models,
  the Parquet export, publishing and the report are skipped, and the run's log says so. Otherwise
  every model is rebuilt and tested: the marts join the sources, and a partial build could publish
  models built from a load that a gate later refused.
- A full rebuild loads and builds everything: `warehouse refresh --full` (the run tag
  ``warehouse/full``), or assets materialised by hand in the UI ("Materialize all"), which run
  outside the refresh jobs.

Every decision is logged with the prefix ``[refresh]``; `warehouse refresh` prints those lines.

No change, no run: `warehouse refresh` (neither ``--full`` nor ``--live``) first asks
``without_a_run``, which decides with these same functions, before any run: when nothing waits
in an inbox or in staging and every input, the code and the publication are as they were, it prints
the lines the run would have logged and starts none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from orchestration import publications
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from orchestration.snapshots.staging import intake_line
from orchestration.warehouse import table_exists

_CODE = [
    (DBT_PROJECT_DIR, ("models/**/*", "macros/**/*", "tests/**/*", "seeds/**/*", "dbt_project.yml")),
    (PROJECT_ROOT / "orchestration", ("**/*.py", "**/*.csv")),
    (PROJECT_ROOT / "expectations", ("**/*.py",)),
    (PROJECT_ROOT / "config", ("*.toml",)),
]


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for root, patterns in _CODE:
        for path in sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()}):
            digest.update(f"{root.name}/{path.relative_to(root)}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class State:
    """What a warehouse was built from: each raw input's fingerprint, and the code's."""

    inputs: dict[str, str]
    code: str


def loaded_inputs(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Per raw input in the build database: (snapshot fingerprint, code fingerprint) of its load."""
    if not table_exists(connection, "raw", "loaded_snapshots"):
        return {}
    rows = connection.execute("select source, fingerprint, code_fingerprint from raw.loaded_snapshots").fetchall()
    return {source: (fingerprint, code) for source, fingerprint, code in rows}


def load_line(name: str, fingerprint: str, reason: str | None) -> str:
    return f"{name}: loading ({reason})" if reason else f"{name}: unchanged ({fingerprint[:12]}), nothing loaded"


def load_reason(connection: duckdb.DuckDBPyConnection, name: str, fingerprint: str, full: bool) -> str | None:
    """Why raw input ``name`` must be loaded from the snapshot set ``fingerprint``; None: it is current."""
    held = loaded_inputs(connection).get(name)
    if full:
        return "full rebuild requested"
    if held is None:
        return "not in the build database yet"
    if held[0] != fingerprint:
        return f"snapshots changed ({held[0][:12]} -> {fingerprint[:12]})"
    if held[1] != code_fingerprint():
        return "the code changed since it was loaded"
    return None


def may_merge(connection: duckdb.DuckDBPyConnection, name: str, full: bool) -> bool:
    """Whether raw input ``name`` may take a new snapshot set as a merge of what changed, rather
    than a whole load: its tables are there, loaded by this code, and no full rebuild was asked."""
    held = loaded_inputs(connection).get(name)
    return not full and held is not None and held[1] == code_fingerprint()


def published_state(settings: Settings) -> tuple[State, str] | None:
    """What the published file was built from, and the run that published it, from the build area's
    record: the published file itself is never opened by a refresh."""
    newest = publications.newest(settings)
    if newest is None or not settings.published_db.exists():
        return None
    return State(newest.fingerprints(), newest.code_fingerprint), newest.run_id


def published_run(settings: Settings) -> str | None:
    state = published_state(settings)
    return state[1] if state else None


@dataclass(frozen=True)
class BuildPlan:
    build: bool
    reason: str


def build_plan(connection: duckdb.DuckDBPyConnection, settings: Settings, full: bool) -> BuildPlan:
    """Whether the models must be rebuilt and published, from the build database just loaded."""
    if full:
        return BuildPlan(True, "full rebuild requested: building every model")
    before = published_state(settings)
    if before is None:
        return BuildPlan(True, "no published warehouse yet: building every model")
    (state, run_id), loaded = before, loaded_inputs(connection)
    now = State({name: fingerprint for name, (fingerprint, _) in loaded.items()}, code_fingerprint())
    if now == state:
        return BuildPlan(False, f"nothing changed since the publication of run {run_id}: nothing rebuilt")
    if now.code != state.code:
        return BuildPlan(True, "the code changed since the last publication: building every model")
    changed = sorted(
        name for name in now.inputs.keys() | state.inputs.keys() if now.inputs.get(name) != state.inputs.get(name)
    )
    return BuildPlan(True, f"{', '.join(changed)} changed since the last publication: building every model")


def without_a_run(settings: Settings, sources: list[str]) -> list[str] | None:
    """The ``[refresh]`` lines of a refresh of ``sources`` (not full, not live) that would take in,
    load, build and publish nothing, decided by the functions the run decides with; None when a run
    has something to do, or may have: an entry in one of their inboxes, anything staged, a
    promotion or publication a killed run left, a refresh holding the build area, or a snapshot that
    does not verify (the run then says why)."""
    from filelock import FileLock, Timeout

    from orchestration.snapshots import raw_inputs, staging
    from orchestration.snapshots.records import SnapshotError
    from orchestration.sources.registry import SOURCES

    if publications.pending(settings) is not None or not settings.build_db.exists():
        return None
    if any(staging.inbox_files(settings, name) for name in sources):
        return None
    if any(staging.staged_run(settings, name) or staging.promotion_started(settings, name) for name in SOURCES):
        return None
    lock = FileLock(settings.build_lock)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    try:
        fingerprints = raw_inputs.fingerprints(settings, staging.hash_cache(settings))
        with duckdb.connect(str(settings.build_db), read_only=True) as connection:
            if any(load_reason(connection, name, fingerprint, False) for name, fingerprint in fingerprints.items()):
                return None
            plan = build_plan(connection, settings, False)
    except (SnapshotError, duckdb.Error, OSError):
        return None
    finally:
        lock.release()
    if plan.build:
        return None
    return (
        [intake_line(name, []) for name in SOURCES]
        + [load_line(name, fingerprint, None) for name, fingerprint in fingerprints.items()]
        + [plan.reason]
    )
