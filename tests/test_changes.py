"""What a refresh rebuilds, decided from real build and published DuckDB files: every branch of
the plan, with the reasons a data engineer reads in the run's log."""

import json

import duckdb
import pytest

from orchestration import publications
from orchestration.publishing.published_file import publish
from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from orchestration.transform.changes import build_plan, code_fingerprint, load_reason
from orchestration.transform.raw_assets import record_loaded
from orchestration.warehouse import Warehouse
from tests.conftest import SNAPSHOTS

A, B = "a" * 64, "b" * 64


@pytest.fixture
def warehouse(tmp_path) -> Settings:
    """A build database that loaded un_egov from snapshot set A and worldbank from B, with this code."""
    settings = Settings(home=tmp_path / "home", snapshots_dir=SNAPSHOTS)
    with Warehouse(settings).build_connection() as connection:
        record_loaded(connection, "un_egov", A)
        record_loaded(connection, "worldbank", B)
    return settings


def decide(settings: Settings, full: bool = False):
    with duckdb.connect(str(settings.build_db)) as connection:
        return (
            load_reason(connection, "un_egov", A, full),
            load_reason(connection, "un_egov", B, full),
            load_reason(connection, "datareportal", A, full),
            build_plan(connection, settings, full),
        )


def test_a_first_refresh_builds_and_a_new_snapshot_set_loads(warehouse):
    same, changed, never, plan = decide(warehouse)
    assert same is None
    assert changed == f"snapshots changed ({A[:12]} -> {B[:12]})"
    assert never == "not in the build database yet"
    assert (plan.build, plan.reason) == (True, "no published warehouse yet: building every model")


def test_nothing_changed_since_the_publication_builds_nothing(warehouse):
    publish(warehouse, PUBLISHED_SCHEMAS, run_id="run-1", code_fingerprint=code_fingerprint())
    plan = decide(warehouse)[3]
    assert (plan.build, plan.reason) == (False, "nothing changed since the publication of run run-1: nothing rebuilt")
    assert decide(warehouse, full=True)[3].build and decide(warehouse, full=True)[0] == "full rebuild requested"


def test_a_reloaded_source_or_changed_code_rebuilds_every_model(warehouse):
    publish(warehouse, PUBLISHED_SCHEMAS, run_id="run-1", code_fingerprint=code_fingerprint())
    with Warehouse(warehouse).build_connection() as connection:
        record_loaded(connection, "worldbank", A)
    plan = decide(warehouse)[3]
    assert (plan.build, plan.reason) == (True, "worldbank changed since the last publication: building every model")
    with duckdb.connect(str(warehouse.build_db)) as connection:
        connection.execute("update raw.loaded_snapshots set code_fingerprint = 'older code'")
    record = publications.record_path(warehouse)  # what a refresh knows of the last publication
    record.write_text(json.dumps({**json.loads(record.read_text()), "code_fingerprint": "older code"}))
    same, *_, plan = decide(warehouse)
    assert same == "the code changed since it was loaded"
    assert (plan.build, plan.reason) == (True, "the code changed since the last publication: building every model")
