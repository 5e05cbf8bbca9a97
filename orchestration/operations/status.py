"""`warehouse status`: per source, what is loaded, how fresh it is and how its gates last ended."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from orchestration import publications
from orchestration.gates import history as gate_history
from orchestration.library_adapters import latest_check_executions
from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.records import SnapshotError
from orchestration.sources.registry import SOURCES


def _age(then: datetime, now: datetime) -> str:
    days = (now - then).total_seconds() / 86400
    return f"{days * 24:.1f} hours" if days < 2 else f"{days:.0f} days"


def report(settings: Settings, instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    loaded = _loaded(settings)
    hashes = staging.hash_cache(settings)
    lines = []
    for source in SOURCES.values():
        lines.append(f"{source.name} ({source.title})")
        lines.append(f"  snapshots   {_snapshots(settings, source, hashes)}")
        waiting = staging.inbox_files(settings, source.name)
        if waiting:
            lines.append(
                f"  inbox       {len(waiting)} file(s) waiting for the next refresh: {', '.join(p.name for p in waiting)}"
            )
        rejected = sorted(staging.rejected_dir(settings, source.name).glob("*"))
        if rejected:
            lines.append(
                f"  rejected    {len(rejected)} set(s); the latest in {rejected[-1]} (see its {staging.REASON_FILE})"
            )
        when = loaded.get(source.name)
        if when is None:
            lines.append("  last load   never published")
        else:
            overdue = now - when > source.fresh_for
            lines.append(f"  last load   {when:%Y-%m-%d %H:%M} UTC ({_age(when, now)} ago)")
            lines.append(
                f"  freshness   {'OVERDUE' if overdue else 'fresh'} (expected {source.cadence}; overdue after {source.fresh_for.days} days)"
            )
        lines.append(f"  gates       {_gates(instance, source.name)}")
        lines += _history(settings, source.name)
    hashes.save()
    lines.append(_published_line(settings, now))
    return lines


def _snapshots(settings: Settings, source, hashes) -> str:
    """What the next refresh would load, checked byte for byte as a refresh checks it."""
    if staging.promotion_started(settings, source.name):
        return (
            f"a promotion of what run {staging.staged_run(settings, source.name)} published was interrupted; "
            "the next refresh completes it before it reads anything"
        )
    try:
        snapshot_set = staging.candidate(settings, source, hashes)
    except SnapshotError as error:
        return f"INTEGRITY FAILED, every refresh stops until it is resolved: {error}"
    vintages = sorted({record.vintage for _, record in snapshot_set.files if record.vintage})
    vintage = vintages[0] if len(vintages) == 1 else f"{vintages[0]} .. {vintages[-1]}" if vintages else "unknown"
    return f"{len(snapshot_set.files)} files, verified against their records; vintage {vintage}"


def _loaded(settings: Settings) -> dict[str, datetime]:
    """When each source's published data was loaded, from the build area's record of the publication
    (the published file is never opened here: an analyst's client may hold it locked)."""
    newest = publications.newest(settings)
    if newest is None or not settings.published_db.exists():
        return {}
    return {
        source: datetime.fromisoformat(values["loaded_at"]).replace(tzinfo=UTC)
        for source, values in newest.inputs.items()
        if values["loaded_at"]
    }


def _gates(instance: dg.DagsterInstance, source: str) -> str:
    keys = [
        dg.AssetCheckKey(dg.AssetKey(["raw", table.name]), "great_expectations")
        for table in SOURCES[source].raw_tables
        if table.suite
    ]
    latest = latest_check_executions(instance, keys)
    if not latest:
        return "not run yet in this Dagster instance"
    parts = []
    for key in keys:
        record = latest.get(key)
        if record is None:
            parts.append(f"{key.asset_key.to_user_string()}: not run")
            continue
        when = datetime.fromtimestamp(record.create_timestamp, UTC)
        parts.append(
            f"{key.asset_key.to_user_string()}: {record.status.value.lower()} ({when:%Y-%m-%d %H:%M} UTC, run {record.run_id[:8]})"
        )
    return "; ".join(parts)


def _history(settings: Settings, source: str) -> list[str]:
    """The latest gate results of the source's raw tables, pass or fail, from the gate history."""
    tables = [f"raw.{table.name}" for table in SOURCES[source].raw_tables if table.suite]
    results, where = gate_history.recent(settings, tables)
    lines = []
    for checked_at, run_id, table, passed, evaluated, failed, failures in results:
        verdict = (
            (f"passed {evaluated} expectations" if evaluated else "passed (unchanged, not validated again)")
            if passed
            else f"FAILED {failed} of {evaluated}: {failures.splitlines()[0]}"
        )
        lines.append(f"  history     {checked_at:%Y-%m-%d %H:%M} UTC run {run_id[:8]} {table}: {verdict}")
    if lines and where != "build database":
        lines.append(f"              (from the {where}: a refresh holds the build database)")
    return lines


def _published_line(settings: Settings, now: datetime) -> str:
    if not settings.published_db.exists():
        return f"published   {settings.published_db} does not exist yet"
    modified = datetime.fromtimestamp(settings.published_db.stat().st_mtime, UTC)
    newest, kept = publications.newest(settings), publications.kept(settings)
    current = f"; publication {newest.id} ({len(kept)} kept)" if newest else ""
    return f"published   {settings.published_db}, {modified:%Y-%m-%d %H:%M} UTC ({_age(modified, now)} old){current}"
