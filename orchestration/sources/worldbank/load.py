"""World Bank WDI: its three raw tables, loaded together from one snapshot set."""

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.sources.files import SnapshotFile
from orchestration.sources.spec import Loaded, LoadRequest
from orchestration.sources.worldbank import NAME as WORLDBANK
from orchestration.sources.worldbank import bulk_zip, options
from orchestration.sources.worldbank import parser as worldbank
from orchestration.sources.worldbank.series import differing_series

RAW_TABLES = ("wdi_countries", "wdi_indicators", "wdi_observations")


def load(request: LoadRequest) -> Loaded:
    """The three raw tables from one snapshot set, swapped in together; with ``request.merge``, only
    the series whose fingerprint changed are rewritten in raw.wdi_observations."""
    settings, connection, snapshot_set = request.settings, request.connection, request.snapshot_set
    config = options(settings).config
    indicators, _ = worldbank.load_config(config)
    files = _Files.of(settings.snapshots_dir / WORLDBANK, snapshot_set.files)
    connection.register("countries_frame", files.countries())
    connection.execute("create or replace temp table countries_incoming as select * from countries_frame")
    series = _load_observations(connection, files, settings.build_dir / "unzipped")
    missing = [indicator.code for indicator in indicators if indicator.code not in set(series.indicator_code)]
    if missing:
        raise worldbank.WorldBankParseError(
            f"{settings.snapshots_dir / WORLDBANK}: indicators configured in {config} without a snapshot: "
            f"{', '.join(missing)}; add the whole-database zip or their bulk CSV, or run a live refresh"
        )
    connection.register("indicators_frame", _indicator_rows(indicators, series, files))
    counts, changed = _publish_raw(connection, request.merge)
    rewritten = (
        "every series written"
        if changed is None
        else f"{changed} added, changed or removed since the last load, only those rewritten"
    )
    return Loaded(f"{counts['wdi_observations']} observations of {counts['wdi_indicators']} series; {rewritten}")


@dataclass(frozen=True)
class _Files:
    """One snapshot set's files by what they hold. A file of its own (an indicator's bulk CSV or
    live fetch, the country list) takes precedence over the zip's copy of the same series or list."""

    by_key: dict[str, tuple[Path, SnapshotFile]]

    @classmethod
    def of(cls, folder: Path, files: list[tuple[Path, SnapshotFile]]) -> "_Files":
        grouped = defaultdict(list)
        for path, record in files:
            key = worldbank.snapshot_key(path)
            if key:
                grouped[key].append((path, record))
        doubled = {key: [p.name for p, _ in entries] for key, entries in grouped.items() if len(entries) > 1}
        if doubled:
            raise worldbank.WorldBankParseError(
                f"{folder}: more than one active snapshot for {doubled}; move the older one aside"
            )
        return cls({key: entries[0] for key, entries in grouped.items()})

    @property
    def zip(self) -> tuple[Path, SnapshotFile] | None:
        return self.by_key.get(worldbank.WHOLE_DATABASE)

    @property
    def own(self) -> dict[str, tuple[Path, SnapshotFile]]:
        """Indicator code -> its own file."""
        return {key: entry for key, entry in self.by_key.items() if key not in ("country", worldbank.WHOLE_DATABASE)}

    def countries(self) -> pd.DataFrame:
        if "country" in self.by_key:
            path, record = self.by_key["country"]
            frame = (
                worldbank.read_country_metadata_json if path.suffix == ".json" else worldbank.read_country_metadata_csv
            )(path)
        elif self.zip:
            path, record = self.zip
            frame = worldbank.read_country_metadata_zip(path)
        else:
            raise worldbank.WorldBankParseError(
                "no country metadata snapshot (WDI_CSV.zip, Metadata_Country_*.csv or country_live.json)"
            )
        return frame.assign(source_file=record.file, source_sha256=record.sha256)

    def series_metadata(self) -> pd.DataFrame:
        return (
            bulk_zip.read_series(self.zip[0])
            if self.zip
            else pd.DataFrame(columns=[*bulk_zip.SERIES_COLUMNS.values()], dtype="string")
        )


_LIVE_OBSERVATIONS = """
    create or replace temp table live_incoming (
        country_code varchar, indicator_code varchar, year integer, value double, source_line integer)
"""
_SOURCE_COLUMNS = [
    "indicator_code",
    "indicator_name",
    "values_hash",
    "source_file",
    "source_sha256",
    "vintage",
    "vintage_kind",
]


def _load_observations(connection: duckdb.DuckDBPyConnection, files: _Files, unzipped: Path) -> pd.DataFrame:
    """Every series' values as the temp view observations_incoming: the zip's data file and the
    bulk CSV files in one DuckDB pass, live JSON fetches one by one. Returns one row per series with
    its file and vintage."""
    bulk = {path: record for path, record in files.own.values() if path.suffix != ".json"}
    zip_data = None
    if files.zip:
        path, record = files.zip
        shutil.rmtree(unzipped, ignore_errors=True)
        zip_data = bulk_zip.extract_data_file(path, unzipped)
        bulk[zip_data] = record
    last_updated = worldbank.read_indicator_csvs(connection, list(bulk), frozenset({zip_data} - {None})) if bulk else {}
    connection.register(
        "bulk_files",
        pd.DataFrame(
            [
                (
                    str(path),
                    record.file,
                    record.sha256,
                    *_vintage(record, last_updated[path], files.zip[0] if path == zip_data else None),
                )
                for path, record in bulk.items()
            ],
            columns=["path", "source_file", "source_sha256", "vintage", "vintage_kind"],
        ),
    )
    series = (
        connection.execute(
            "select s.source_file as path, s.indicator_code, s.indicator_name, s.values_hash::varchar as values_hash, "
            "f.source_file, f.source_sha256, f.vintage, f.vintage_kind "
            "from wdi_series_incoming as s join bulk_files as f on s.source_file = f.path"
        ).df()
        if bulk
        else pd.DataFrame(columns=["path", *_SOURCE_COLUMNS])
    )
    # A series with a file of its own is read from that file, never also from the zip.
    doubled = (series.path == str(zip_data)) & series.indicator_code.isin(files.own)
    series = series[~doubled]
    connection.register("series_frame", series)
    connection.execute(_LIVE_OBSERVATIONS)
    live = []
    for code, (path, record) in files.own.items():
        if path.suffix == ".json":
            frame, vintage = worldbank.read_indicator_json(path)
            connection.register("live_frame", frame)
            connection.execute(
                "insert into live_incoming select country_code, indicator_code, year, value, source_line from live_frame"
            )
            # As text, like the bulk files' hashes: a 64-bit integer must not pass through pandas' floats.
            values_hash = connection.execute(
                "select bit_xor(hash(hash(country_code, year, value, source_line)))::varchar from live_frame"
            ).fetchall()[0][0]
            live.append(
                (
                    code,
                    frame.indicator_name.iloc[0] if len(frame) else None,
                    values_hash,
                    record.file,
                    record.sha256,
                    vintage or record.vintage,
                    "API lastupdated" if vintage else "provenance record",
                )
            )
    bulk_rows = "select w.country_code, w.indicator_code, w.year, w.value, w.source_line from wdi_incoming as w "
    if doubled.any():  # a filter over every value, so only when there is something to leave out
        bulk_rows += "semi join series_frame as s on w.source_file = s.path and w.indicator_code = s.indicator_code "
    bulk_rows = bulk_rows + "union all " if bulk else ""
    connection.execute(
        "create or replace temp view observations_incoming as "
        + bulk_rows
        + "select country_code, indicator_code, year, value, source_line from live_incoming"
    )
    return pd.concat([series[_SOURCE_COLUMNS], pd.DataFrame(live, columns=_SOURCE_COLUMNS)], ignore_index=True)


def _vintage(record: SnapshotFile, last_updated: str | None, zip_path: Path | None) -> tuple[str, str]:
    """A file's vintage and where it was read: its preamble, its provenance record, or (for a zip
    dropped in the inbox, which carries no release date) the date of its data file's zip entry."""
    if last_updated:
        return last_updated, "Last Updated Date"
    if record.vintage or zip_path is None:
        return record.vintage, "provenance record"
    return bulk_zip.vintage(zip_path), "zip entry date"


def _indicator_rows(indicators: list[worldbank.Indicator], series: pd.DataFrame, files: _Files) -> pd.DataFrame:
    """One row per series loaded: its range rule and aggregation from the config where it names the
    series, else from the World Bank's metadata; the metadata where the zip has it."""
    metadata = files.series_metadata()
    if files.zip:
        undescribed = sorted(
            set(series.indicator_code[series.source_file == files.zip[1].file]) - set(metadata.indicator_code)
        )
        if undescribed:
            raise worldbank.WorldBankParseError(
                f"{files.zip[0]}!{bulk_zip.SERIES_FILE}: no row for series of the data file: {', '.join(undescribed[:10])}"
            )
    configured = {indicator.code: indicator for indicator in indicators}
    rows = series.merge(metadata.drop(columns=["indicator_name"]), on="indicator_code", how="left")
    rows["is_configured"] = rows.indicator_code.isin(configured)
    text = rows[["indicator_name", "unit_of_measure", "aggregation_method"]].astype(object).where(rows.notna(), None)
    rows["unit"] = [
        configured[code].unit if code in configured else worldbank.unit_of(name, unit)
        for code, name, unit in zip(rows.indicator_code, text.indicator_name, text.unit_of_measure)
    ]
    rows["weighting"] = [
        configured[code].weighting if code in configured else worldbank.weighting_of(method)
        for code, method in zip(rows.indicator_code, text.aggregation_method)
    ]
    return rows.astype({column: "string" for column in rows.columns if column != "is_configured"})


_METADATA = [
    column for column in bulk_zip.SERIES_COLUMNS.values() if column not in ("indicator_code", "indicator_name")
]


def _publish_raw(connection: duckdb.DuckDBPyConnection, merge: bool) -> tuple[dict[str, int], int | None]:
    """Swap all three raw tables in one transaction, so they always come from the same snapshot set.
    Provenance is kept once per series in raw.wdi_indicators, not repeated on every value. With
    ``merge``, only the series whose fingerprint changed are rewritten in raw.wdi_observations.
    Returns the row counts, and how many series were rewritten by a merge (None: all of them)."""
    connection.execute(
        f"""
        create or replace temp table indicators_incoming as
        select indicator_code, indicator_name, unit, weighting, is_configured, {", ".join(_METADATA)},
               vintage, vintage_kind, source_file, source_sha256,
               md5(concat_ws('|', values_hash, indicator_name, unit, weighting)) as fingerprint, ?::timestamp as loaded_at
        from indicators_frame order by indicator_code
        """,
        [datetime.now(UTC).replace(tzinfo=None)],
    )
    changed = _changed_series(connection) if merge else None
    connection.execute("create schema if not exists raw")
    connection.execute("begin transaction")
    connection.execute("create or replace table raw.wdi_countries as select * from countries_incoming")
    if changed is None:
        connection.execute("create or replace table raw.wdi_observations as select * from observations_incoming")
    else:
        connection.execute(
            "delete from raw.wdi_observations where indicator_code in (select indicator_code from series_changed)"
        )
        connection.execute(
            "insert into raw.wdi_observations select * from observations_incoming "
            "where indicator_code in (select indicator_code from series_changed)"
        )
    connection.execute("create or replace table raw.wdi_indicators as select * from indicators_incoming")
    connection.execute("commit")
    counts = {table: connection.execute(f"select count(*) from raw.{table}").fetchall()[0][0] for table in RAW_TABLES}
    return counts, changed


def _changed_series(connection: duckdb.DuckDBPyConnection) -> int:
    """The temp table series_changed: the series added, removed or changed since the raw tables'
    last load (by this code, so with fingerprints), by fingerprint. Returns how many."""
    connection.execute(
        f"create or replace temp table series_changed as {differing_series('indicators_incoming', 'raw.wdi_indicators')}"
    )
    return connection.execute("select count(*) from series_changed").fetchall()[0][0]
