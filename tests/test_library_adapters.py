"""What orchestration/library_adapters.py relies on in dagster, dagster-dbt and dbt, each checked
against the installed versions: an upgrade that changes one fails here first."""

import inspect
import logging
from functools import cached_property

import dagster as dg
import dbt.version
from dagster_dbt import DbtCliResource
from packaging import version

from orchestration.library_adapters import (
    UNREPORTED_CHECK_LOGGER,
    UNREPORTED_DBT_CHECKS,
    WarehouseDbtCliResource,
    latest_check_executions,
    quiet_unreported_dbt_checks,
)
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR


def test_dagster_dbt_still_asks_the_two_members_the_resource_overrides():
    """DbtCliResource.cli() learns dbt's version from _cli_version and loads an adapter through
    _initialize_dbt_core_adapter; were either renamed, the override would silently stop working."""
    source = inspect.getsource(DbtCliResource)
    assert "self._cli_version" in source and "self._initialize_dbt_core_adapter(" in source
    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), cached_property)
    assert list(inspect.signature(DbtCliResource._initialize_dbt_core_adapter).parameters) == ["self", "args"]


def test_the_resource_reads_dbts_version_without_a_subprocess():
    resource = WarehouseDbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
    assert resource._cli_version == version.parse(dbt.version.__version__)
    assert resource._initialize_dbt_core_adapter(["build"]) is None


@dg.multi_asset(
    specs=[dg.AssetSpec("a_model", skippable=True)],
    check_specs=[dg.AssetCheckSpec("a_test", asset="a_model", blocking=True)],
    can_subset=True,
)
def warehouse_dbt_models():
    """Like the dbt step when nothing changed: no model, so no result for its blocking check."""
    yield from ()


@dg.asset(deps=["a_model"])
def published():
    """Downstream of the model: what Dagster gates on its checks."""


def test_dagster_warns_of_an_unreported_check_on_the_logger_the_filter_quiets(caplog):
    logger = logging.getLogger(UNREPORTED_CHECK_LOGGER)
    kept = list(logger.filters)
    logger.filters.clear()
    try:
        with caplog.at_level(logging.WARNING):
            dg.materialize([warehouse_dbt_models, published], instance=dg.DagsterInstance.ephemeral())
        said = [
            r for r in caplog.records if r.name == UNREPORTED_CHECK_LOGGER and UNREPORTED_DBT_CHECKS in r.getMessage()
        ]
        assert said, [(r.name, r.getMessage()) for r in caplog.records]
        caplog.clear()
        quiet_unreported_dbt_checks()
        with caplog.at_level(logging.WARNING):
            dg.materialize([warehouse_dbt_models, published], instance=dg.DagsterInstance.ephemeral())
        assert not [r for r in caplog.records if UNREPORTED_DBT_CHECKS in r.getMessage()]
    finally:
        logger.filters[:] = kept


@dg.asset(check_specs=[dg.AssetCheckSpec("gate", asset="checked")])
def checked():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(passed=False, check_name="gate")


def test_the_latest_check_execution_is_read_with_its_status_and_run():
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([checked], instance=instance, raise_on_error=False)
    key = dg.AssetCheckKey(dg.AssetKey("checked"), "gate")
    latest = latest_check_executions(instance, [key])[key]
    assert latest.run_id == result.run_id and latest.status.value == "FAILED" and latest.create_timestamp > 0
