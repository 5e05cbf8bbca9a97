"""Reading why a Dagster run failed, for alerts, the command line and rejected snapshot sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


def innermost_message(error) -> str:
    """The message of the deepest cause of a serialised error: the one that names the file."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why run ``run_id`` did not publish, from its event log."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} is not in this Dagster instance; it did not publish"
    reasons = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.is_step_failure and event.event_specific_data and event.event_specific_data.error:
            reasons.append(f"step {event.step_key}: {innermost_message(event.event_specific_data.error)}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
            reasons.append(
                f"gate {event.asset_check_evaluation_data.asset_key.to_user_string()}: {event.asset_check_evaluation_data.description}"
            )
    if not reasons:
        reasons.append(f"the run ended {run.status.value.lower()} without publishing (stopped or killed)")
    return f"run {run_id} ({run.job_name}) did not publish: " + "; ".join(reasons)
