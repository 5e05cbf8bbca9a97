"""The `warehouse` command as a user runs it: a subprocess with its own Dagster home."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from bench.served import free_port
from orchestration.settings import PROJECT_ROOT
from tests.conftest import WAREHOUSE, copy_home, environment, logged_decisions, run


def test_help_lists_the_commands_with_examples():
    result = subprocess.run([WAREHOUSE, "--help"], capture_output=True, text=True, check=True)
    assert "refresh" in result.stdout and "ui" in result.stdout and "examples:" in result.stdout


def test_refresh_of_one_source_on_an_empty_build_area_publishes_prints_a_summary_and_records_the_run(first_refresh):
    """One source's refresh on an empty build area loads the others too: the marts join them all.
    The shared build of the whole suite is this very run (tests/conftest.py)."""
    printed = first_refresh.stdout
    assert re.search(r"marts\.egov_scores\s+2,316 rows", printed)
    assert re.search(r"marts\.wdi_observations\s+44,998 rows", printed)
    assert "Kazakhstan     0.8628  rank  28  Very High" in printed
    # A line per step, not dbt's own log: that is in the file the output names.
    assert len(printed.splitlines()) < 80 and not re.search(r"\d+ of \d+ (PASS|OK)", printed)
    dbt_log = Path(re.search(r"dbt's log: (\S+)", printed).group(1)).read_text(encoding="utf-8")
    # dbt's unit tests (fixed inputs, hand-written expectations) run inside the refresh's `dbt build`.
    unit_tests = set(re.findall(r"\d+ of \d+ PASS (\w+::\w+)", dbt_log)) & {
        "int_un_egov__scores::scores_rank_ties_like_competitions_and_band_egdi_at_the_uns_edges",
        "egov_dynamics::dynamics_pct_change_needs_a_nonzero_base_and_rank_change_is_positive_upwards",
        "internet_penetration_comparison::comparison_flags_a_bound_only_when_the_world_bank_breaks_it",
        "wdi_region_summary::region_summary_coverage_rule_and_medians",
        "wdi_dynamics::wdi_dynamics_takes_the_exact_year_back_or_nothing",
        "egov_region_summary::egov_region_summary_averages_the_states_surveyed",
    }
    assert len(unit_tests) == 6, unit_tests
    with duckdb.connect(str(first_refresh.settings.published_db), read_only=True) as connection:
        run_id, publication = connection.execute(
            "select dagster_run_id, publication_id from meta.publication"
        ).fetchone()
    assert run_id in printed and f"publication {publication}: cite it by this id" in printed
    # The run is in the persistent instance, where the UI's run history reads it.
    with dg.DagsterInstance.from_config(str(first_refresh.dagster_home)) as instance:
        recorded = instance.get_run_by_id(run_id)
    assert recorded.status == dg.DagsterRunStatus.SUCCESS and recorded.job_name == "refresh_un_egov"


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
LOCATIONS = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


@pytest.mark.slow
def test_ui_serves_the_asset_graph_launches_a_refresh_that_decides_as_the_cli_and_stops_everything_on_sigterm(
    built, tmp_path
):
    """On a copy of the built warehouse: the launchpad's run of `refresh_un_egov` (the job's own
    config: its inbox and its live upstream, unset here) decides what `warehouse refresh` decided
    before starting any run."""
    copy_home(built, tmp_path / "home")
    shortcut = run(["refresh", "--source", "un_egov"], environment(tmp_path))
    assert shortcut.returncode == 0 and "no run needed" in shortcut.stdout, shortcut.stderr[-2000:]
    port = free_port()
    # Started as a script's background job starts it: with SIGINT ignored, which dagster dev would
    # pass on to SIGTERM. Not on the pytest-xdist worker's stdin, its channel to the controller; the
    # output goes to a file that a failure shows.
    output = tmp_path / "ui.log"
    process = subprocess.Popen(
        [WAREHOUSE, "ui", "--port", str(port)],
        env=environment(tmp_path),
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=output.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        keys = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not keys:
            time.sleep(2)
            try:
                nodes = graphql(port, "{ assetNodes { assetKey { path } } }")["data"]["assetNodes"]
                keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
            except (OSError, KeyError, TypeError):
                continue
        assert keys, "the UI did not answer on 127.0.0.1 within 180 s"
        assert {
            "snapshots/un_egov",
            "raw/un_egov_surveys",
            "staging/stg_un_egov__surveys",
            "marts/egov_scores",
            "published_warehouse",
        } <= keys
        [repository] = graphql(port, LOCATIONS)["data"]["repositoriesOrError"]["nodes"]
        selector = {
            "repositoryLocationName": repository["location"]["name"],
            "repositoryName": repository["name"],
            "jobName": "refresh_un_egov",
        }
        launched = graphql(port, LAUNCH, {"params": {"selector": selector, "mode": "default"}})["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status, deadline = None, time.monotonic() + 300  # queued, dequeued by the daemon, run in a process of its own
        while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
            time.sleep(2)
            status = graphql(port, RUN_STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        assert status == "SUCCESS", (status, output.read_text()[-3000:])
        with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
            logged = logged_decisions(instance, run_id)
        asked = [
            line
            for line in logged
            if line.startswith(("un_egov: checking the live upstream", "un_egov: UN_EGOV_URL_TEMPLATE"))
        ]
        assert len(asked) == 2
        assert sorted(set(logged) - set(asked)) == sorted(
            line.strip() for line in shortcut.stdout.splitlines() if line.startswith("  ")
        )
        # A service manager stops `warehouse ui` by its pid alone: the webserver and daemon go too.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`warehouse ui` outlived SIGTERM by 60 s; its output:\n{output.read_text()[-3000:]}")
        deadline = time.monotonic() + 30
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _group_alive(process.pid), "dagster dev, the webserver or the daemon outlived `warehouse ui`"
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # our own closed requests linger in TIME_WAIT
            probe.bind(("127.0.0.1", port))  # nothing listens on the port any more
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
