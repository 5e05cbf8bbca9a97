"""World Bank WDI: its three raw tables, loaded together from one snapshot set."""

from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.assets.snapshot_sets import current_set, needs_load, unchanged
from orchestration.resources import WarehouseResource
from orchestration.sources.snapshots import SnapshotFile
from orchestration.sources.worldbank import SPEC, parser as worldbank

WORLDBANK = SPEC.name
RAW_TABLES = ("wdi_countries", "wdi_indicators", "wdi_observations")
_SNAPSHOTS = dg.AssetKey(["snapshots", WORLDBANK])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", "wdi_countries"], deps=[_SNAPSHOTS], kinds={"python", "duckdb"}, description="Region and income group per World Bank code; aggregates flagged."),
        dg.AssetSpec(["raw", "wdi_indicators"], deps=[_SNAPSHOTS], kinds={"python", "duckdb"}, description="One row per configured indicator: name, unit, weighting and vintage."),
        dg.AssetSpec(["raw", "wdi_observations"], deps=[_SNAPSHOTS], kinds={"python", "duckdb"}, description="Every non-empty value, one row per (indicator, code, year); aggregates kept and flagged."),
    ],
    group_name=WORLDBANK,
)
def worldbank_raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    folder = warehouse.settings.snapshots_dir / WORLDBANK
    config = warehouse.settings.worldbank_config
    indicators, _ = worldbank.load_config(config)
    snapshot_set = current_set(warehouse, SPEC)
    if not needs_load(context, warehouse, WORLDBANK, snapshot_set.fingerprint):
        for table in RAW_TABLES:
            yield unchanged(warehouse, ["raw", table], snapshot_set.fingerprint)
        return
    by_key = _one_file_per_key(folder, snapshot_set.files)
    missing = [indicator.code for indicator in indicators if indicator.code not in by_key]
    if missing:
        raise worldbank.WorldBankParseError(
            f"{folder}: indicators configured in {config} without a snapshot: {', '.join(missing)}; "
            "add their bulk CSV or run a live refresh"
        )
    with warehouse.build_connection() as connection:
        countries = _load_countries(by_key)
        connection.register("countries_frame", countries)
        connection.execute("create or replace temp table countries_incoming as select * from countries_frame")
        sources = _load_observations(connection, {indicator.code: by_key[indicator.code] for indicator in indicators})
        connection.register("indicators_frame", _indicator_rows(indicators, sources))
        counts = _publish_raw(connection)
    warehouse.record_loaded(WORLDBANK, snapshot_set.fingerprint)
    context.log.info(f"loaded {counts['wdi_observations']} observations of {len(indicators)} indicators")
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={"loaded": True, "snapshot_fingerprint": snapshot_set.fingerprint, **warehouse.table_metadata("raw", table)},
            data_version=dg.DataVersion(snapshot_set.fingerprint),
        )


def _one_file_per_key(folder: Path, files: list[tuple[Path, SnapshotFile]]) -> dict[str, tuple[Path, SnapshotFile]]:
    grouped = defaultdict(list)
    for path, record in files:
        key = worldbank.snapshot_key(path)
        if key:
            grouped[key].append((path, record))
    doubled = {key: [p.name for p, _ in entries] for key, entries in grouped.items() if len(entries) > 1}
    if doubled:
        raise worldbank.WorldBankParseError(f"{folder}: more than one active snapshot for {doubled}; move the older one aside")
    return {key: entries[0] for key, entries in grouped.items()}


def _load_countries(by_key: dict) -> pd.DataFrame:
    if "country" not in by_key:
        raise worldbank.WorldBankParseError("no country metadata snapshot (Metadata_Country_*.csv or country_live.json)")
    path, record = by_key["country"]
    reader = worldbank.read_country_metadata_json if path.suffix == ".json" else worldbank.read_country_metadata_csv
    frame = reader(path)
    return frame.assign(source_file=record.file, source_sha256=record.sha256)


# Live JSON fetches land here; bulk CSV values stay in the wdi_incoming view until published.
_LIVE_OBSERVATIONS = """
    create or replace temp table live_incoming (
        country_code varchar, country_name varchar, indicator_code varchar, indicator_name varchar,
        year integer, value double, source_line integer, vintage varchar, source_file varchar, source_sha256 varchar)
"""

_BULK_OBSERVATIONS = """
    select w.country_code, w.country_name, w.indicator_code, w.indicator_name, w.year, w.value, w.source_line,
           s.vintage, s.source_file, s.source_sha256
    from wdi_incoming as w join bulk_sources as s on w.source_file = s.path
"""

_SOURCE_COLUMNS = ["indicator_code", "path", "source_file", "source_sha256", "vintage", "vintage_kind"]


def _load_observations(connection: duckdb.DuckDBPyConnection, snapshots: dict[str, tuple[Path, SnapshotFile]]) -> pd.DataFrame:
    """Every indicator's values as the temp view observations_incoming: all bulk CSV files read in
    one DuckDB pass, live JSON fetches one by one. Returns, per indicator, its file and vintage."""
    connection.execute(_LIVE_OBSERVATIONS)
    bulk = {code: (path, record) for code, (path, record) in snapshots.items() if path.suffix != ".json"}
    vintages = worldbank.read_indicator_csvs(connection, [path for path, _ in bulk.values()]) if bulk else {}
    sources = [
        (code, str(path), record.file, record.sha256, vintages[path] or record.vintage,
         "Last Updated Date" if vintages[path] else "provenance record")
        for code, (path, record) in bulk.items()
    ]
    connection.register("bulk_sources", pd.DataFrame(sources, columns=_SOURCE_COLUMNS))
    for code, (path, record) in snapshots.items():
        if code not in bulk:
            frame, vintage = worldbank.read_indicator_json(path)
            connection.register("live_frame", frame)
            connection.execute(
                "insert into live_incoming select country_code, country_name, indicator_code, indicator_name, year, "
                "value, source_line, ?, ?, ? from live_frame",
                [vintage or record.vintage, record.file, record.sha256],
            )
            sources.append((code, str(path), record.file, record.sha256, vintage or record.vintage,
                            "API lastupdated" if vintage else "provenance record"))
    parts = ([_BULK_OBSERVATIONS] if bulk else []) + ["select * from live_incoming"]
    connection.execute("create or replace temp view observations_incoming as " + " union all ".join(parts))
    return pd.DataFrame(sources, columns=_SOURCE_COLUMNS).set_index("indicator_code")


def _indicator_rows(indicators: list[worldbank.Indicator], sources: pd.DataFrame) -> pd.DataFrame:
    """One row per configured indicator; its name is filled from the observations on publishing."""
    return pd.DataFrame([
        {
            "indicator_code": indicator.code, "unit": indicator.unit,
            "weighting": indicator.weighting, "vintage": sources.at[indicator.code, "vintage"],
            "vintage_kind": sources.at[indicator.code, "vintage_kind"], "source_file": sources.at[indicator.code, "source_file"],
            "source_sha256": sources.at[indicator.code, "source_sha256"],
        }
        for indicator in indicators
    ])


def _publish_raw(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Swap all three raw tables in one transaction, so they always come from the same snapshot set."""
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    connection.execute("create schema if not exists raw")
    connection.execute("begin transaction")
    connection.execute("create or replace table raw.wdi_countries as select * from countries_incoming")
    connection.execute(
        """
        create or replace table raw.wdi_observations as
        select o.*, coalesce(c.is_aggregate, true) as is_aggregate, ?::timestamp as loaded_at
        from observations_incoming as o
        left join countries_incoming as c on o.country_code = c.country_code
        """,
        [loaded_at],
    )
    connection.execute(
        """
        create or replace table raw.wdi_indicators as
        select i.indicator_code, n.indicator_name, i.unit, i.weighting, i.vintage, i.vintage_kind, i.source_file,
               i.source_sha256, ?::timestamp as loaded_at
        from indicators_frame as i
        left join (select indicator_code, min(indicator_name) as indicator_name from raw.wdi_observations group by 1) as n
            on i.indicator_code = n.indicator_code
        """,
        [loaded_at],
    )
    connection.execute("commit")
    return {table: connection.execute(f"select count(*) from raw.{table}").fetchall()[0][0] for table in RAW_TABLES}


ASSETS = [worldbank_raw]
