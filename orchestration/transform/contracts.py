"""The key of each published table, as dbt's project states it: what identifies a row, for the
diff of two publications and the primary key of a data package.

A model's key is its contract's primary key; else the columns of its ``unique_key`` test (the WDI
tables, where DuckDB's key index would cost more than the test: bench/NOTES.md, "Keys"); else the
``key`` its ``meta`` declares, for a model whose key is tested through another's. A table with
none (the seeds, the audit) has no key: its rows are compared whole.
"""

from __future__ import annotations

import json
from pathlib import Path


def contract_keys(manifest: Path, schemas: tuple[str, ...]) -> dict[str, list[str]]:
    """``schema.table`` -> its key columns, for the models of ``schemas`` that have one."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    tested = {
        node["attached_node"]: list(node["test_metadata"]["kwargs"]["columns"])
        for node in nodes.values()
        if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") == "unique_key"
    }
    keys = {}
    for unique_id, node in nodes.items():
        if node["resource_type"] != "model" or node["schema"] not in schemas:
            continue
        key = _primary_key(node) or tested.get(unique_id) or list(node["config"].get("meta", {}).get("key", []))
        if key:
            keys[f"{node['schema']}.{node['name']}"] = key
    return keys


def _primary_key(node: dict) -> list[str]:
    for constraint in node.get("constraints", []):
        if constraint["type"] == "primary_key":
            return list(constraint["columns"])
    return [
        name
        for name, column in node["columns"].items()
        if any(c["type"] == "primary_key" for c in column.get("constraints", []))
    ]
