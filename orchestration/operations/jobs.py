"""The refresh jobs and their schedules, derived from the source specs.

Every refresh job selects the whole graph: change detection inside the run (changes.py) loads
only what changed, and a source's job differs from the others only in which upstream it asks:
`refresh_<source>` checks that source's live upstream and inbox, `refresh_warehouse` all of them.
A schedule's tick asks its upstream what is new with the very check its job's run makes (the
source's ``fetch``), and launches that job as it is only when there is something to do, so
`dagster job execute -j refresh_worldbank` does exactly what a monthly tick that finds a release does.
"""

from __future__ import annotations

import dagster as dg

from orchestration.operations.runs import failure_reason
from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.sets import current_set
from orchestration.sources import http
from orchestration.sources.registry import SOURCES
from orchestration.sources.spec import SourceSpec
from orchestration.transform.changes import published_run, without_a_run

REFRESH_JOB = "refresh_warehouse"
# Runs with this tag queue one at a time (the instance's run queue; see cli.py's dagster.yaml).
REFRESH_TAG = "warehouse/refresh"
# How long a tick waits for its upstream's answer before leaving the check to a run, which has the
# source's whole retry policy: the daemon gives a schedule's evaluation 60 s in all.
TICK_CHECK_SECONDS = 40


def source_job_name(source: str) -> str:
    return f"refresh_{source}"


def snapshot_config(inbox: set[str], live: set[str]) -> dict:
    """Run config of a refresh: whose inbox it takes and whose live upstream it asks."""
    return {
        "ops": {f"snapshots__{name}": {"config": {"inbox": name in inbox, "live": name in live}} for name in SOURCES}
    }


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
            context.log.error(
                f"{name}: this run published from its staged files, so they are kept for the next refresh to "
                "finish promoting into warehouse/snapshots/"
            )
        else:
            reason = failure_reason(context.instance, context.run_id)
            if context.op_exception is not None:
                reason += f"; step {context.step_key}: {context.op_exception}"
            kept = staging.reject(settings, name, reason)
            context.log.error(
                f"{name}: the staged files were rejected and kept in {kept}; warehouse/snapshots/ is unchanged"
            )


def jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    everything = dg.AssetSelection.all()
    common = {"selection": everything, "hooks": {reject_staged}, "tags": {REFRESH_TAG: "true"}}
    return [
        dg.define_asset_job(
            REFRESH_JOB,
            config=snapshot_config(set(SOURCES), set(SOURCES)),
            **common,
            description="Take every inbox, ask every live upstream, load what changed, build, test, publish.",
        ),
        *[
            dg.define_asset_job(
                source_job_name(name),
                config=snapshot_config({name}, {name}),
                **common,
                description=f"Ask {spec.title} ({spec.upstream}) and take its inbox; load what changed, build, test, publish.",
            )
            for name, spec in SOURCES.items()
        ],
    ]


def schedules(settings: Settings, refresh_jobs: list) -> list[dg.ScheduleDefinition]:
    """Each upstream's cadence, running by default: a tick that finds nothing new costs a few small
    requests and starts no run."""
    by_name = {job.name: job for job in refresh_jobs}
    return [_schedule(settings, spec, by_name[source_job_name(name)]) for name, spec in SOURCES.items()]


def _schedule(settings: Settings, spec: SourceSpec, job) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{spec.name}_schedule",
        job=job,
        cron_schedule=spec.cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{spec.title}: {spec.cadence}. Checks {spec.upstream}; starts a refresh only when something is new.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return tick_decision(settings, spec, context.log.info)

    return _tick


def tick_decision(settings: Settings, spec: SourceSpec, log) -> dg.RunRequest | dg.SkipReason:
    """A run of ``spec``'s job when its upstream has something new or the warehouse has anything to
    do (changes.without_a_run, the rule every door uses); otherwise a skip that says why, in the
    lines the run would have logged. A check that fails or outlasts TICK_CHECK_SECONDS starts the
    run, which meets the same answer with the source's whole retry policy, fails visibly and alerts;
    one that outlasts it is stopped there (http.within), leaving no request behind in the daemon."""
    run = dg.RunRequest()  # the job's own config: its inbox and its live upstream
    local = without_a_run(settings, [spec.name])
    if local is None:
        return run
    heard: list[str] = []

    def check() -> list:
        return spec.fetch(settings, current_set(settings, spec), heard.append)

    try:
        new = http.within(TICK_CHECK_SECONDS, check, f"upstream check {spec.name}")
    except http.DeadlinePassed:
        log(f"{spec.name}: the upstream check took over {TICK_CHECK_SECONDS} s; a run takes it over")
        return run
    except Exception as error:  # noqa: BLE001 - any failure of the check is the run's to report
        log(f"{spec.name}: the upstream check failed ({error}); a run takes it over")
        return run
    for line in heard:
        log(line)
    if new:
        return run
    return dg.SkipReason("\n".join([f"{spec.name}: nothing new upstream", *heard, *local]))
