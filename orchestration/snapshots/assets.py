"""Each source's snapshots asset, made from its SPEC: what the refresh will load for that source.

It takes the files waiting in the source's inbox and, when asked, what is new upstream; both are
staged in the build area and checked by the source's parser there (orchestration/snapshots/staging.py).
Its data version is the fingerprint of the resulting snapshot set, computed from the bytes.
"""

import dagster as dg

from orchestration.run_context import say
from orchestration.snapshots import staging
from orchestration.snapshots.sets import run_set
from orchestration.snapshots.staging import intake_line
from orchestration.sources.spec import SourceSpec
from orchestration.warehouse import DATA_OWNERS, Warehouse


class SnapshotConfig(dg.Config):
    inbox: bool = True
    """Take the files waiting in warehouse/inbox/<source>/."""
    live: bool = False
    """Ask the live upstream what is new, and stage it."""


def snapshots_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["snapshots", spec.name],
        group_name=spec.name,
        owners=DATA_OWNERS,
        kinds=set(spec.kinds),
        description=spec.description,
    )
    def _snapshots(
        context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: dg.ResourceParam[Warehouse]
    ) -> dg.MaterializeResult:
        settings = warehouse.settings
        staged = (
            staging.take_inbox(settings, spec, context.run_id, lambda text: say(context, f"{spec.name}: {text}"))
            if config.inbox
            else []
        )
        if staged:
            say(context, f"{spec.name}: took {', '.join(r.file for r in staged)} from the inbox")
        if config.live:
            say(context, f"{spec.name}: checking the live upstream: {spec.upstream}")
            current = run_set(warehouse, spec)
            staged += staging.stage(
                settings, spec.name, context.run_id, spec.fetch(settings, current, lambda text: say(context, text))
            )
        for record in staged:
            spec.check_file(staging.staging_dir(settings, spec.name) / record.file, settings)
        snapshot_set = run_set(warehouse, spec, again=bool(staged))
        say(context, intake_line(spec.name, staged))
        return dg.MaterializeResult(
            metadata={
                "inbox": config.inbox,
                "live": config.live,
                "staged": dg.MetadataValue.md(
                    "\n".join(f"- `{r.file}` from {r.obtained_from}" for r in staged) or "none"
                ),
                "files": dg.MetadataValue.md(
                    "\n".join(f"- `{r.file}` ({r.vintage or 'no vintage'})" for _, r in snapshot_set.files)
                ),
                "snapshot_fingerprint": snapshot_set.fingerprint,
            },
            data_version=dg.DataVersion(snapshot_set.fingerprint),
        )

    return _snapshots
