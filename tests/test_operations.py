"""Operating the warehouse: the commands, change detection, the jobs and schedules, and the sensors."""

import csv
import io
import json
import re
import threading
import time
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.operations.sensors import ALERT_WEBHOOK_ENV, build_failure_sensor
from orchestration.operations.status import report
from orchestration.settings import Settings
from orchestration.snapshots.records import sha256_of
from tests.bad_input_cases import CASES, damaged_copy
from tests.conftest import SNAPSHOTS, crlf_copy, environment, materialize, run

COMMANDS = ["refresh", "status", "query", "tables", "ui"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, tmp_path):
    result = run([command, "--help"], environment(tmp_path))
    assert result.returncode == 0 and "examples:" in result.stdout and f"warehouse {command}" in result.stdout


def test_query_in_every_format_and_from_a_file(home, tmp_path):
    env = environment(tmp_path)
    sql = "select iso3, country_name from marts.dim_country where is_central_asia order by iso3"
    table = run(["query", sql], env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["iso3", "country_name"] and "(5 rows)" in table.stdout
    as_csv = list(csv.reader(io.StringIO(run(["query", "--csv", sql], env).stdout)))
    assert as_csv[0] == ["iso3", "country_name"] and [row[0] for row in as_csv[1:]] == [
        "KAZ",
        "KGZ",
        "TJK",
        "TKM",
        "UZB",
    ]
    as_json = json.loads(
        run(
            [
                "query",
                "--json",
                "select egdi, egdi_rank from marts.egov_scores where iso3 = 'KAZ' and survey_year = 2022",
            ],
            env,
        ).stdout
    )
    assert as_json == [{"egdi": 0.8628, "egdi_rank": 28}]
    query_file = tmp_path / "q.sql"
    query_file.write_text("-- a saved query\nselect count(*) as n from marts.egov_scores;\n")
    assert "2316" in run(["query", "-f", str(query_file)], env).stdout


@pytest.mark.parametrize(
    "statement",
    [
        "insert into marts.dim_country (iso3) values ('XXX')",
        "drop table marts.egov_scores",
        "copy (select 1) to 'leak.csv'",
        "select 1; delete from marts.egov_scores",
    ],
)
def test_query_refuses_anything_but_reading(home, tmp_path, statement):
    before = sha256_of(home / "warehouse.duckdb")
    result = run(["query", statement], environment(tmp_path))
    assert result.returncode == 2 and "refused: the published warehouse is read-only" in result.stderr
    assert sha256_of(home / "warehouse.duckdb") == before and not (tmp_path / "leak.csv").exists()


def test_query_while_an_analyst_holds_the_file_and_a_bad_query_explains_itself(home, tmp_path):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True):
        assert run(["query", "select 1 as one"], environment(tmp_path)).returncode == 0
    failed = run(["query", "select * from marts.no_such_table"], environment(tmp_path))
    assert failed.returncode == 1 and "no_such_table" in failed.stderr


def test_tables_lists_descriptions_and_counts(home, tmp_path):
    result = run(["tables"], environment(tmp_path))
    assert result.returncode == 0
    assert "marts.egov_scores  (2,316 rows)" in result.stdout
    assert "The UN E-Government Survey, one row per (iso3, survey_year)" in result.stdout


def test_status_shows_every_source_an_overdue_one_and_a_failed_gate(home, tmp_path):
    """`warehouse status` (its report, in process): 46 days after the last load the World Bank is
    overdue (docs/operating.md's 45 days) while the UN survey is fresh, and a gate that failed says so, in
    the latest check and in the gate history."""
    instance = dg.DagsterInstance.ephemeral()
    bad = damaged_copy(CASES["index-value-1.7"], tmp_path)
    failed = materialize(
        Settings(home=home, snapshots_dir=bad.parent.parent),
        ["snapshots/un_egov", "raw/un_egov_surveys"],
        instance=instance,
    )
    assert not failed.success
    settings = Settings(home=home, snapshots_dir=SNAPSHOTS)
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        loaded = dict(connection.execute("select source, loaded_at from meta.inputs").fetchall())
    now = loaded["worldbank"].replace(tzinfo=UTC) + timedelta(days=46)
    text = "\n".join(report(settings, instance, now=now))
    by_source = dict(re.findall(r"^(un_egov|worldbank|datareportal) \(.*?\)\n((?:  .*\n?)+)", text, flags=re.M))
    assert set(by_source) == {"un_egov", "worldbank", "datareportal"}
    assert (
        "freshness   OVERDUE (expected" in by_source["worldbank"] and "overdue after 45 days" in by_source["worldbank"]
    )
    assert "freshness   fresh" in by_source["un_egov"]
    assert all("files, verified against their records" in block for block in by_source.values())
    assert re.search(
        r"gates       raw/un_egov_surveys: failed \(\d{4}-\d\d-\d\d \d\d:\d\d UTC, run " + failed.run_id[:8],
        by_source["un_egov"],
    )
    assert f"published   {settings.published_db}" in text
    # The gate history: the failure, newest first (an EGDI of 1.7 breaks its range and the mean of
    # its components), then the first refresh's pass of the same table.
    history = re.findall(r"^  history     .*$", by_source["un_egov"], flags=re.M)
    assert re.fullmatch(
        r"  history     \S+ \S+ UTC run " + failed.run_id[:8] + r" raw\.un_egov_surveys: FAILED 2 of \d+: "
        r"\[rows\] expect_column_values_to_be_between\(column=egdi.*egdi=1\.7.*",
        history[0],
    ), history
    assert re.fullmatch(r"  history     .* raw\.un_egov_surveys: passed \d+ expectations", history[1]), history


def test_every_refresh_job_spans_the_graph_and_asks_only_its_own_upstream(tmp_path):
    definitions = build_definitions(Settings(home=tmp_path, snapshots_dir=SNAPSHOTS))
    graph = definitions.resolve_asset_graph()
    everything = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    for source in ("un_egov", "worldbank", "datareportal"):
        job = definitions.resolve_job_def(f"refresh_{source}")
        assert set(job.asset_layer.selected_asset_keys) == everything
        asks = {op: config["config"] for op, config in job.run_config["ops"].items()}
        assert asks == {
            f"snapshots__{name}": {"inbox": name == source, "live": name == source}
            for name in ("un_egov", "worldbank", "datareportal")
        }
    for raw_table in ("raw/un_egov_surveys", "raw/wdi_observations", "raw/datareportal_figures"):
        assert graph.get(dg.AssetKey(raw_table.split("/"))).freshness_policy is not None
    schedules = {s.name: s for s in definitions.schedules}
    assert {name: s.job_name for name, s in schedules.items()} == {
        "un_egov_schedule": "refresh_un_egov",
        "worldbank_schedule": "refresh_worldbank",
        "datareportal_schedule": "refresh_datareportal",
    }
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    assert schedules["worldbank_schedule"].cron_schedule == "0 6 5 * *"


@pytest.mark.slow
def test_the_inbox_sensor_requests_each_sources_refresh_and_a_bad_file_is_rejected(home, snapshot_copy):
    """The sensor asks for one run per source with files waiting, taking only that source's inbox
    and asking no upstream. The run takes the files: a bad one is set aside with its reason, the
    snapshots untouched. (A good file's way to a published snapshot: tests/test_refresh_loop.py.)"""
    settings = Settings(home=home, snapshots_dir=snapshot_copy)
    un_inbox, wb_inbox = settings.inbox_dir / "un_egov", settings.inbox_dir / "worldbank"
    un_inbox.mkdir(parents=True)
    wb_inbox.mkdir(parents=True)
    (un_inbox / "EGOV_DATA_2022.csv").write_bytes(crlf_copy("EGOV_DATA_2022.csv"))
    truncated = (SNAPSHOTS / "worldbank" / "API_SP.POP.TOTL_DS2_en_csv_v2_85.csv").read_bytes()[:3000]
    (wb_inbox / "API_SP.POP.TOTL_DS2_en_csv_v2_85.csv").write_bytes(truncated)
    snapshots_before = {p.name: sha256_of(p) for p in (snapshot_copy / "worldbank").iterdir() if p.is_file()}

    definitions = build_definitions(settings)
    sensor = definitions.resolve_sensor_def("inbox")
    skipped = sensor(dg.build_sensor_context())
    assert isinstance(skipped, dg.SkipReason) and "still changing waits until it settles" in skipped.skip_message
    time.sleep(0.6)  # the files have now gone WAREHOUSE_INBOX_SETTLE_S without a change
    requests = {r.job_name: r for r in sensor(dg.build_sensor_context())}
    assert sorted(requests) == ["refresh_un_egov", "refresh_worldbank"]
    for job, request in requests.items():
        source = job.removeprefix("refresh_")
        assert request.run_config == {
            "ops": {
                f"snapshots__{name}": {"config": {"inbox": name == source, "live": False}}
                for name in ("un_egov", "worldbank", "datareportal")
            }
        }, job
    assert list(sensor(dg.build_sensor_context())) != []  # files stay until a run takes them; run keys dedupe the ticks

    request = requests["refresh_worldbank"]
    result = definitions.resolve_job_def(request.job_name).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, run_config=request.run_config
    )
    assert not result.success and not list(wb_inbox.iterdir())
    assert {p.name: sha256_of(p) for p in (snapshot_copy / "worldbank").iterdir() if p.is_file()} == snapshots_before
    [rejected] = (settings.build_dir / "rejected" / "worldbank").iterdir()
    assert (rejected / "API_SP.POP.TOTL_DS2_en_csv_v2_85.csv").read_bytes() == truncated
    assert "the file ends mid-row (truncated)" in (rejected / "reason.txt").read_text()
    assert [r.job_name for r in sensor(dg.build_sensor_context())] == [
        "refresh_un_egov"
    ]  # only the UN file still waits


class _Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        _Webhook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_run_writes_an_alert_and_posts_it(tmp_path, snapshot_copy, monkeypatch):
    (snapshot_copy / "un_egov" / "EGOV_DATA_2010.csv").write_text("tampered\n")
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    instance = dg.DagsterInstance.ephemeral()
    definitions = build_definitions(settings)
    result = definitions.resolve_job_def("refresh_un_egov").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_run_failure)

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{server.server_address[1]}/alert")
    try:
        sensor = build_failure_sensor(settings)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failure",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=failure,
        ).for_run_failure()
        sensor(context)
    finally:
        server.shutdown()
        server.server_close()

    line = (settings.logs_dir / "alerts.log").read_text().strip()
    assert f"REFRESH FAILED job=refresh_un_egov run={result.run_id}: " in line
    assert "EGOV_DATA_2010.csv: sha256" in line
    assert _Webhook.received[-1]["run_id"] == result.run_id and _Webhook.received[-1]["text"] == line
    assert any(line in (entry.message or "") for entry in instance.all_logs(result.run_id))
