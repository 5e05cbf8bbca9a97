"""Which WDI series a `dbt build` rewrites in the incremental WDI models (macros/wdi_rebuild.sql).

The build database records what those models were last built from, in ``build_state``: each
series' fingerprint (raw.wdi_indicators: its values, lines, name and weighting) and the fingerprint
of everything else they read (the code, the other loaded sources, the country list, population).
A build rewrites the series added, changed or removed since; when anything else changed, or the
last build did not finish, it rebuilds every series (`dbt build --full-refresh`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.sources.worldbank import SPEC as WORLDBANK
from orchestration.sources.worldbank.series import differing_series
from orchestration.transform.changes import code_fingerprint, loaded_inputs
from orchestration.warehouse import table_exists

SCHEMA = "build_state"
# Loaded inputs not in the context: the series are compared one by one, and no WDI model reads the
# list of every snapshot file, which changes with any new release.
_NOT_READ = (WORLDBANK.name, "snapshot_files")


@dataclass(frozen=True)
class Rebuild:
    full: bool
    reason: str


def plan(connection: duckdb.DuckDBPyConnection, full: bool) -> Rebuild:
    """What the next build rewrites; for an incremental one, writes build_state.wdi_rebuild."""
    if full:
        return Rebuild(True, "full rebuild requested")
    held = built_context(connection)
    if held is None:
        return Rebuild(True, "no record of a finished build of the WDI models")
    if held != _context(connection):
        return Rebuild(True, "the code, the country list, population or another source changed")
    connection.execute(
        f"create or replace table {SCHEMA}.wdi_rebuild as {differing_series('raw.wdi_indicators', f'{SCHEMA}.wdi_built')}"
    )
    changed = connection.execute(f"select count(*) from {SCHEMA}.wdi_rebuild").fetchall()[0][0]
    total = connection.execute("select count(*) from raw.wdi_indicators").fetchall()[0][0]
    return Rebuild(False, f"{changed} of {total} series added, changed or removed")


def begin(connection: duckdb.DuckDBPyConnection) -> None:
    """Forget what the models were built from until the build has finished: a build that stops part
    way leaves some series rewritten and others not, so the next one must rebuild them all."""
    connection.execute(f"create schema if not exists {SCHEMA}")
    connection.execute(f"drop table if exists {SCHEMA}.wdi_built_context")
    # An empty list until plan() writes one, so that the models' filter always has a table to read.
    connection.execute(f"create table if not exists {SCHEMA}.wdi_rebuild (indicator_code varchar)")


def finish(connection: duckdb.DuckDBPyConnection) -> None:
    """Record what the models now hold: every series as raw.wdi_indicators has it."""
    connection.execute("begin transaction")
    connection.execute(
        f"create or replace table {SCHEMA}.wdi_built as select indicator_code, fingerprint from raw.wdi_indicators"
    )
    connection.execute(
        f"create or replace table {SCHEMA}.wdi_built_context as select ?::varchar as context", [_context(connection)]
    )
    connection.execute("commit")


def series_tables(manifest: Path, schemas: tuple[str, ...]) -> frozenset[str]:
    """The published tables a build rewrites series by series: the incremental models of
    ``schemas`` in the dbt manifest (none in a manifest parsed for Spark)."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return frozenset(
        f"{node['schema']}.{node['name']}"
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"]["materialized"] == "incremental"
        and node["schema"] in schemas
    )


def built_context(connection: duckdb.DuckDBPyConnection, database: str | None = None) -> str | None:
    """What the WDI models of a finished build were built from (None: no finished build), in the
    connection's database or the attached ``database``."""
    if not table_exists(connection, SCHEMA, "wdi_built_context", database):
        return None
    held = connection.execute(
        f"select context from {database + '.' if database else ''}{SCHEMA}.wdi_built_context"
    ).fetchall()
    return held[0][0] if held else None


def _context(connection: duckdb.DuckDBPyConnection) -> str:
    digest = hashlib.sha256(code_fingerprint().encode())
    for name, (fingerprint, _) in sorted(loaded_inputs(connection).items()):
        if name not in _NOT_READ:
            digest.update(f"{name}={fingerprint}".encode())
    countries = connection.execute(
        "select bit_xor(hash(hash(country_code, country_name, region, income_group, is_aggregate, special_notes))) from raw.wdi_countries"
    ).fetchall()[0][0]
    population = connection.execute(
        "select fingerprint from raw.wdi_indicators where indicator_code = ?", [_population_indicator()]
    ).fetchall()
    digest.update(f"countries={countries};population={population}".encode())
    return digest.hexdigest()


def _population_indicator() -> str:
    """The series that weights means, as dbt's var population_indicator names it."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["vars"]["population_indicator"]
