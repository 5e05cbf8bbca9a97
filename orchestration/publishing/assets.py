"""The publish asset: the last step of every refresh, downstream of every mart and its tests."""

import dagster as dg

from orchestration import failpoints, publications
from orchestration.publishing.diff import summary_line
from orchestration.publishing.published_file import publish
from orchestration.run_context import is_full, say
from orchestration.settings import PUBLISHED_SCHEMAS
from orchestration.snapshots import staging
from orchestration.sources.registry import SOURCES
from orchestration.transform.changes import code_fingerprint
from orchestration.transform.dbt_assets import published_keys
from orchestration.transform.dbt_project import DBT_PROJECT
from orchestration.transform.wdi_rebuild import series_tables
from orchestration.warehouse import DATA_OWNERS, Warehouse


@dg.asset(
    owners=DATA_OWNERS,
    key=["published_warehouse"],
    deps=published_keys(),
    group_name="publish",
    kinds={"duckdb"},
    description=(
        "warehouse/warehouse.duckdb: the marts and the study audit, replaced atomically once every step before "
        "passed; then what the run staged becomes snapshots."
    ),
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse]
) -> dg.MaterializeResult:
    settings = warehouse.settings
    # A full rebuild republishes every table whole, as it rebuilt them.
    patchable = frozenset() if is_full(context) else series_tables(DBT_PROJECT.manifest_path, PUBLISHED_SCHEMAS)
    counts, patched = publish(settings, PUBLISHED_SCHEMAS, context.run_id, code_fingerprint(), patchable)
    record = publications.newest(settings)
    publication = record.id
    changes = (
        f"replaced {record.replaces}: {summary_line(record.changes)}" if record.replaces else "the first publication"
    )
    say(
        context,
        f"published {len(counts)} tables as publication {publication}"
        + (" (every table copied)" if patched is None else f" (WDI tables patched: {patched} series differed)"),
    )
    say(context, f"publication {publication}: {changes}")
    failpoints.reached("publish:recorded")
    # Only now do staged fetches and inbox files become snapshots (and what they replace, superseded).
    # Should this fail or die, the next refresh completes the promotion: the publication used them.
    for name, spec in SOURCES.items():
        if staging.staged_run(settings, name) == context.run_id:
            say(context, f"{name}: promoted {', '.join(staging.promote(settings, spec))} into the snapshots")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(settings.published_db)),
            "publication": dg.MetadataValue.text(publication),
            "changes": dg.MetadataValue.text(changes),
            "tables": dg.MetadataValue.md("\n".join(f"- `{name}`: {rows:,} rows" for name, rows in counts.items())),
        }
    )
