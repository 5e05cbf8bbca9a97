"""The asset graph runs unbroken from the snapshot files to the published warehouse."""

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.settings import Settings


def upstream_closure(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_snapshot_to_published_path(dbt_manifest, tmp_path):
    graph = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path)).resolve_asset_graph()
    key = dg.AssetKey
    chain = [
        key(["snapshots", "un_egov"]),
        key(["raw", "un_egov_surveys"]),
        key(["staging", "stg_un_egov__surveys"]),
        key(["intermediate", "int_un_egov__scores"]),
        key(["marts", "egov_scores"]),
        key(["published_warehouse"]),
    ]
    for parent, child in zip(chain, chain[1:]):
        assert parent in graph.get(child).parent_keys, f"{parent} -> {child}"
    published_inputs = graph.get(key(["published_warehouse"])).parent_keys
    assert {k.path[-1] for k in published_inputs} >= {"dim_country", "egov_scores", "egov_region_summary", "egov_dynamics"}
    assert {k for k in published_inputs if k.path[0] != "marts"} == set()
    assert key(["raw", "country_reference"]) in upstream_closure(graph, key(["marts", "dim_country"]))


def test_dbt_tests_are_asset_checks(dbt_manifest, tmp_path):
    definitions = build_definitions(Settings(home=tmp_path, snapshots_dir=tmp_path))
    checks = definitions.resolve_asset_graph().asset_check_keys
    names = {(c.asset_key.path[-1], c.name) for c in checks}
    assert ("egov_scores", "unique_key_egov_scores_iso3__survey_year") in names
