"""`warehouse status`: per source, what is loaded, how fresh it is and how its gates last ended."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import duckdb

from orchestration.settings import Settings
from orchestration.sources.registry import SOURCES
from orchestration.sources.snapshots import SourceProvenance

# The gates of each source: its raw tables' Great Expectations checks.
GATES = {
    "un_egov": ["raw/un_egov_surveys"],
    "worldbank": ["raw/wdi_observations", "raw/wdi_countries"],
    "datareportal": ["raw/datareportal_figures"],
}


def _age(then: datetime, now: datetime) -> str:
    days = (now - then).total_seconds() / 86400
    return f"{days * 24:.1f} hours" if days < 2 else f"{days:.0f} days"


def report(settings: Settings, instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(timezone.utc)
    loaded = _loaded(settings)
    lines = []
    for source in SOURCES.values():
        provenance = SourceProvenance.load(settings.snapshots_dir / source.name)
        vintages = sorted({f.vintage for f in provenance.files if f.vintage})
        lines.append(f"{source.name} ({source.title})")
        lines.append(f"  snapshots   {len(provenance.files)} files; vintage {vintages[0] if len(vintages) == 1 else f'{vintages[0]} .. {vintages[-1]}' if vintages else 'unknown'}")
        when = loaded.get(source.name)
        if when is None:
            lines.append("  last load   never published")
        else:
            overdue = now - when > source.fresh_for
            lines.append(f"  last load   {when:%Y-%m-%d %H:%M} UTC ({_age(when, now)} ago)")
            lines.append(f"  freshness   {'OVERDUE' if overdue else 'fresh'} (expected {source.cadence}; overdue after {source.fresh_for.days} days)")
        lines.append(f"  gates       {_gates(instance, source.name)}")
    lines.append(_published_line(settings, now))
    return lines


def _loaded(settings: Settings) -> dict[str, datetime]:
    if not settings.published_db.exists():
        return {}
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        if not connection.execute("select count(*) from duckdb_tables() where schema_name = 'meta' and table_name = 'inputs'").fetchall()[0][0]:
            return {}
        rows = connection.execute("select source, loaded_at from meta.inputs").fetchall()
    return {source: loaded_at.replace(tzinfo=timezone.utc) for source, loaded_at in rows}


def _gates(instance: dg.DagsterInstance, source: str) -> str:
    keys = [dg.AssetCheckKey(dg.AssetKey(asset.split("/")), "great_expectations") for asset in GATES[source]]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    if not latest:
        return "not run yet in this Dagster instance"
    parts = []
    for key in keys:
        record = latest.get(key)
        if record is None:
            parts.append(f"{key.asset_key.to_user_string()}: not run")
            continue
        when = datetime.fromtimestamp(record.create_timestamp, timezone.utc)
        parts.append(f"{key.asset_key.to_user_string()}: {record.status.value.lower()} ({when:%Y-%m-%d %H:%M} UTC, run {record.run_id[:8]})")
    return "; ".join(parts)


def _published_line(settings: Settings, now: datetime) -> str:
    if not settings.published_db.exists():
        return f"published   {settings.published_db} does not exist yet"
    modified = datetime.fromtimestamp(settings.published_db.stat().st_mtime, timezone.utc)
    return f"published   {settings.published_db}, {modified:%Y-%m-%d %H:%M} UTC ({_age(modified, now)} old)"
