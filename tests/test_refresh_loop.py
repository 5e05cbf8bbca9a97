"""The refresh loop, whatever starts it: staging and promotion of what comes in, integrity from
the bytes, the same decision from every door, schedules that ask their upstream, queued runs, and
every door working from a fresh clone. Live upstreams are stand-ins on 127.0.0.1."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.operations import jobs
from orchestration.operations.jobs import snapshot_config
from orchestration.operations.status import report
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.snapshots.records import SourceProvenance, sha256_of
from orchestration.sources import un_egov, worldbank
from orchestration.sources.registry import SOURCES
from tests.conftest import SNAPSHOTS, WAREHOUSE, copy_home, crlf_copy, environment, logged_decisions, materialize, run
from tests.fake_worldbank_api import FakeWorldBankApi
from tests.loopback import serve, serve_with, still_holding, until_closed

# Every test here runs refreshes of its own: `make test`, not `make check`.
pytestmark = pytest.mark.slow

DAGSTER = str(Path(sys.executable).with_name("dagster"))
# No virtual environment on PATH: every door must find its own dbt.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): sha256_of(path) for path in sorted(folder.rglob("*")) if path.is_file()}


def decisions(lines: list[str]) -> list[str]:
    """The run's `[refresh]` decisions, without what differs between two homes (ids, hashes, paths)."""
    text = "\n".join(lines)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<run>", text)
    text = re.sub(r"\b[0-9a-f]{12}\b", "<hash>", text)
    text = re.sub(r"\b\d{8}-\d{6}-[0-9a-z]{1,8}\b", "<publication>", text)
    text = re.sub(r"(?m)^dbt's log: .*/logs/dbt/", "dbt's log: <home>/logs/dbt/", text)
    return sorted(text.splitlines())


def run_decisions(dagster_home: Path, run_id: str | None = None) -> list[str]:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run_id = run_id or instance.get_runs(limit=1)[0].run_id
        return logged_decisions(instance, run_id)


# An edited snapshot stops every refresh, and status names it.
def test_an_edited_snapshot_stops_every_refresh_and_status_names_it(home, tmp_path, snapshot_copy):
    """Whatever the flags (here, another source's refresh), and the published file stays as it was."""
    edited = snapshot_copy / "un_egov" / "EGOV_DATA_2020.csv"
    edited.write_bytes(edited.read_bytes().replace(b"0.8", b"0.9", 1))
    published = home / "warehouse.duckdb"
    before = sha256_of(published)
    result = run(["refresh", "--source", "worldbank"], environment(tmp_path, snapshot_copy))
    assert result.returncode == 1
    assert "EGOV_DATA_2020.csv: sha256" in result.stderr and "does not match the provenance record" in result.stderr
    assert "refresh FAILED (run " in result.stderr and f"{published} was left as it was" in result.stderr
    assert sha256_of(published) == before
    status = "\n".join(report(Settings(home=home, snapshots_dir=snapshot_copy), dg.DagsterInstance.ephemeral()))
    assert "INTEGRITY FAILED" in status and "EGOV_DATA_2020.csv" in status


# A live fetch that the gates reject is kept aside; the good snapshots stay.
def test_a_rejected_live_fetch_is_kept_aside_and_the_snapshots_stay_byte_identical(home, tmp_path, snapshot_copy):
    fake = FakeWorldBankApi(SNAPSHOTS / "worldbank")
    kaz_2020 = next(r for r in fake.rows["IT.NET.USER.ZS"] if r["country"]["id"] == "KAZ" and r["date"] == "2020")
    kaz_2020["value"] = 150.0  # internet users: 150 % of the population
    env = {**environment(tmp_path, snapshot_copy), "WORLDBANK_API_URL": fake.start()}
    snapshots_before = tree_digest(snapshot_copy)
    published_before = sha256_of(home / "warehouse.duckdb")
    try:
        live = run(["refresh", "--source", "worldbank", "--live"], env)
    finally:
        fake.stop()
    assert live.returncode == 1 and "GATE    raw/wdi_observations" in live.stderr
    assert tree_digest(snapshot_copy) == snapshots_before
    assert sha256_of(home / "warehouse.duckdb") == published_before
    [rejected] = (home / "build" / "rejected" / "worldbank").iterdir()
    assert (rejected / "API_IT.NET.USER.ZS_live.json").is_file() and (rejected / "staged.json").is_file()
    reason = (rejected / "reason.txt").read_text()
    assert "IT.NET.USER.ZS" in reason and "KAZ" in reason and "gate raw/wdi_observations" in reason

    # The next plain refresh works: it reloads the good snapshots and finds the published file current.
    again, logged = refresh_in_process(Settings(home=home, snapshots_dir=snapshot_copy))
    assert again.success
    assert any(line.startswith("worldbank: loading (snapshots changed") for line in logged)
    assert any(line.startswith("nothing changed since the publication") for line in logged)
    assert sha256_of(home / "warehouse.duckdb") == published_before


# Every door decides alike (the CLI, `dagster job execute`, a schedule's tick); each finds dbt.
def test_dagster_job_execute_and_the_cli_make_the_same_decision(built, tmp_path):
    doors = {}
    for door in ("dagster", "cli"):
        home, snapshots = tmp_path / door / "home", tmp_path / door / "snapshots"
        copy_home(built, home)
        shutil.copytree(SNAPSHOTS, snapshots)
        env = {**environment(tmp_path / door, snapshots), "WAREHOUSE_HOME": str(home)}
        doors[door] = (home, snapshots, env)

    def refresh_both() -> dict[str, list[str]]:
        """Both doors at once (two homes, two instances): the same decisions, in half the wall time.
        The CLI's PATH and the dagster door's working directory hold no virtual environment."""
        (_, _, cli_env), (_, _, dagster_env) = doors["cli"], doors["dagster"]
        Path(dagster_env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        started = {
            "cli": subprocess.Popen(
                [WAREHOUSE, "refresh", "--source", "un_egov", "--live"],
                env={**cli_env, "PATH": BARE_PATH},
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            # Not from the project root, whose .env would point DAGSTER_HOME at the project's own instance.
            "dagster": subprocess.Popen(
                [DAGSTER, "job", "execute", "-m", "orchestration.definitions", "-j", "refresh_un_egov"],
                env={**dagster_env, "PATH": BARE_PATH},
                cwd=dagster_env["DAGSTER_HOME"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        }
        outputs = {door: process.communicate(timeout=600) for door, process in started.items()}
        for door, process in started.items():
            assert process.returncode == 0, (door, "".join(outputs[door])[-3000:])
        cli_lines = [
            line.strip()
            for line in outputs["cli"][0].splitlines()
            if line.startswith("  ")
            and not line.startswith(
                ("  ok ", "  skipped ", "  marts.", "  paper.", "  meta.", "  Ka", "  Uz", "  Ky", "  Ta", "  Tu")
            )
        ]
        return {"cli": decisions(cli_lines), "dagster": decisions(run_decisions(Path(dagster_env["DAGSTER_HOME"])))}

    # Nothing changed (one door, in process): nothing loaded, nothing built, published and report skipped.
    home, snapshots, _ = doors["cli"]
    published = sha256_of(home / "warehouse.duckdb")
    unchanged, logged = refresh_in_process(Settings(home=home, snapshots_dir=snapshots), "refresh_un_egov")
    assert unchanged.success and sha256_of(home / "warehouse.duckdb") == published
    assert any(line.startswith("nothing changed since the publication of run ") for line in logged)
    assert sum(line.endswith(", nothing loaded") for line in logged) == 5  # three sources, two reference tables
    assert {"published_warehouse", "report"} <= {e.step_key for e in unchanged.all_events if e.is_step_skipped}
    # The command decides the same before it starts a run: the run's lines, and no run at all.
    _, _, cli_env = doors["cli"]
    shortcut = run(["refresh", "--source", "un_egov"], cli_env)
    assert shortcut.returncode == 0 and "no run needed" in shortcut.stdout, shortcut.stderr[-2000:]
    assert sorted(line.strip() for line in shortcut.stdout.splitlines() if line.startswith("  ")) == sorted(logged)
    # A schedule's tick decides the same after asking its upstream (unset here), and starts no run.
    # (The UI's launch: tests/test_cli.py.)
    tick, skipped = schedule_tick(Settings(home=home, snapshots_dir=snapshots), "un_egov_schedule")
    assert tick is None and skipped[:2] == [
        "un_egov: nothing new upstream",
        "un_egov: UN_EGOV_URL_TEMPLATE is not set; only the inbox is looked at",
    ]
    assert sorted(skipped[2:]) == sorted(logged)

    for home, _, _ in doors.values():
        (home / "inbox" / "un_egov").mkdir(parents=True)
        (home / "inbox" / "un_egov" / "EGOV_DATA_2022.csv").write_bytes(crlf_copy("EGOV_DATA_2022.csv"))
    changed = refresh_both()
    assert changed["dagster"] == changed["cli"]
    for _, _, env in doors.values():
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            [recorded] = instance.get_runs()  # for the CLI's instance: the no-change refresh above started none
        assert recorded.status == dg.DagsterRunStatus.SUCCESS and recorded.job_name == "refresh_un_egov"
    assert "un_egov: took EGOV_DATA_2022.csv from the inbox" in changed["cli"]
    assert any(line.startswith("un_egov: loading (snapshots changed") for line in changed["cli"])
    assert (
        "worldbank: unchanged (<hash>), nothing loaded" in changed["cli"]
        and "datareportal: unchanged (<hash>), nothing loaded" in changed["cli"]
    )
    assert "snapshot_files, un_egov changed since the last publication: building every model" in changed["cli"]
    for home, snapshots, _ in doors.values():
        assert (snapshots / "un_egov" / "EGOV_DATA_2022.csv").read_bytes() == crlf_copy("EGOV_DATA_2022.csv")
        assert list((snapshots / "un_egov" / "superseded").rglob("EGOV_DATA_2022.csv"))
        assert not (home / "build" / "staging" / "un_egov").exists()
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            cited = connection.execute(
                "select sha256, obtained_from from marts.source_snapshots where file_name = 'EGOV_DATA_2022.csv'"
            ).fetchall()
            assert connection.execute("select count(*) from marts.egov_scores where survey_year = 2022").fetchall() == [
                (193,)
            ]
        assert cited == [
            (
                sha256_of(snapshots / "un_egov" / "EGOV_DATA_2022.csv"),
                f"inbox: dropped by hand into {home / 'inbox' / 'un_egov'}",
            )
        ]


# The UN schedule's tick asks UN_EGOV_URL_TEMPLATE for the next survey; a 404 starts no run.
def test_the_un_schedule_finds_a_new_survey_at_the_configured_url(home, snapshot_copy):
    settings = Settings(home=home, snapshots_dir=snapshot_copy)
    # A stand-in for the 2026 survey: the 2024 file with its year column moved on (test data only).
    new_survey = (SNAPSHOTS / "un_egov" / "EGOV_DATA_2024.csv").read_bytes().replace(b"\n2024,", b"\n2026,")
    requests: list[str] = []
    with serve({}, requests) as base:
        template = base + "/surveys/EGOV_DATA_{year}.csv"
        first, skipped = schedule_tick(
            replace(settings, sources={"un_egov": un_egov.Options(url_template=template)}), "un_egov_schedule"
        )
    assert first is None and requests == ["/surveys/EGOV_DATA_2026.csv"]
    assert skipped[0] == "un_egov: nothing new upstream" and skipped[1].startswith("un_egov: no 2026 survey at ")
    assert "nothing changed since the publication of run " in skipped[-1]

    # The tick's run, up to the survey's gate: the new year is fetched, staged with its origin, parsed,
    # loaded and validated. (Publishing then promotes it, as every source's staged files are, in
    # the World Bank schedule's test below and the DataReportal --live test.)
    with serve({"/surveys/EGOV_DATA_2026.csv": new_survey}, requests) as base:
        template = base + "/surveys/EGOV_DATA_{year}.csv"
        second, logged = schedule_tick(
            replace(settings, sources={"un_egov": un_egov.Options(url_template=template)}),
            "un_egov_schedule",
            selection=["snapshots/un_egov", "raw/un_egov_surveys"],
        )
    assert second.success, [e.message for e in second.all_events if e.is_failure]
    assert requests[1:] == ["/surveys/EGOV_DATA_2026.csv"] * 2  # the tick's check, then the run's
    staged = home / "build" / "staging" / "un_egov"
    assert (staged / "EGOV_DATA_2026.csv").read_bytes() == new_survey
    assert base + "/surveys/EGOV_DATA_2026.csv" in (staged / "staged.json").read_text()
    assert any(line.startswith("un_egov: loading (snapshots changed") for line in logged)
    assert not (snapshot_copy / "un_egov" / "EGOV_DATA_2026.csv").exists(), "a snapshot only once published"
    with duckdb.connect(str(home / "build" / "build.duckdb"), read_only=True) as connection:
        assert connection.execute(
            "select count(*), count(distinct iso3) from raw.un_egov_surveys where survey_year = 2026 and surveyed"
        ).fetchall() == [(193, 193)]
    checks = [
        e.asset_check_evaluation_data for e in second.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert [(c.asset_key.to_user_string(), c.passed) for c in checks] == [("raw/un_egov_surveys", True)]


# A tick whose upstream check outlasts its time stops the check itself: a run takes it over, and no
# thread or connection of the check is left behind in the long-lived daemon.
def test_a_tick_check_past_its_time_is_stopped_and_a_run_takes_it_over(home, snapshot_copy, monkeypatch):
    monkeypatch.setattr(jobs, "TICK_CHECK_SECONDS", 1)
    monkeypatch.setenv("WAREHOUSE_FETCH_DEADLINE_S", "30")  # not the request's own deadline: the tick's
    closed: list[float] = []
    with serve_with(lambda handler: until_closed(handler, closed)) as base:
        template = base + "/surveys/EGOV_DATA_{year}.csv"
        settings = Settings(
            home=home, snapshots_dir=snapshot_copy, sources={"un_egov": un_egov.Options(url_template=template)}
        )
        logged: list[str] = []
        before = set(threading.enumerate())
        started = time.monotonic()
        decision = jobs.tick_decision(settings, SOURCES["un_egov"], logged.append)
        assert time.monotonic() - started < 2.5
        assert isinstance(decision, dg.RunRequest) and not decision.run_config
        assert logged == ["un_egov: the upstream check took over 1 s; a run takes it over"]
        assert not (held := still_holding(base, closed, before)), held


# The World Bank schedule asks each indicator's `lastupdated`; an unchanged release costs a few
# small requests and starts no run.
def test_the_worldbank_schedule_fetches_a_new_release_and_nothing_when_unchanged_and_replays_offline(
    home, snapshot_copy
):
    fake = FakeWorldBankApi(SNAPSHOTS / "worldbank")
    settings = Settings(
        home=home, snapshots_dir=snapshot_copy, sources={"worldbank": worldbank.Options(api_url=fake.start())}
    )
    try:
        fetched, _ = schedule_tick(settings, "worldbank_schedule")
        assert fetched.success and published_in(fetched)
        fake.requests.clear()
        unchanged, skipped = schedule_tick(settings, "worldbank_schedule")
    finally:
        fake.stop()
    assert unchanged is None
    assert len(fake.requests) == 5 and all("per_page=1&" in path for path in fake.requests)
    assert "worldbank: IT.NET.USER.ZS unchanged (release 2026-07-13)" in skipped

    folder = snapshot_copy / "worldbank"
    records = {entry.file: entry for entry in SourceProvenance.load(folder).files}
    assert set(records) == {"country_live.json", *(f"API_{code}_live.json" for code in fake.rows)}
    record = records["API_IT.NET.USER.ZS_live.json"]
    assert record.obtained_from.startswith(
        worldbank.options(settings).api_url + "/country/all/indicator/IT.NET.USER.ZS?"
    )
    assert record.vintage == "2026-07-13" and record.sha256 == sha256_of(folder / "API_IT.NET.USER.ZS_live.json")
    superseded = {path.name for path in (folder / "superseded").rglob("*.csv")}
    assert "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv" in superseded and len(superseded) == 6

    query = "select iso3, indicator_code, year, value, vintage from marts.wdi_observations join marts.wdi_indicators using (indicator_code) order by all"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        after_live = connection.execute(query).fetchall()
        kaz = connection.execute(
            "select internet_users_pct from marts.country_year_digital where iso3 = 'KAZ' and year = 2022"
        ).fetchall()
    assert kaz == [(92.2969,)] and {row[4] for row in after_live} == {"2026-07-13"}
    # With the server gone, the saved snapshots load again, in an empty home, to the very rows published.
    replay = Settings(home=home.parent / "replay", snapshots_dir=snapshot_copy)
    assert materialize(
        replay, ["snapshots/worldbank", "raw/wdi_observations", "raw/wdi_countries", "raw/wdi_indicators"]
    ).success
    with duckdb.connect(str(replay.build_db), read_only=True) as connection:
        replayed = connection.execute(
            "select o.country_code, o.indicator_code, o.year, o.value, i.vintage from raw.wdi_observations as o "
            "join raw.wdi_indicators as i using (indicator_code) join raw.wdi_countries as c using (country_code) "
            "where not c.is_aggregate order by all"
        ).fetchall()
    assert replayed == after_live


def schedule_tick(
    settings: Settings, name: str, selection: list[str] | None = None
) -> tuple[dg.ExecuteInProcessResult | None, list[str]]:
    """What the daemon does at a tick: evaluate the schedule, then run what it asked for (or the
    assets of it in ``selection``), with the run's `[refresh]` lines; a skipped tick: no run, and
    the lines of its reason."""
    definitions = build_definitions(settings)
    schedule = definitions.resolve_schedule_def(name)
    tick = schedule.evaluate_tick(dg.build_schedule_context())
    if tick.skip_message:
        return None, tick.skip_message.splitlines()
    [request] = tick.run_requests
    job = definitions.resolve_job_def(request.job_name or schedule.job_name)
    return refresh_in_process(settings, job.name, request.run_config or job.run_config, request.tags, selection)


def refresh_in_process(
    settings: Settings,
    job: str = "refresh_warehouse",
    run_config: dict | None = None,
    tags: dict | None = None,
    selection: list[str] | None = None,
) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """A refresh job run in this process (offline unless ``run_config`` says otherwise), with its `[refresh]` decisions."""
    instance = dg.DagsterInstance.ephemeral()
    keys = [dg.AssetKey(key.split("/")) for key in selection] if selection else None
    config = run_config or snapshot_config(inbox=set(SOURCES), live=set())
    if keys:  # only the selected snapshot ops take config
        config = {
            "ops": {
                op: value
                for op, value in config["ops"].items()
                if op.removeprefix("snapshots__") in {k.path[-1] for k in keys}
            }
        }
    result = (
        build_definitions(settings)
        .resolve_job_def(job)
        .execute_in_process(instance=instance, raise_on_error=False, run_config=config, tags=tags, asset_selection=keys)
    )
    logged = logged_decisions(instance, result.run_id)
    return result, logged


def published_in(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.is_step_success and e.step_key == "published_warehouse" for e in result.all_events)


# `dagster definitions validate` loads the code location on a fresh clone, as the CLI does.
def test_the_code_location_loads_on_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    for part in ("orchestration", "expectations", "config", "warehouse/snapshots"):
        shutil.copytree(PROJECT_ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        PROJECT_ROOT / "dbt_project", clone / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    env = {
        **os.environ,
        "PATH": BARE_PATH,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "WAREHOUSE_HOME": str(tmp_path / "home"),
    }
    (tmp_path / "dagster_home").mkdir()
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "orchestration.definitions"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (clone / "dbt_project" / "target" / "manifest.json").is_file()


# `warehouse refresh --source un_egov` on an empty build area: tests/test_cli.py, the first refresh test.


def test_the_run_queue_holds_refreshes_to_one_at_a_time(tmp_path):
    assert run(["status"], environment(tmp_path)).returncode == 0  # writes the instance's dagster.yaml
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "warehouse/refresh", "limit": 1} in [dict(limit) for limit in limits]
