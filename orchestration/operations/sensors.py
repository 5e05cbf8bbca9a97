"""Sensors: files dropped into the inbox, and alerts when a run fails."""

from __future__ import annotations

import hashlib
import json
import os

import dagster as dg
import requests

from orchestration.operations.jobs import snapshot_config, source_job_name
from orchestration.operations.runs import innermost_message
from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.sources.files import now
from orchestration.sources.registry import SOURCES

ALERT_WEBHOOK_ENV = "WAREHOUSE_ALERT_WEBHOOK"


def build_inbox_sensor(settings: Settings, refresh_jobs: list) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A file dropped into warehouse/inbox/<source>/ starts that source's refresh, which stages, gates and publishes it.",
        jobs=refresh_jobs,
    )
    def inbox(context: dg.SensorEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        waiting = {name: files for name in SOURCES if (files := staging.settled_inbox_files(settings, name))}
        if not waiting:
            return dg.SkipReason("no file waiting in any inbox (a file still changing waits until it settles)")
        requests = []
        for name, files in waiting.items():
            # The same files waiting (a run queued, not yet started) ask for no second run.
            key = hashlib.sha256(
                "\n".join(f"{p.name}:{p.lstat().st_size}:{p.lstat().st_mtime_ns}" for p in files).encode()
            ).hexdigest()
            context.log.info(f"{name}: {', '.join(p.name for p in files)} waiting in the inbox")
            requests.append(
                dg.RunRequest(
                    run_key=f"inbox-{name}-{key[:16]}",
                    job_name=source_job_name(name),
                    run_config=snapshot_config(inbox={name}, live=set()),
                )
            )
        return requests

    return inbox


def alert_line(run: dg.DagsterRun, error: str) -> str:
    return f"{now()} REFRESH FAILED job={run.job_name} run={run.run_id}: {error}"


def build_failure_sensor(settings: Settings) -> dg.RunFailureSensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Writes an alert line to warehouse/logs/alerts.log and the run's log; POSTs to $WAREHOUSE_ALERT_WEBHOOK if set.",
    )
    def alert_on_failure(context: dg.RunFailureSensorContext):
        error = context.failure_event.message
        run_error = getattr(context.failure_event.event_specific_data, "error", None)
        if run_error is not None:  # failed before any step, e.g. a snapshot that differs from its record
            error = innermost_message(run_error)
        for event in context.get_step_failure_events():
            if event.event_specific_data and event.event_specific_data.error:
                error = f"step {event.step_key}: {innermost_message(event.event_specific_data.error)}"
        line = alert_line(context.dagster_run, error)
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with (settings.logs_dir / "alerts.log").open("a", encoding="utf-8") as log:
            log.write(line + "\n")
        context.instance.report_engine_event(line, context.dagster_run)
        webhook = os.environ.get(ALERT_WEBHOOK_ENV)
        if webhook:
            payload = {
                "text": line,
                "job": context.dagster_run.job_name,
                "run_id": context.dagster_run.run_id,
                "error": error,
            }
            requests.post(webhook, data=json.dumps(payload), headers={"Content-Type": "application/json"}, timeout=10)

    return alert_on_failure
