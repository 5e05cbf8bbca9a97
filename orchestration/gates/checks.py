"""Blocking asset checks: each raw table passes its Great Expectations suite or nothing downstream runs."""

import importlib

import dagster as dg
import duckdb
import pandas as pd

from expectations.common import Gate
from orchestration.gates import history as gate_history
from orchestration.gates import quality
from orchestration.publications import copy_path
from orchestration.run_context import is_full, say
from orchestration.settings import Settings
from orchestration.sources import countries
from orchestration.sources.registry import SOURCES
from orchestration.sources.spec import RawTable
from orchestration.transform.changes import code_fingerprint, loaded_inputs
from orchestration.warehouse import Warehouse, table_exists


def _gate(connection: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> Gate:
    schema, name = table.split(".")
    columns = connection.execute(
        "select column_name, data_type as column_type from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
        [schema, name],
    ).df()
    known = set(countries.reference_table()["iso3"])
    if table_exists(connection, "raw", "wdi_countries"):
        known |= {
            row[0]
            for row in connection.execute(
                "select country_code from raw.wdi_countries where not is_aggregate"
            ).fetchall()
        }
    published = {}
    if table_exists(connection, "raw", "wdi_indicators"):
        published["units"] = connection.execute("select indicator_code, unit from raw.wdi_indicators").df()
    published |= _previously_published(settings)
    return Gate(known_iso3=frozenset(known), schema=columns, published=published)


def _previously_published(settings: Settings) -> dict[str, pd.DataFrame]:
    """What the published warehouse holds now, for the checks that a new snapshot is not older: read
    from the build area's copy of it, since an analyst may hold the published file locked."""
    copy = copy_path(settings)
    if not copy.exists():
        return {}
    with duckdb.connect(str(copy), read_only=True) as published:
        return {
            "survey_years": published.execute(
                "select distinct survey_year from marts.egov_scores where egdi is not null"
            ).df(),
            "vintages": published.execute("select indicator_code, vintage as previous from marts.wdi_indicators").df()
            if table_exists(published, "marts", "wdi_indicators")
            else pd.DataFrame(columns=["indicator_code", "previous"]),
        }


def gx_check(source: str, raw_table: RawTable) -> dg.AssetChecksDefinition:
    """The blocking check of ``raw_table``'s suite, on the raw table that ``source`` loads."""
    suite = importlib.import_module(raw_table.suite)
    table = raw_table.name
    if suite.TABLE != f"raw.{table}":
        raise ValueError(f"{raw_table.suite}: TABLE is {suite.TABLE!r}, but {source} names it the suite of raw.{table}")

    @dg.asset_check(
        asset=dg.AssetKey(["raw", table]),
        name="great_expectations",
        blocking=True,
        description=f"{(suite.__doc__ or '').strip()} Great Expectations suite: {raw_table.suite}",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]) -> dg.AssetCheckResult:
        settings = warehouse.settings
        with warehouse.build_connection() as connection:
            loaded = loaded_inputs(connection).get(source)
            passed_before = _passed_before(connection, suite.TABLE, loaded)
            run_id = context.op_execution_context.run_id
            if passed_before and not is_full(context.op_execution_context):
                gate_history.record(
                    connection, run_id, suite.TABLE, passed=True, validated=False, evaluated=0, failures=[]
                )
                return dg.AssetCheckResult(
                    passed=True,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=(
                        f"{suite.TABLE}: unchanged since it passed every expectation in run {passed_before}; not validated again"
                    ),
                )
            # A suite over a table too big for memory validates what its load() aggregates, part by
            # part; a part that passed before, unchanged and under the same code, is not aggregated
            # again unless the refresh is full (expectations/__init__.py).
            code = None  # the code's fingerprint, for a suite that keeps what passed (load() and keep())
            if hasattr(suite, "load"):
                code = code_fingerprint()
                frame, aggregated = suite.load(connection, code, reuse=not is_full(context.op_execution_context))
                say(context.op_execution_context, aggregated)
            else:
                frame = connection.execute(f"select * from {suite.TABLE}").df()
            gate = _gate(connection, settings, suite.TABLE)
        outcome = quality.validate(suite, frame, gate, settings.quality_dir / table)
        with warehouse.build_connection() as connection:
            gate_history.record(
                connection,
                run_id,
                suite.TABLE,
                passed=outcome.success,
                validated=True,
                evaluated=outcome.evaluated,
                failures=[f.line() for f in outcome.failures],
            )
            if outcome.success and code is not None:
                suite.keep(connection, code)
            if outcome.success and loaded:
                _record_pass(connection, suite.TABLE, loaded, run_id)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary(),
            metadata={
                "expectations": outcome.evaluated,
                "failed": len(outcome.failures),
                "failures": dg.MetadataValue.md("\n".join(f"- {f.line()}" for f in outcome.failures) or "none"),
                "data_docs": dg.MetadataValue.path(str(outcome.docs_index)),
            },
        )

    return _check


def _passed_before(connection: duckdb.DuckDBPyConnection, table: str, loaded: tuple[str, str] | None) -> str | None:
    """The run in which this very load (snapshot set and code) of ``table`` passed its suite, if any:
    the same rows checked by the same code pass again, so a no-change refresh need not re-run GX."""
    if loaded is None or not table_exists(connection, "raw", "gate_passes"):
        return None
    found = connection.execute(
        "select run_id from raw.gate_passes where table_name = ? and fingerprint = ? and code_fingerprint = ?",
        [table, *loaded],
    ).fetchall()
    return found[0][0] if found else None


def _record_pass(connection: duckdb.DuckDBPyConnection, table: str, loaded: tuple[str, str], run_id: str) -> None:
    connection.execute(
        "create table if not exists raw.gate_passes "
        "(table_name varchar primary key, fingerprint varchar, code_fingerprint varchar, run_id varchar, passed_at timestamp)"
    )
    connection.execute(
        "insert or replace into raw.gate_passes values (?, ?, ?, ?, now()::timestamp)", [table, *loaded, run_id]
    )


def gx_checks() -> list[dg.AssetChecksDefinition]:
    """One per raw table whose source's SPEC names a suite."""
    return [gx_check(spec.name, table) for spec in SOURCES.values() for table in spec.raw_tables if table.suite]
