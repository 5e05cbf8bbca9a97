"""The `warehouse` command as a user runs it: a subprocess with its own Dagster home."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from orchestration.sources.snapshots import sha256_of
import duckdb

from orchestration.settings import PROJECT_ROOT
from tests.conftest import SNAPSHOTS

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def environment(tmp_path: Path, snapshots: Path = SNAPSHOTS) -> dict[str, str]:
    return {
        **os.environ,
        "WAREHOUSE_HOME": str(tmp_path / "home"),
        "WAREHOUSE_SNAPSHOTS": str(snapshots),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([WAREHOUSE, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def test_help_lists_the_commands_with_examples():
    result = subprocess.run([WAREHOUSE, "--help"], capture_output=True, text=True, check=True)
    assert "refresh" in result.stdout and "ui" in result.stdout and "examples:" in result.stdout


@pytest.mark.slow
def test_refresh_of_one_source_on_an_empty_build_area_publishes_prints_a_summary_and_records_the_run(tmp_path):
    """One source's refresh on an empty build area loads the others too: the marts join them all."""
    env = environment(tmp_path)
    result = run(["refresh", "--source", "un_egov"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"marts\.egov_scores\s+2,316 rows", result.stdout)
    assert re.search(r"marts\.wdi_observations\s+44,998 rows", result.stdout)
    assert "Kazakhstan     0.8628  rank  28  Very High" in result.stdout
    published = tmp_path / "home" / "warehouse.duckdb"
    with duckdb.connect(str(published), read_only=True) as connection:
        run_id = connection.execute("select dagster_run_id from meta.publication").fetchone()[0]
    assert run_id in result.stdout
    # The run is in the persistent instance, where the UI's run history reads it.
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        recorded = instance.get_run_by_id(run_id)
    assert recorded.status == dg.DagsterRunStatus.SUCCESS and recorded.job_name == "refresh_un_egov"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.slow
def test_ui_serves_the_asset_graph_on_loopback_and_stops_everything_on_sigterm(tmp_path):
    port = free_port()
    process = subprocess.Popen([WAREHOUSE, "ui", "--port", str(port)], env=environment(tmp_path), cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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
        assert {"snapshots/un_egov", "raw/un_egov_surveys", "staging/stg_un_egov__surveys",
                "marts/egov_scores", "published_warehouse"} <= keys
        # A service manager stops `warehouse ui` by its pid alone: the webserver and daemon go too.
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
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


@pytest.mark.slow
def test_live_worldbank_refresh_saves_snapshots_and_replays_offline(built, tmp_path, snapshot_copy):
    from tests.fake_worldbank_api import FakeWorldBankApi

    shutil.copytree(built.home, tmp_path / "home", ignore=shutil.ignore_patterns("quality", "*.lock"))
    fake = FakeWorldBankApi(SNAPSHOTS / "worldbank")
    env = {**environment(tmp_path, snapshot_copy), "WORLDBANK_API_URL": fake.start()}
    try:
        live = run(["refresh", "--source", "worldbank", "--live"], env)
    finally:
        fake.stop()
    assert live.returncode == 0, live.stderr[-3000:]
    folder = snapshot_copy / "worldbank"
    provenance = json.loads((folder / "provenance.json").read_text())
    records = {entry["file"]: entry for entry in provenance["files"]}
    assert set(records) == {"country_live.json", *(f"API_{code}_live.json" for code in fake.rows)}
    record = records["API_IT.NET.USER.ZS_live.json"]
    assert record["obtained_from"].startswith(env["WORLDBANK_API_URL"] + "/country/all/indicator/IT.NET.USER.ZS?")
    assert record["vintage"] == "2026-07-13" and record["date_accessed"].startswith("20")
    assert record["sha256"] == sha256_of(folder / "API_IT.NET.USER.ZS_live.json")
    superseded = {path.name for path in (folder / "superseded").rglob("*.csv")}
    assert "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv" in superseded and len(superseded) == 6

    published = tmp_path / "home" / "warehouse.duckdb"
    query = "select iso3, indicator_code, year, value, vintage from marts.wdi_observations order by all"
    with duckdb.connect(str(published), read_only=True) as connection:
        after_live = connection.execute(query).fetchall()
        kaz = connection.execute("select internet_users_pct from marts.country_year_digital where iso3 = 'KAZ' and year = 2022").fetchall()
    assert kaz == [(92.2969,)]
    assert {row[4] for row in after_live} == {"2026-07-13"}

    # With the server gone, a full rebuild from the saved snapshots gives the same numbers.
    offline = run(["refresh", "--full"], env)
    assert offline.returncode == 0, offline.stderr[-3000:]
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute(query).fetchall() == after_live
