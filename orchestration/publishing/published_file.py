"""Write-audit-publish: copy a fully built and tested build database into the published file.

Analysts open ``warehouse.duckdb``. It is never written in place, nor even opened by a refresh (an
analyst's client may hold it read-write, which locks it): the publication is written in the build
area, copied beside the published file and renamed over it, which is atomic on POSIX. A reader who
has the old file open keeps reading the old file, untouched and consistent; the next connection
opens the new one. What a refresh must know of the last publication comes from the build area's
record of it (orchestration/publications.py, which also has the layout). A refresh that fails
before this step leaves the published file as it was; one killed during it is completed or undone by
the next (``recover``).

Once a new file is in place, its publication is kept under its id in ``publications/``, read-only,
and those beyond ``WAREHOUSE_KEEP_PUBLICATIONS`` are retired (``publications.keep``, ``retire``). The
kept file is the build area's copy itself, linked: that copy is never written in place (the next
patch starts from a copy of it), so keeping a publication costs no bytes and no time.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration import failpoints, publications
from orchestration.durable import fsync, sweep, temporary_beside
from orchestration.gates import history as gate_history
from orchestration.publications import Publication, publication_id
from orchestration.publishing import diff
from orchestration.settings import Settings, refresh_duckdb_config
from orchestration.sources.worldbank.series import differing_series
from orchestration.sql import literal, quoted
from orchestration.transform import wdi_rebuild
from orchestration.transform.contracts import contract_keys
from orchestration.transform.dbt_project import DBT_PROJECT
from orchestration.warehouse import table_exists


def publish(
    settings: Settings,
    schemas: tuple[str, ...],
    run_id: str,
    code_fingerprint: str = "",
    series_tables: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], int | None]:
    """Publish ``schemas`` of the build database as plain tables; returns rows per published table,
    and how many WDI series were patched (None: every table copied whole).

    When the last publication holds the WDI models of the same code and inputs but other series,
    ``series_tables`` are patched in a copy of it (the series that differ deleted and inserted),
    instead of being copied whole; every other table is copied whole either way."""
    base = publications.copy_path(settings)
    replaced = publications.newest(settings)
    published_at = datetime.now(UTC)
    written = temporary_beside(base)
    staged = temporary_beside(settings.published_db)
    settings.published_db.parent.mkdir(parents=True, exist_ok=True)
    try:
        patch = (
            series_tables if series_tables and _patchable(settings.build_db, base, code_fingerprint) else frozenset()
        )
        if patch:
            shutil.copyfile(base, written)
        counts, patched, inputs = _write_copy(
            settings.build_db, written, schemas, run_id, published_at, code_fingerprint, patch
        )
        changes = _changes(settings, base, written, replaced, publication_id(published_at, run_id))
        fsync(written)
        shutil.copyfile(written, staged)
        fsync(staged)
        publication = Publication(
            run_id,
            published_at.isoformat(),
            code_fingerprint,
            inputs,
            inode=staged.stat().st_ino,
            copy=written.name,
            replaces=replaced.id if replaced else "",
            changes=changes,
        )
        publications.write_pending(settings, publication)
        failpoints.reached("publish:before-rename")
        os.replace(staged, settings.published_db)
    except BaseException:
        written.unlink(missing_ok=True)
        raise
    finally:
        staged.unlink(missing_ok=True)
    # From here the written copy belongs to the pending publication: should what follows fail or be
    # killed, the next refresh completes it from that copy (``recover``).
    fsync(settings.published_db.parent)
    failpoints.reached("publish:after-rename")
    _commit(settings, publication)
    return counts, patched


def _changes(settings: Settings, base: Path, written: Path, replaced: Publication | None, new_id: str) -> dict:
    """What changed since the publication replaced, whose file the build area's copy still is; {} for
    the first publication, or when that copy is gone (then nothing is compared)."""
    if replaced is None or not base.exists():
        return {}
    # Its own spill folder, emptied before and after: one a killed refresh left goes with the next.
    spill = settings.build_dir / "diff.spill"
    shutil.rmtree(spill, ignore_errors=True)
    try:
        return diff.between(base, written, replaced.id, new_id, refresh_duckdb_config(spill)).summary()
    except Exception as error:  # noqa: BLE001 - the record says so; what the gates passed is published all the same
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _commit(settings: Settings, publication: Publication) -> None:
    """The publication now in place is kept, and the build area's record and copy become its own.
    Each step may be repeated by ``recover`` after a kill at any point."""
    copy = publications.copy_path(settings)
    written = copy.with_name(publication.copy)  # the pending publication's copy, in build/
    published = replace(publication, copy=copy.name)
    if written.exists():
        # Kept before the copy is renamed: a commit killed after the rename finds the copy kept.
        publications.keep(settings, written, published)
        os.replace(written, copy)
    elif not publications.is_kept(settings, published):
        # Its copy is gone: the next publication writes every table rather than patch a stale base.
        copy.unlink(missing_ok=True)
    # Kept before it is the current one, which the served door then opens by its id.
    publications.write_record(settings, published)
    publications.clear_pending(settings)
    fsync(settings.build_dir)
    publications.retire(settings)


def recover(settings: Settings) -> str | None:
    """Complete a publication a killed refresh left with its file in place, or forget one that never
    got there; then remove the temporary files it left. Says what it did, if anything."""
    pending = publications.pending(settings)
    said = None
    if pending is not None:
        published = settings.published_db.stat().st_ino if settings.published_db.exists() else None
        if published == pending.inode:
            _commit(settings, pending)
            said = f"completed the record of run {pending.run_id}'s publication, which was killed once its file was in place"
        else:
            publications.clear_pending(settings)
            publications.retire(settings)  # what it left in publications/, unlisted
            said = (
                f"run {pending.run_id} was killed before its publication was in place; the published file is as it was"
            )
    _keep_newest(settings)
    removed = sweep(settings.published_db.parent) + sweep(settings.build_dir) + publications.sweep(settings)
    if removed:
        said = (said + "; " if said else "") + f"removed {len(removed)} temporary file(s) of a killed publication"
    return said


def _keep_newest(settings: Settings) -> None:
    """Keep the newest publication under its id if it is not kept yet: one published before
    publications were kept, whose build copy is still the file as published."""
    newest, copy = publications.newest(settings), publications.copy_path(settings)
    if newest is not None and copy.exists() and not publications.is_kept(settings, newest):
        publications.keep(settings, copy, newest)


def _patchable(build_db: Path, base: Path, code_fingerprint: str) -> bool:
    """Whether the last publication's WDI tables were built by this code from the same inputs, other
    than the series themselves, as the build's: then the series that differ are all that differ."""
    if not base.exists():
        return False
    with duckdb.connect(str(base), read_only=True) as connection:
        if not table_exists(connection, "meta", "wdi_series") or not table_exists(connection, "meta", "publication"):
            return False
        context = connection.execute("select context from meta.wdi_series_context").fetchall()[0][0]
        code = connection.execute("select code_fingerprint from meta.publication").fetchall()[0][0]
        connection.execute("attach ? as build (read_only)", [str(build_db)])
        return code == code_fingerprint and context == wdi_rebuild.built_context(connection, "build")


def _write_copy(
    build_db: Path,
    target: Path,
    schemas: tuple[str, ...],
    run_id: str,
    published_at: datetime,
    code_fingerprint: str,
    patch: frozenset[str],
) -> tuple[dict[str, int], int | None, dict[str, dict[str, str]]]:
    connection = duckdb.connect(str(target), config=refresh_duckdb_config())
    try:
        connection.execute("attach ? as build (read_only)", [str(build_db)])
        patched = None
        if patch:
            connection.execute(PATCHED_SERIES)
            patched = connection.execute("select count(*) from patched_series").fetchall()[0][0]
        counts = {}
        for schema, table, comment in _relations(connection, schemas):
            name = f"{schema}.{table}"
            connection.execute(f"create schema if not exists {schema}")
            if name in patch:
                connection.execute(
                    f"delete from {name} where indicator_code in (select indicator_code from patched_series)"
                )
                connection.execute(
                    f"insert into {name} select * from build.{name} where indicator_code in (select indicator_code from patched_series)"
                )
            else:
                # Tables, not views: a view would still point at the build database's catalog.
                connection.execute(f"create or replace table {name} as select * from build.{name}")
                _copy_comments(connection, schema, table, comment)
                _copy_primary_key(connection, schema, table)
            counts[name] = connection.execute(f"select count(*) from {name}").fetchone()[0]
        inputs = _record_publication(connection, run_id, published_at, code_fingerprint)
        _record_keys(connection, schemas)
        connection.execute("detach build")
        connection.execute("checkpoint")
        return counts, patched, inputs
    finally:
        connection.close()


# The series whose published rows differ from the build's: added, changed or removed since.
PATCHED_SERIES = f"create temp table patched_series as {differing_series(f'build.{wdi_rebuild.SCHEMA}.wdi_built', 'meta.wdi_series')}"


def _relations(connection: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
    return connection.execute(
        """
        select schema_name, table_name, comment from duckdb_tables()
        where database_name = 'build' and list_contains($schemas, schema_name)
        union all
        select schema_name, view_name, comment from duckdb_views()
        where database_name = 'build' and list_contains($schemas, schema_name)
        order by 1, 2
        """,
        {"schemas": list(schemas)},
    ).fetchall()


def _copy_comments(connection: duckdb.DuckDBPyConnection, schema: str, table: str, comment: str | None) -> None:
    """Carry dbt's documentation along, so analysts read it with duckdb_tables()/duckdb_columns()."""
    if comment:
        connection.execute(f"comment on table {schema}.{table} is {literal(comment)}")
    columns = connection.execute(
        "select column_name, comment from duckdb_columns() where database_name = 'build' "
        "and schema_name = ? and table_name = ? and comment is not null",
        [schema, table],
    ).fetchall()
    for column, text in columns:
        connection.execute(f"comment on column {schema}.{table}.{quoted(column)} is {literal(text)}")


def _copy_primary_key(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """The key dbt's contract enforced in the build, declared again so analysts and their tools see it."""
    keys = connection.execute(
        "select constraint_column_names from duckdb_constraints() where database_name = 'build' "
        "and schema_name = ? and table_name = ? and constraint_type = 'PRIMARY KEY'",
        [schema, table],
    ).fetchall()
    for (columns,) in keys:
        connection.execute(f"alter table {schema}.{table} add primary key ({', '.join(columns)})")


def _record_keys(connection: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> None:
    """Each published table's key as dbt's project states it (contracts.py), in the file itself: the
    diff of two publications pairs rows by it, and a data package declares it."""
    keys = contract_keys(DBT_PROJECT.manifest_path, schemas)
    connection.execute(f"create or replace table {diff.KEYS_TABLE} (table_name varchar, key_columns varchar[])")
    connection.execute(
        f"comment on table {diff.KEYS_TABLE} is "
        + literal("The key of each published table that has one (its dbt contract's), for diffs and data packages.")
    )
    connection.executemany(
        f"insert into {diff.KEYS_TABLE} values (?, ?)", [[name, key] for name, key in sorted(keys.items())]
    )


def _record_publication(
    connection: duckdb.DuckDBPyConnection, run_id: str, published_at: datetime, code_fingerprint: str
) -> dict[str, dict[str, str]]:
    """Which publication this file is, what it was built from: the run, the code, and each source's
    snapshot set (returned too)."""
    connection.execute("create schema if not exists meta")
    connection.execute("drop table if exists meta.publication")
    connection.execute("drop table if exists meta.inputs")
    connection.execute(
        "create table meta.publication as select ?::varchar as publication_id, ?::varchar as dagster_run_id, "
        "?::timestamp as published_at, ?::varchar as code_fingerprint",
        [publication_id(published_at, run_id), run_id, published_at.replace(tzinfo=None), code_fingerprint],
    )
    source = (
        "build.raw.loaded_snapshots"
        if table_exists(connection, "raw", "loaded_snapshots", "build")
        else "(select ''::varchar as source, ''::varchar as fingerprint, null::timestamp as loaded_at limit 0)"
    )
    connection.execute(f"create table meta.inputs as select source, fingerprint, loaded_at from {source}")
    if table_exists(connection, *gate_history.BUILD_TABLE.split("."), "build"):
        connection.execute(
            f"create or replace table {gate_history.PUBLISHED_TABLE} as select * from build.{gate_history.BUILD_TABLE}"
        )
    # Which WDI series the WDI tables hold, and what they were built from, for the next publication's patch.
    connection.execute("drop table if exists meta.wdi_series")
    connection.execute("drop table if exists meta.wdi_series_context")
    context = wdi_rebuild.built_context(connection, "build")
    if context is not None:
        connection.execute(f"create table meta.wdi_series as select * from build.{wdi_rebuild.SCHEMA}.wdi_built")
        connection.execute("create table meta.wdi_series_context as select ?::varchar as context", [context])
    rows = connection.execute("select source, fingerprint, loaded_at::varchar from meta.inputs").fetchall()
    return {source: {"fingerprint": fingerprint, "loaded_at": loaded_at} for source, fingerprint, loaded_at in rows}
