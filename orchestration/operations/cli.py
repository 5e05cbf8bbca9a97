"""The `warehouse` command, for data engineers and analysts.

Every refresh runs as a Dagster run against the persistent instance in this project's
``.dagster_home``, so it shows in the UI's run history next to runs launched from there.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
import uuid
from pathlib import Path

from orchestration.operations.runs import innermost_message
from orchestration.run_context import LOG_PREFIX
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, dagster_home, prepare_process_environment
from orchestration.sources.registry import SOURCES

# The instance settings of this checkout (telemetry off, refreshes queued one at a time), committed;
# copied into any new DAGSTER_HOME the command is given.
_INSTANCE_YAML = PROJECT_ROOT / ".dagster_home" / "dagster.yaml"

_COMMANDS = {
    "refresh": (
        "load what changed, check it, build and test the models, publish",
        """\
examples:
  warehouse refresh                                 take the inboxes, load what changed, publish
  warehouse refresh --full                          rebuild everything, changed or not
  warehouse refresh --source worldbank              take only the World Bank inbox
  warehouse refresh --source worldbank --live       also ask the World Bank API for new releases
  warehouse refresh --live                          ask every live upstream, as the schedules do
""",
    ),
    "status": (
        "per source: snapshots, last load, freshness, gates; and the published file",
        """\
examples:
  warehouse status
""",
    ),
    "query": (
        "run read-only SQL against the published warehouse",
        """\
examples:
  warehouse query "select * from marts.dim_country where is_central_asia"
  warehouse query --csv "select iso3, survey_year, egdi from marts.egov_scores" > egdi.csv
  warehouse query --json -f my_query.sql
  warehouse query --publication 20261202-101503-3f0acae4 "select * from meta.publication"
""",
    ),
    "publications": (
        "the publications kept: list, pin past retention, export as a data package, diff two",
        """\
examples:
  warehouse publications list                       newest first: time, run, inputs, pins, what changed
  warehouse publications pin 20261202-101503-3f0acae4 --reason "cited in our 2027 paper"
  warehouse publications unpin 20261202-101503-3f0acae4
  warehouse publications export 20261202-101503-3f0acae4 ~/deposit          Parquet + datapackage.json
  warehouse publications export 20261202-101503-3f0acae4 ~/deposit --format csv
  warehouse publications diff 20261202-101503-3f0acae4 20261207-193517-3765081a
  warehouse publications diff OLD NEW --table marts.egov_scores --format json
""",
    ),
    "tables": (
        "list the published tables with row counts and descriptions",
        """\
examples:
  warehouse tables
""",
    ),
    "serve": (
        "serve the published warehouse to analysts: a read-only SQL API and web console",
        """\
examples:
  warehouse serve                                   http://127.0.0.1:8765, this machine only
  WAREHOUSE_SERVE_TOKEN=$(openssl rand -hex 24) warehouse serve --host 0.0.0.0
                                                    the team's: every request shows the token
""",
    ),
    "ui": (
        "start the Dagster UI and daemon on 127.0.0.1",
        """\
examples:
  warehouse ui                 http://127.0.0.1:3000
  warehouse ui --port 3100
""",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="warehouse",
        description="The digital-development data warehouse: e-government and connectivity indicators, focused on Central Asia.",
        epilog="".join(f"\n{name}:\n{examples}" for name, (_, examples) in _COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = {
        name: commands.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for name, (summary, examples) in _COMMANDS.items()
    }
    sub["refresh"].add_argument(
        "--source", action="append", choices=list(SOURCES), help="take in only this source (repeatable)"
    )
    sub["refresh"].add_argument(
        "--live", action="store_true", help="ask the live upstream of each source taken in for what is new"
    )
    sub["refresh"].add_argument("--full", action="store_true", help="rebuild even what has not changed")
    sub["refresh"].set_defaults(handler=_refresh)
    sub["status"].set_defaults(handler=_status)
    sub["query"].add_argument("sql", nargs="?", help="the SQL to run")
    sub["query"].add_argument("-f", "--file", type=Path, help="read the SQL from this file")
    sub["query"].add_argument(
        "--publication", metavar="ID", help="query this kept publication instead of the current one"
    )
    formats = sub["query"].add_mutually_exclusive_group()
    formats.add_argument("--csv", dest="output", action="store_const", const="csv", help="CSV with a header row")
    formats.add_argument("--json", dest="output", action="store_const", const="json", help="a JSON array of objects")
    sub["query"].set_defaults(handler=_query, output="table")
    _publication_commands(sub["publications"])
    sub["tables"].set_defaults(handler=_tables)
    sub["serve"].add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs a token)"
    )
    sub["serve"].add_argument("--port", type=int, default=8765)
    sub["serve"].add_argument(
        "--token",
        help="the secret every request must show (better: WAREHOUSE_SERVE_TOKEN, "
        "which other users of this machine cannot read from the process list)",
    )
    sub["serve"].set_defaults(handler=_serve)
    sub["ui"].add_argument("--port", type=int, default=3000)
    sub["ui"].set_defaults(handler=_ui)
    args = parser.parse_args(argv)
    _prepare_environment()
    return args.handler(args)


def _publication_commands(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the kept publications, newest first").set_defaults(handler=_publications_list)
    pin = actions.add_parser("pin", help="keep a publication whatever WAREHOUSE_KEEP_PUBLICATIONS says")
    pin.add_argument("id")
    pin.add_argument("--reason", required=True, help="why it is pinned (recorded, and shown by list)")
    pin.set_defaults(handler=_publications_pin)
    unpin = actions.add_parser("unpin", help="give a pinned publication back to retention")
    unpin.add_argument("id")
    unpin.set_defaults(handler=_publications_unpin)
    export = actions.add_parser("export", help="write a publication as a Frictionless Data Package")
    export.add_argument("id")
    export.add_argument("folder", type=Path, help="a new or empty folder, outside the warehouse")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="the tables' files (parquet)")
    export.set_defaults(handler=_publications_export)
    diff = actions.add_parser("diff", help="what changed between two publications, table by table")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--table", help="only this table (schema.table)")
    diff.add_argument("--format", choices=["text", "json"], default="text")
    diff.set_defaults(handler=_publications_diff)


def _prepare_environment() -> None:
    prepare_process_environment()
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():  # an instance configured by hand (storage, run launcher) is left as it is
        shutil.copyfile(_INSTANCE_YAML, instance_yaml)


def _refresh(args: argparse.Namespace) -> int:
    """Launch the refresh job as a Dagster run; what it rebuilds is decided inside the run, as
    for a schedule or the UI (changes.py)."""
    settings = Settings.from_env()
    requested = set(args.source or SOURCES)
    if not args.full and not args.live and _nothing_to_do(settings, requested):
        return 0
    import dagster as dg

    from orchestration.operations.jobs import REFRESH_JOB, snapshot_config, source_job_name
    from orchestration.run_context import FULL_TAG
    from orchestration.transform.dbt_project import prepare

    prepare(settings)
    from orchestration.definitions import defs

    job = defs.resolve_job_def(source_job_name(*requested) if len(requested) == 1 else REFRESH_JOB)
    run_config = {
        **snapshot_config(inbox=requested, live=requested if args.live else set()),
        # Progress is printed step by step below; the console logger would repeat it all.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    _say_if_waiting(settings)
    run_id = str(uuid.uuid4())
    print(f"run {run_id} ({job.name}):")
    with dg.DagsterInstance.get() as instance:
        progress = _Progress(instance, run_id)
        progress.start()
        try:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                run_config=run_config,
                tags={FULL_TAG: "true"} if args.full else {},
            )
        finally:
            progress.finish()
    if not result.success and not any(event.is_step_failure for event in result.all_events):
        _print_run_failure(result)
    if not result.success:
        print(f"\nrefresh FAILED (run {result.run_id}); {settings.published_db} was left as it was.", file=sys.stderr)
        return 1
    if not any(event.is_step_success and event.step_key == "published_warehouse" for event in result.all_events):
        print(
            f"\nnothing changed: {settings.published_db} is current; nothing was rebuilt (use --full to rebuild anyway)"
        )
        return 0
    gates = sum(
        1
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.asset_check_evaluation_data.passed
    )
    _print_summary(settings)
    print(f"\n{gates} gates passed. run {result.run_id} succeeded; published {settings.published_db}")
    print(f"report: {settings.report_dir / 'index.html'} (dbt docs: {settings.report_dir / 'docs.html'})")
    return 0


def _nothing_to_do(settings: Settings, requested: set[str]) -> bool:
    """No change, no run: what the run would decide, decided before Dagster is even imported (changes.py)."""
    from orchestration.transform.changes import without_a_run

    lines = without_a_run(settings, sorted(requested))
    if lines is None:
        return False
    print("no run needed (what the refresh would decide, decided before starting one):")
    for line in lines:
        print(f"  {line}")
    print(f"\nnothing changed: {settings.published_db} is current; nothing was rebuilt (use --full to rebuild anyway)")
    return True


def _say_if_waiting(settings: Settings) -> None:
    from filelock import FileLock, Timeout

    lock = FileLock(settings.build_lock)
    try:
        lock.acquire(timeout=0)
        lock.release()
    except Timeout:
        holder = settings.build_dir / "refresh.holder"
        who = holder.read_text(encoding="utf-8").strip() if holder.exists() else "unknown"
        print(
            f"another refresh holds {settings.build_dir} ({who}); waiting for it to finish "
            f"(up to {settings.lock_timeout_seconds:.0f} s, WAREHOUSE_LOCK_TIMEOUT)",
            flush=True,
        )


class _Progress(threading.Thread):
    """Prints each step, decision and failed gate of a run as it happens, from the run's event log."""

    def __init__(self, instance, run_id: str):
        super().__init__(daemon=True)
        self.instance, self.run_id = instance, run_id
        # The terminal, as it is now: the dbt step sends stdout to its log file while it runs.
        self.out = sys.stdout
        self.done = threading.Event()
        self.cursor: str | None = None

    def run(self) -> None:
        while not self.done.wait(0.5):
            self._print_new()

    def finish(self) -> None:
        self.done.set()
        self.join()
        self._print_new()

    def _print_new(self) -> None:
        # Only the events stored since the last look: reading the whole log twice a second costs
        # the run's own thread time, growing with every event (bench/NOTES.md).
        found = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.cursor = found.cursor
        for entry in (record.event_log_entry for record in found.records):
            if entry.dagster_event:
                _print_event(entry.dagster_event, self.out)
            elif entry.user_message.startswith(LOG_PREFIX):
                text = entry.user_message[len(LOG_PREFIX) :].replace("\n", "\n    ")
                print(f"  {text}", file=sys.stderr if entry.level >= logging.ERROR else self.out, flush=True)


def _print_event(event, out) -> None:
    if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
        check = event.asset_check_evaluation_data
        # dbt's tests carry no description: dbt's account of them follows ("dbt failed:").
        why = check.description or "failed (dbt test)"
        print(f"  GATE    {check.asset_key.to_user_string()} {check.check_name}: {why}", file=sys.stderr, flush=True)
    elif event.is_step_success:
        seconds = event.event_specific_data.duration_ms / 1000
        print(f"  ok      {event.step_key} ({seconds:.1f} s)", file=out, flush=True)
    elif event.is_step_failure:
        print(
            f"  FAILED  {event.step_key}: {innermost_message(event.event_specific_data.error)}",
            file=sys.stderr,
            flush=True,
        )
    elif event.is_step_skipped:
        print(f"  skipped {event.step_key}", file=out, flush=True)


def _print_run_failure(result) -> None:
    """A run can fail before any step."""
    for event in result.all_events:
        if event.is_run_failure:
            error = event.event_specific_data.error if event.event_specific_data else None
            print(f"  FAILED  {innermost_message(error) if error else event.message}", file=sys.stderr)


def _print_summary(settings: Settings) -> None:
    """What was published, read from the build area's copy of it: an analyst may hold the file itself locked."""
    import duckdb

    from orchestration.analysts.catalog import list_tables
    from orchestration.publications import copy_path, newest
    from orchestration.publishing.diff import summary_line

    publication = newest(settings)
    print(
        f"\npublication {publication.id}: cite it by this id; `warehouse query --publication` queries it while it is "
        "kept, and `warehouse publications pin` keeps it for good"
    )
    if publication.replaces:
        print(f"it replaced {publication.replaces}: {summary_line(publication.changes)}")
        for table, change in publication.changes.get("tables", {}).items():
            print(f"  {table:<40} {change['status']:<9} {change['rows']:>8,} rows")
    print("published tables:")
    for table in list_tables(copy_path(settings)):
        print(f"  {table.name:<40} {table.row_count:>8,} rows")
    with duckdb.connect(str(copy_path(settings)), read_only=True) as connection:
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


def _status(args: argparse.Namespace) -> int:
    import dagster as dg

    from orchestration.operations.status import report

    with dg.DagsterInstance.get() as instance:
        print("\n".join(report(Settings.from_env(), instance)))
    return 0


def _query(args: argparse.Namespace) -> int:
    from orchestration import limits, publications
    from orchestration.analysts.encoding import text
    from orchestration.analysts.execution import run_query
    from orchestration.analysts.sandbox import QueryRefused

    if bool(args.sql) == bool(args.file):
        print("give the SQL either as an argument or with -f FILE", file=sys.stderr)
        return 2
    sql = args.file.read_text(encoding="utf-8") if args.file else args.sql
    settings = Settings.from_env()
    try:
        published = settings.published_db
        if args.publication:
            published = publications.kept_file(settings, publications.find(settings, args.publication))
        result = run_query(published, sql)
        sys.stdout.write(text(result, args.output))
    except (QueryRefused, publications.UnknownPublication) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    except Exception as error:  # DuckDB's own message (syntax, unknown table) is the clearest answer
        print(f"query failed: {error}", file=sys.stderr)
        return 1
    if result.truncated:
        print(
            f"cut off: only the first {len(result.rows):,} rows were returned ({limits.QUERY_MAX_ROWS.env} sets the limit; "
            "0 for none)",
            file=sys.stderr,
        )
    return 0


def _publications_list(args: argparse.Namespace) -> int:
    from orchestration import publications
    from orchestration.publishing.diff import summary_line

    settings = Settings.from_env()
    kept, pins = publications.kept(settings), publications.pins(settings)
    now = publications.newest(settings)
    if not kept:
        print(f"no publication is kept in {settings.publications_dir} yet: run `warehouse refresh` first")
        return 0
    for publication in kept:
        marks = ["current"] if now is not None and now.id == publication.id else []
        pinned = pins.get(publication.id)
        if pinned:
            marks.append(f"pinned {pinned.pinned_at}: {pinned.reason}")
        print(f"{publication.id}  published {publication.published_at[:19]}Z" + "".join(f"  [{m}]" for m in marks))
        print(f"    run {publication.run_id}")
        if publication.replaces:
            print(f"    replaced {publication.replaces}: {summary_line(publication.changes)}")
        for source, values in sorted(publication.inputs.items()):
            print(f"    {source:<18} {values['fingerprint'][:12]}  loaded {values['loaded_at'][:19]}")
    unpinned = len([p for p in kept if p.id not in pins])
    print(
        f"\n{len(kept)} kept: {len(pins)} pinned, {unpinned} unpinned; retention keeps the newest "
        f"{publications.keep_count()} unpinned (WAREHOUSE_KEEP_PUBLICATIONS)"
    )
    return 0


def _publications_pin(args: argparse.Namespace) -> int:
    from orchestration import publications

    try:
        pin, made = publications.pin(Settings.from_env(), args.id, args.reason)
    except (publications.UnknownPublication, ValueError) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    if made:
        print(f"pinned {args.id}: retention never removes it ({pin.reason})")
    else:
        print(f"{args.id} was pinned already, on {pin.pinned_at} ({pin.reason}); nothing changed")
    return 0


def _publications_unpin(args: argparse.Namespace) -> int:
    from orchestration import publications

    try:
        removed = publications.unpin(Settings.from_env(), args.id)
    except publications.UnknownPublication as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    if removed is None:
        print(f"{args.id} was not pinned; nothing changed")
    else:
        print(
            f"unpinned {args.id}: the next publication removes it if it is beyond the newest {publications.keep_count()} "
            "unpinned (WAREHOUSE_KEEP_PUBLICATIONS)"
        )
    return 0


def _publications_export(args: argparse.Namespace) -> int:
    from orchestration import publications
    from orchestration.analysts.package import export
    from orchestration.analysts.sandbox import QueryRefused

    settings = Settings.from_env()
    try:
        publication = publications.find(settings, args.id)
        written = export(settings, publication, publications.kept_file(settings, publication), args.folder, args.format)
    except (publications.UnknownPublication, QueryRefused) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    tables = [path for path in written if path.startswith("data/")]
    print(
        f"wrote publication {args.id} to {args.folder}: {len(tables)} tables ({args.format}), datapackage.json, README.md"
    )
    return 0


def _publications_diff(args: argparse.Namespace) -> int:
    import tempfile

    import duckdb

    from orchestration import publications
    from orchestration.analysts.encoding import document_json
    from orchestration.publishing import diff
    from orchestration.settings import refresh_duckdb_config

    settings = Settings.from_env()

    def compared() -> diff.Diff:
        old, new = (publications.find(settings, i) for i in (args.old, args.new))
        # The refresh's memory limit, spilling to a folder of its own beyond it (never inside the warehouse).
        with tempfile.TemporaryDirectory(prefix="warehouse-diff-") as spill:
            config = refresh_duckdb_config(spill)
            try:
                return diff.between(
                    publications.kept_file(settings, old),
                    publications.kept_file(settings, new),
                    old.id,
                    new.id,
                    config,
                    args.table,
                )
            except duckdb.IOException:  # one retired as it was opened: say which
                for publication_id in (args.old, args.new):
                    publications.find(settings, publication_id)
                raise

    try:
        found = compared()
    except (publications.UnknownPublication, diff.UnknownTable) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(document_json(found.as_dict(), indent=True).decode("utf-8") + "\n")
    else:
        sys.stdout.write(diff.as_text(found))
    return 0


def _tables(args: argparse.Namespace) -> int:
    from orchestration.analysts.catalog import list_tables
    from orchestration.analysts.sandbox import QueryRefused

    try:
        tables = list_tables(Settings.from_env().published_db)
    except QueryRefused as refused:
        print(refused, file=sys.stderr)
        return 2
    for table in tables:
        print(f"{table.name}  ({table.row_count:,} rows)\n    {table.description or '(no description)'}\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestration.analysts.serving.access import TOKEN_ENV, refusal_to_start
    from orchestration.analysts.serving.app import create_app

    token = args.token or os.environ.get(TOKEN_ENV) or None
    refusal = refusal_to_start(args.host, token)
    if refusal:
        print(f"warehouse serve: {refusal}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    where = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"serving the publications of {settings.home} on http://{where}:{args.port} (Ctrl-C to stop)"
        + ("; every request must show the token" if token else ""),
        flush=True,
    )
    uvicorn.run(
        create_app(settings, token),
        host=args.host,
        port=args.port,
        log_level="warning",
        server_header=False,
        # The client's own address, never one a header claims: a client names no other to escape its fair share.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _ui(args: argparse.Namespace) -> int:
    """Become `dagster dev`: a signal to this process reaches dagster dev itself, which stops the
    webserver and the daemon it started."""
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
    print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C to stop); dbt project {DBT_PROJECT_DIR}", flush=True)
    # Started from the instance's folder, not the project root, whose .env would replace the
    # DAGSTER_HOME this command was given (the code location is an installed module either way).
    os.chdir(dagster_home())
    # dagster dev stops on SIGTERM by handling it as SIGINT. A job started in the background by a
    # script inherits SIGINT ignored, and then SIGTERM was ignored too: the default comes back here.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
