"""Sensors: files dropped into the inbox, and alerts when a run fails."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import requests

from orchestration.settings import Settings
from orchestration.sources.registry import SOURCES
from orchestration.sources.snapshots import IncomingFile, save_incoming, sha256_of

ALERT_WEBHOOK_ENV = "WAREHOUSE_ALERT_WEBHOOK"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def file_inbox(settings: Settings) -> list[tuple[str, str, str]]:
    """Check every file waiting in warehouse/inbox/<source>/ and file it.

    A file that parses is moved into the source's snapshots with a provenance record (replacing
    the snapshot it supersedes, which is kept under superseded/); one that does not is moved to
    inbox/rejected/<source>/ with a .reason.txt beside it. Nothing is deleted. Returns
    (source, file name, sha256) of every file accepted.
    """
    accepted = []
    for source in SOURCES.values():
        inbox = settings.inbox_dir / source.name
        for path in sorted(p for p in inbox.glob("*") if p.is_file() and not p.name.startswith(".")) if inbox.is_dir() else []:
            try:
                source.check_inbox_file(path)
            except Exception as error:  # any reason a file cannot be read is a reason to reject it
                _reject(settings, source.name, path, f"{type(error).__name__}: {error}")
                continue
            digest = sha256_of(path)
            incoming = IncomingFile(path.name, path.read_bytes(), obtained_from=f"inbox: dropped by hand into {inbox}",
                                    date_accessed=_now(), notes="accepted from the inbox after parsing cleanly")
            save_incoming(settings.snapshots_dir / source.name, [incoming],
                          lambda old, new, key=source.snapshot_key: key(old) is not None and key(old) == key(Path(new.name)))
            path.unlink()
            accepted.append((source.name, path.name, digest))
    return accepted


def _reject(settings: Settings, source: str, path: Path, reason: str) -> None:
    rejected = settings.inbox_dir / "rejected" / source
    rejected.mkdir(parents=True, exist_ok=True)
    stamp = _now().replace(":", "")
    target = rejected / f"{stamp}-{path.name}"
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(f"{_now()} rejected {path.name}: {reason}\n", encoding="utf-8")


def build_inbox_sensor(settings: Settings, jobs: list) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Files dropped into warehouse/inbox/<source>/ are checked, filed as snapshots and refreshed.",
        jobs=jobs,
    )
    def inbox(context: dg.SensorEvaluationContext):
        accepted = file_inbox(settings)
        for source, name, digest in accepted:
            context.log.info(f"{source}: accepted {name} ({digest[:12]})")
        for source in sorted({source for source, _, _ in accepted}):
            yield dg.RunRequest(run_key=f"inbox-{source}-{_now()}", job_name=f"refresh_{source}")

    return inbox


def alert_line(run: dg.DagsterRun, error: str) -> str:
    return f"{_now()} REFRESH FAILED job={run.job_name} run={run.run_id}: {error}"


def build_failure_sensor(settings: Settings) -> dg.RunFailureSensorDefinition:
    @dg.run_failure_sensor(name="alert_on_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Writes an alert line to warehouse/logs/alerts.log and the run's log; POSTs to $WAREHOUSE_ALERT_WEBHOOK if set.")
    def alert_on_failure(context: dg.RunFailureSensorContext):
        error = context.failure_event.message
        for event in context.get_step_failure_events():
            if event.event_specific_data and event.event_specific_data.error:
                cause = event.event_specific_data.error
                while cause.cause is not None:
                    cause = cause.cause
                error = f"step {event.step_key}: {cause.message.strip()}"
        line = alert_line(context.dagster_run, error)
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with (settings.logs_dir / "alerts.log").open("a", encoding="utf-8") as log:
            log.write(line + "\n")
        context.instance.report_engine_event(line, context.dagster_run)
        webhook = os.environ.get(ALERT_WEBHOOK_ENV)
        if webhook:
            payload = {"text": line, "job": context.dagster_run.job_name, "run_id": context.dagster_run.run_id, "error": error}
            requests.post(webhook, data=json.dumps(payload), headers={"Content-Type": "application/json"}, timeout=10)

    return alert_on_failure
