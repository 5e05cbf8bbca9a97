"""The only module that leans on private members of dagster, dagster-dbt or dbt, each where the pinned
versions offer no public route. tests/test_library_adapters.py fails if a library changes what each
relies on, so an upgrade that breaks one is found by the tests, not by a refresh."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property

import dagster as dg
import dbt.version
from dagster_dbt import DbtCliResource
from packaging import version

# Dagster's logger for a blocking check that a step did not report (dagster/_core/execution/plan/active.py).
UNREPORTED_CHECK_LOGGER = "dagster._core.execution.plan.active"
UNREPORTED_DBT_CHECKS = "emitted no result in step 'warehouse_dbt_models'"


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs of every `dbt build` that this project does
    not need: a `dbt --version` subprocess to learn the version of the dbt-core installed beside it
    (read here from dbt-core itself), and a dbt adapter loaded in this process for its row-count
    and column-metadata helpers, which the assets here do not call (orchestration/warehouse.py reads
    both from DuckDB once dbt has finished). dagster-dbt has no public switch for either."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(dbt.version.__version__)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def quiet_unreported_dbt_checks() -> None:
    """When nothing changed the dbt step yields nothing on purpose, and publishing is skipped with
    it; Dagster would warn once per dbt test that a blocking check "emitted no result". Dagster has
    no public setting for it, so its private logger's record of exactly that is dropped."""
    logging.getLogger(UNREPORTED_CHECK_LOGGER).addFilter(
        lambda record: UNREPORTED_DBT_CHECKS not in record.getMessage()
    )


def latest_check_executions(
    instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]
) -> dict[dg.AssetCheckKey, object]:
    """The latest execution of each asset check in the instance's event log (status, run, time).
    DagsterInstance has no public reader of asset check executions in the pinned version."""
    return instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
