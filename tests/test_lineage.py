"""The asset graph runs unbroken from the snapshot files to the published warehouse."""

import json

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from orchestration.transform.dbt_project import DBT_PROJECT


def upstream_closure(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


CHAINS = {
    "un_egov": [
        "snapshots/un_egov",
        "raw/un_egov_surveys",
        "staging/stg_un_egov__surveys",
        "intermediate/int_un_egov__scores",
        "marts/egov_scores",
        "published_warehouse",
    ],
    "worldbank": [
        "snapshots/worldbank",
        "raw/wdi_observations",
        "staging/stg_worldbank__observations",
        "intermediate/int_worldbank__observations",
        "marts/country_year_digital",
        "published_warehouse",
    ],
    "datareportal": [
        "snapshots/datareportal",
        "raw/datareportal_figures",
        "staging/stg_datareportal__figures",
        "intermediate/int_datareportal__facts",
        "marts/internet_penetration_comparison",
        "published_warehouse",
    ],
}


@pytest.mark.parametrize("source", CHAINS)
def test_snapshot_to_published_path(tmp_path, source):
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    chain = [dg.AssetKey(name.split("/")) for name in CHAINS[source]]
    for parent, child in zip(chain, chain[1:]):
        assert parent in graph.get(child).parent_keys, f"{parent} -> {child}"


def test_published_inputs_are_the_marts(tmp_path):
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    key = dg.AssetKey
    published_inputs = graph.get(key(["published_warehouse"])).parent_keys
    assert {k.path[-1] for k in published_inputs} >= {
        "dim_country",
        "egov_scores",
        "egov_region_summary",
        "egov_dynamics",
        "wdi_observations",
        "country_year_digital",
        "wdi_region_summary",
        "wdi_dynamics",
        "datareportal_figures",
        "internet_penetration_comparison",
    }
    assert {k.path[0] for k in published_inputs} == {"marts", "paper"}
    assert key(["paper", "audit"]) in published_inputs
    assert key(["raw", "country_reference"]) in upstream_closure(graph, key(["marts", "dim_country"]))


def test_the_incremental_wdi_models_show_the_rebuild_list_they_read(tmp_path):
    """build_state.wdi_rebuild, written by the dbt step before dbt runs, is a dbt source: an input in the graph."""
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    rebuild_list = dg.AssetKey(["build_state", "wdi_rebuild"])
    readers = {key.to_user_string() for key in graph.get_all_asset_keys() if rebuild_list in graph.get(key).parent_keys}
    assert readers == {
        "intermediate/int_worldbank__observations",
        "marts/wdi_observations",
        "marts/wdi_dynamics",
        "marts/wdi_region_summary",
    }


def test_dbt_tests_and_gx_suites_are_blocking_asset_checks(tmp_path):
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    specs = {(key.asset_key.to_user_string(), key.name): graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert specs[("marts/wdi_observations", "unique_key_wdi_observations_iso3__indicator_code__year")].blocking
    for table in ("un_egov_surveys", "wdi_observations", "wdi_countries", "datareportal_figures"):
        assert specs[(f"raw/{table}", "great_expectations")].blocking
    dbt_checks = [spec for (asset, _), spec in specs.items() if not asset.startswith("raw/")]
    # Every data test dbt runs on DuckDB (the not-null rules of contracts are constraints there).
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    assert len(dbt_checks) == len(tests) and all(spec.blocking for spec in dbt_checks)


def test_every_asset_says_what_it_is_what_it_holds_and_who_answers_for_it(tmp_path):
    """The UI's catalog: each asset has kinds (its technology), a description and an owner; the
    dbt models are the analytics engineers', the rest the data engineers'."""
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    missing = {
        key.to_user_string(): (sorted(graph.get(key).kinds), bool(graph.get(key).description))
        for key in graph.get_all_asset_keys()
        if not (graph.get(key).kinds and graph.get(key).description)
    }
    assert not missing, missing
    owners = {key.to_user_string(): graph.get(key).owners for key in graph.get_all_asset_keys()}
    assert owners["marts/egov_scores"] == ["team:analytics-engineering"] and owners["staging/stg_un_egov__surveys"] == [
        "team:analytics-engineering"
    ]
    assert (
        owners["raw/wdi_observations"]
        == owners["snapshots/un_egov"]
        == owners["published_warehouse"]
        == ["team:data-engineering"]
    )
    assert all(len(found) == 1 for found in owners.values()), owners


def shown_table(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    """The metadata the UI shows of an asset's latest materialisation."""
    return instance.get_latest_materialization_event(key).asset_materialization.metadata


def test_raw_assets_show_their_row_count_and_columns_in_the_ui(first_refresh):
    """dagster/row_count and dagster/column_schema on each raw table's materialisation in the first
    refresh's run history, equal to the table in the build database."""
    import duckdb

    with dg.DagsterInstance.from_config(str(first_refresh.dagster_home)) as instance:
        shown = {
            table: shown_table(instance, dg.AssetKey(["raw", table]))
            for table in (
                "un_egov_surveys",
                "wdi_observations",
                "wdi_countries",
                "datareportal_figures",
                "country_reference",
            )
        }
    with duckdb.connect(str(first_refresh.settings.build_db), read_only=True) as connection:
        for table, metadata in shown.items():
            count = connection.execute(f"select count(*) from raw.{table}").fetchone()[0]
            columns = connection.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = 'raw' "
                "and table_name = ? order by column_index",
                [table],
            ).fetchall()
            assert metadata["dagster/row_count"].value == count > 0, table
            assert [(c.name, c.type) for c in metadata["dagster/column_schema"].schema.columns] == columns, table


def test_dbt_models_show_their_row_count_and_columns_in_the_ui(first_refresh):
    """The same metadata on every model the first refresh built, read from its run history and
    compared with the build database."""
    import duckdb

    with duckdb.connect(str(first_refresh.settings.build_db), read_only=True) as connection:
        models = connection.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'paper') "
            "union all select schema_name, view_name from duckdb_views() where schema_name = 'staging'"
        ).fetchall()
        expected = {
            (schema, name): connection.execute(f"select count(*) from {schema}.{name}").fetchone()[0]
            for schema, name in models
        }
    with dg.DagsterInstance.from_config(str(first_refresh.dagster_home)) as instance:
        shown = {(schema, name): shown_table(instance, dg.AssetKey([schema, name])) for schema, name in models}
    assert len(models) > 25
    for model, count in expected.items():
        assert shown[model]["dagster/row_count"].value == count, model
        assert shown[model]["dagster/column_schema"].schema.columns, model
    # A contract's not_null constraint shows in the column schema, where the test it replaced showed
    # as a check (dbt_project/tests/generic/not_null_unless_enforced.sql).
    nullable = {
        column.name: column.constraints.nullable
        for column in shown[("marts", "dim_country")]["dagster/column_schema"].schema.columns
    }
    assert nullable["country_name"] is False and nullable["is_central_asia"] is False
    assert nullable["wb_region"] is True  # NULL for states the World Bank does not list
