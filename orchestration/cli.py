"""The `warehouse` command: refresh the warehouse through Dagster, and open the UI.

Every refresh runs as a Dagster run against the persistent instance in this project's
``.dagster_home``, so it shows in the UI's run history next to runs launched from there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, dagster_home, prepare_process_environment

_INSTANCE_YAML = """\
# The Dagster instance of this checkout (runs, event logs, schedules), kept out of git.
telemetry:
  enabled: false
"""

_EPILOG = """\
examples:
  warehouse refresh                                 rebuild every source from the embedded snapshots, publish
  warehouse refresh --source worldbank              rebuild one source and what depends on it
  warehouse refresh --source worldbank --live       fetch the World Bank API first, save it as snapshots
  warehouse ui                                      open the Dagster UI on http://127.0.0.1:3000
"""
# Sources, as named by their asset groups, and those that can be fetched from a live upstream.
SOURCES = ("un_egov", "worldbank", "datareportal")
LIVE_SOURCES = {"worldbank": "snapshots__worldbank", "datareportal": "snapshots__datareportal"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="warehouse",
        description="The digital-development data warehouse.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    refresh = commands.add_parser(
        "refresh",
        help="load the snapshots, build and test the models, publish warehouse/warehouse.duckdb",
        description="Run the refresh job in Dagster; publish only if every step and check passed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    refresh.add_argument("--source", action="append", choices=SOURCES, help="refresh only this source (repeatable)")
    refresh.add_argument("--live", action="store_true", help=f"fetch from the live upstream first ({', '.join(LIVE_SOURCES)})")
    refresh.set_defaults(handler=_refresh)
    ui = commands.add_parser("ui", help="start the Dagster UI and daemon on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui)
    args = parser.parse_args(argv)
    _prepare_environment()
    return args.handler(args)


def _prepare_environment() -> None:
    prepare_process_environment()
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(_INSTANCE_YAML)


def _refresh(args: argparse.Namespace) -> int:
    import dagster as dg

    from orchestration.dbt_project import prepare

    settings = Settings.from_env()
    prepare(settings)
    from orchestration.definitions import REFRESH_JOB, defs

    sources = args.source or list(SOURCES)
    live = [op for source, op in LIVE_SOURCES.items() if args.live and source in sources]
    if args.live and not live:
        print(f"--live needs a source with a live upstream: {', '.join(LIVE_SOURCES)}", file=sys.stderr)
        return 2
    job = defs.resolve_job_def(REFRESH_JOB)
    selection = dg.AssetSelection.groups(*sources).downstream() if args.source else dg.AssetSelection.all()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            asset_selection=list(selection.resolve(defs.resolve_asset_graph())),
            run_config={
                "ops": {op: {"config": {"live": True}} for op in live},
                # Step failures are summarised below; the console logger would repeat them as tracebacks.
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
        )
    _print_steps(result)
    if not result.success and not any(event.is_step_failure for event in result.all_events):
        _print_run_failure(result)
    if not result.success:
        print(f"\nrefresh FAILED (run {result.run_id}); {settings.published_db} was left as it was.", file=sys.stderr)
        return 1
    _print_summary(settings.published_db)
    print(f"\nrun {result.run_id} succeeded; published {settings.published_db}")
    return 0


def _print_steps(result) -> None:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
            check = event.asset_check_evaluation_data
            print(f"  GATE    {check.asset_key.to_user_string()} {check.check_name}: {check.description}", file=sys.stderr)
        elif event.is_step_success:
            print(f"  ok      {event.step_key}")
        elif event.is_step_failure:
            error = event.event_specific_data.error
            message = (error.cause.message if error.cause else error.message).strip()
            print(f"  FAILED  {event.step_key}: {message}", file=sys.stderr)
        elif event.is_step_skipped:
            print(f"  skipped {event.step_key}")


def _print_run_failure(result) -> None:
    """A run can fail before any step, e.g. when another refresh holds the build area."""
    for event in result.all_events:
        if event.is_run_failure:
            error = event.event_specific_data.error if event.event_specific_data else None
            while error is not None and error.cause is not None:
                error = error.cause
            print(f"  FAILED  {error.message.strip() if error else event.message}", file=sys.stderr)


def _print_summary(published_db: Path) -> None:
    import duckdb

    with duckdb.connect(str(published_db), read_only=True) as connection:
        tables = connection.execute(
            "select schema_name || '.' || table_name, estimated_size from duckdb_tables() "
            "where schema_name = 'marts' order by 1"
        ).fetchall()
        print("\npublished tables:")
        for name, _ in tables:
            rows = connection.execute(f"select count(*) from {name}").fetchone()[0]
            print(f"  {name:<32} {rows:>8,} rows")
        headline = connection.execute(
            """
            select c.country_name, s.egdi, s.egdi_rank, s.egdi_group
            from marts.egov_scores as s join marts.dim_country as c using (iso3)
            where c.is_central_asia and s.survey_year = 2022
            order by s.egdi desc
            """
        ).fetchall()
    print("\nEGDI 2022, Central Asia:")
    for name, egdi, rank, group in headline:
        print(f"  {name:<14} {egdi:.4f}  rank {rank:>3}  {group}")


def _ui(args: argparse.Namespace) -> int:
    os.environ.update(Settings.from_env().dbt_env())
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "--module-name",
        "orchestration.definitions",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C to stop); dbt project {DBT_PROJECT_DIR}")
    return subprocess.call(command, cwd=PROJECT_ROOT)


if __name__ == "__main__":
    sys.exit(main())
