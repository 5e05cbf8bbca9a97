"""Which snapshot files a run loads for each source: computed once per run, verified byte for byte."""

from __future__ import annotations

from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.sources.files import SnapshotSet
from orchestration.sources.registry import SOURCES
from orchestration.sources.spec import SourceSpec
from orchestration.warehouse import Warehouse


def current_set(settings: Settings, spec: SourceSpec) -> SnapshotSet:
    """The snapshot set a run would load for ``spec`` now: the committed files with the staged ones
    in place of those they replace. Also what a schedule's tick looks at, before any run."""
    return staging.candidate(settings, spec, staging.hash_cache(settings))


def run_set(warehouse: Warehouse, spec: SourceSpec, *, again: bool = False) -> SnapshotSet:
    """The snapshot set this run loads for ``spec``, computed once and kept for the run's later
    steps; ``again`` after the run staged files of it."""
    if again or _key(spec) not in warehouse.memo:
        warehouse.memo[_key(spec)] = current_set(warehouse.settings, spec)
    return warehouse.memo[_key(spec)]


def verify_all(warehouse: Warehouse, full: bool = False) -> None:
    """Check every source's snapshot set byte for byte against its records, before any step runs: a
    file that differs stops the refresh, naming the file. ``full`` hashes every byte again."""
    hashes = staging.hash_cache(warehouse.settings)
    if full:
        hashes.forget()
    for spec in SOURCES.values():
        warehouse.memo[_key(spec)] = staging.candidate(warehouse.settings, spec, hashes)
    hashes.save()


def _key(spec: SourceSpec) -> tuple[str, str]:
    return ("snapshot_set", spec.name)
