"""The warehouse resource of a run: the build area held for the run, from its first step to its last.

A run that uses it holds an exclusive lock on the build area, so two refreshes (from the command
line, the UI or a schedule) never write the build database at once: the second waits for the
first (up to WAREHOUSE_LOCK_TIMEOUT), saying whom it waits for. Before any step, it settles what
an earlier, killed run left, and verifies every snapshot set (computed once, for the whole run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import dagster as dg
from filelock import FileLock, Timeout

from orchestration.operations.runs import failure_reason
from orchestration.publishing import published_file as publishing
from orchestration.run_context import FULL_TAG
from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.sets import verify_all
from orchestration.sources.registry import SOURCES
from orchestration.transform.changes import published_run
from orchestration.warehouse import Warehouse


class RefreshLockedError(RuntimeError):
    """Another refresh held the build area for longer than a refresh waits."""


def warehouse_resource(settings: Settings) -> dg.ResourceDefinition:
    """Assets take it as ``warehouse: dg.ResourceParam[Warehouse]``: a new Warehouse for each run,
    carrying ``settings`` as they are, with no configuration of its own to keep in step with them."""

    @dg.resource(description=f"The warehouse in {settings.home}: its build area, held for the run.")
    def _warehouse(context: dg.InitResourceContext) -> Iterator[Warehouse]:
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        run_id = context.run_id or "no run"
        with exclusive(settings, run_id, context.log):
            if context.instance:
                settle_leftovers(settings, run_id, context.instance, context.log)
            warehouse = Warehouse(settings)
            full = bool(context.dagster_run and context.dagster_run.tags.get(FULL_TAG) == "true")
            verify_all(warehouse, full)
            yield warehouse

    return _warehouse


def settle_leftovers(settings: Settings, run_id: str, instance: dg.DagsterInstance, log: dg.DagsterLogManager) -> None:
    """What an earlier, killed run left behind: its publication completed or forgotten, what it
    staged promoted if it published (a promotion is completed where it stopped), otherwise kept as
    rejected with the reason from its log; then the temporary files of its writes removed."""
    said = publishing.recover(settings)
    if said:
        log.warning(said)
    published = published_run(settings)
    for name, spec in SOURCES.items():
        staged_by = staging.staged_run(settings, name)
        if staged_by is None or staged_by == run_id:
            continue
        if staged_by == published:
            promoted = staging.promote(settings, spec)
            log.warning(
                f"{name}: completed the promotion of {', '.join(promoted)}, staged by run {staged_by}, which published them"
            )
        else:
            kept = staging.reject(settings, name, failure_reason(instance, staged_by))
            log.warning(f"{name}: what run {staged_by} staged did not publish; kept in {kept}")
    staging.sweep_leftovers(settings, list(SOURCES))


@contextmanager
def exclusive(settings: Settings, run_id: str, log) -> Iterator[None]:
    """Hold the build area for the whole run; a second refresh waits its turn, boundedly."""
    lock = FileLock(settings.build_lock)
    holder = settings.build_dir / "refresh.holder"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = holder.read_text(encoding="utf-8").strip() if holder.exists() else "unknown"
        if log:
            log.info(
                f"waiting for the refresh that holds {settings.build_dir} ({who}), up to {settings.lock_timeout_seconds:.0f} s"
            )
        try:
            lock.acquire(timeout=settings.lock_timeout_seconds)
        except Timeout:
            raise RefreshLockedError(
                f"another refresh has held {settings.build_dir} for over {settings.lock_timeout_seconds:.0f} s ({who}); "
                "this one gave up without touching anything (WAREHOUSE_LOCK_TIMEOUT sets the wait)"
            ) from None
    try:
        holder.write_text(
            f"pid {os.getpid()}, run {run_id}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
            encoding="utf-8",
        )
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
