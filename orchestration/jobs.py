"""The refresh jobs and their schedules, derived from the source specs.

Every refresh job selects the whole graph: change detection inside the run (changes.py) loads
only what changed, and a source's job differs from the others only in which upstream it asks:
`refresh_<source>` checks that source's live upstream and inbox, `refresh_warehouse` all of them.
A schedule's tick launches its source's job as it is, so `dagster job execute -j refresh_worldbank`
does exactly what the monthly tick does.
"""

from __future__ import annotations

import dagster as dg

from orchestration.changes import published_run
from orchestration.runs import failure_reason
from orchestration.sources import staging
from orchestration.sources.registry import SOURCES

REFRESH_JOB = "refresh_warehouse"
# Runs with this tag queue one at a time (the instance's run queue; see cli.py's dagster.yaml).
REFRESH_TAG = "warehouse/refresh"


def source_job_name(source: str) -> str:
    return f"refresh_{source}"


def snapshot_config(inbox: set[str], live: set[str]) -> dict:
    """Run config of a refresh: whose inbox it takes and whose live upstream it asks."""
    return {"ops": {f"snapshots__{name}": {"config": {"inbox": name in inbox, "live": name in live}} for name in SOURCES}}


@dg.failure_hook(required_resource_keys={"warehouse"})
def reject_staged(context: dg.HookContext) -> None:
    """A failed step ends the refresh: what it staged is kept as rejected, with the reason. Unless the
    run published first (a promotion that failed): the publication used those files, so the next
    refresh completes their promotion instead."""
    settings = context.resources.warehouse.settings
    published = published_run(settings) == context.run_id
    for name in SOURCES:
        if staging.staged_run(settings, name) != context.run_id:
            continue
        if published:
            context.log.error(f"{name}: this run published from its staged files, so they are kept for the next refresh to "
                              "finish promoting into warehouse/snapshots/")
        else:
            reason = failure_reason(context.instance, context.run_id)
            if context.op_exception is not None:
                reason += f"; step {context.step_key}: {context.op_exception}"
            kept = staging.reject(settings, name, reason)
            context.log.error(f"{name}: the staged files were rejected and kept in {kept}; warehouse/snapshots/ is unchanged")


def jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    everything = dg.AssetSelection.all()
    common = {"selection": everything, "hooks": {reject_staged}, "tags": {REFRESH_TAG: "true"}}
    return [
        dg.define_asset_job(REFRESH_JOB, config=snapshot_config(set(SOURCES), set(SOURCES)), **common,
                            description="Take every inbox, ask every live upstream, load what changed, build, test, publish."),
        *[
            dg.define_asset_job(source_job_name(name), config=snapshot_config({name}, {name}), **common,
                                description=f"Ask {spec.title} ({spec.upstream}) and take its inbox; load what changed, build, test, publish.")
            for name, spec in SOURCES.items()
        ],
    ]


def schedules(refresh_jobs: list) -> list[dg.ScheduleDefinition]:
    """Each upstream's cadence; stopped until a data engineer turns them on (README)."""
    by_name = {job.name: job for job in refresh_jobs}
    return [
        dg.ScheduleDefinition(name=f"{name}_schedule", job=by_name[source_job_name(name)], cron_schedule=spec.cron,
                              execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
                              description=f"{spec.title}: {spec.cadence}. Checks {spec.upstream}.")
        for name, spec in SOURCES.items()
    ]
