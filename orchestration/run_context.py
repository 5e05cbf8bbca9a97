"""What every step reads of the run it is in, and how it tells the console what it decided."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

FULL_TAG = "warehouse/full"
REFRESH_JOB_PREFIX = "refresh_"
# `warehouse refresh` prints the log lines that carry it (orchestration/operations/cli.py).
LOG_PREFIX = "[refresh] "


def is_full(context: dg.OpExecutionContext) -> bool:
    """A full rebuild: asked for with the run tag, or any run outside the refresh jobs (the UI's
    "Materialize all"), which does not go through their change decisions."""
    return context.run.tags.get(FULL_TAG) == "true" or not context.job_name.startswith(REFRESH_JOB_PREFIX)


def say(context: dg.OpExecutionContext, text: str) -> None:
    context.log.info(LOG_PREFIX + text)


def say_failure(context: dg.OpExecutionContext, text: str) -> None:
    """What stopped the step, in full: `warehouse refresh` prints it to stderr."""
    context.log.error(LOG_PREFIX + text)
