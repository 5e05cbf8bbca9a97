"""Each source's snapshots asset, made from its SPEC: what the refresh will load for that source.

It takes the files waiting in the source's inbox and, when asked, what is new upstream; both are
staged in the build area and checked by the source's parser there (orchestration/sources/staging.py).
Its data version is the fingerprint of the resulting snapshot set, computed from the bytes.
"""

import dagster as dg

from orchestration.changes import intake_line, is_full, load_line, load_reason, say
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources import staging
from orchestration.sources.spec import SourceSpec


class SnapshotConfig(dg.Config):
    inbox: bool = True
    """Take the files waiting in warehouse/inbox/<source>/."""
    live: bool = False
    """Ask the live upstream what is new, and stage it."""


def snapshots_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    @dg.asset(key=["snapshots", spec.name], group_name=spec.name, kinds=set(spec.kinds), description=spec.description)
    def _snapshots(
        context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: WarehouseResource
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
            current = current_set(warehouse.settings, spec)
            staged += staging.stage(
                settings, spec.name, context.run_id, spec.fetch(settings, current, lambda text: say(context, text))
            )
        for record in staged:
            spec.check_file(staging.staging_dir(settings, spec.name) / record.file, settings)
        snapshot_set = current_set(warehouse.settings, spec)
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


def current_set(settings: Settings, spec: SourceSpec) -> staging.SnapshotSet:
    """The snapshot set a run loads for ``spec``: as its snapshots asset left it, or, before it, as
    a schedule's tick finds it."""
    return staging.candidate(settings, spec, staging.hash_cache(settings))


def needs_load(context: dg.AssetExecutionContext, warehouse: WarehouseResource, name: str, fingerprint: str) -> bool:
    """Whether raw input ``name`` must be (re)loaded; logs the decision either way (changes.py)."""
    with warehouse.build_connection() as connection:
        reason = load_reason(connection, name, fingerprint, is_full(context))
    say(context, load_line(name, fingerprint, reason))
    return reason is not None


def unchanged(warehouse: WarehouseResource, asset_key: list[str], fingerprint: str) -> dg.MaterializeResult:
    """The result of a raw asset whose table is already current: same data version, nothing loaded."""
    return dg.MaterializeResult(
        asset_key=asset_key,
        data_version=dg.DataVersion(fingerprint),
        metadata={"loaded": False, "snapshot_fingerprint": fingerprint, **warehouse.table_metadata(*asset_key)},
    )
