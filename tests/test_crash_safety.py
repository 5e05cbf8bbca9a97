"""A refresh killed at any point loses nothing: the next one completes or undoes what it left, the
store verifies, and every byte dropped into the inbox is a snapshot, still in the inbox, or in
rejected/. The kills are real SIGKILLs of the `warehouse` process (orchestration/failpoints.py)."""

from __future__ import annotations

import json
import os
import signal
import time
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from orchestration import publications
from orchestration.operations import status
from orchestration.operations.jobs import reject_staged
from orchestration.publishing import published_file as publishing
from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.records import sha256_of, verified_files
from orchestration.sources.files import IncomingFile
from orchestration.sources.registry import SOURCES
from tests.conftest import SNAPSHOTS, copy_home, crlf_copy, environment, run


def drop(settings: Settings, year: int) -> tuple[str, bytes]:
    """Another release of one survey year into the inbox, settled (WAREHOUSE_INBOX_SETTLE_S in the suite)."""
    name, content = f"EGOV_DATA_{year}.csv", crlf_copy(f"EGOV_DATA_{year}.csv")
    (settings.inbox_dir / "un_egov" / name).write_bytes(content)
    time.sleep(0.6)
    return name, content


def killed(done) -> None:
    assert done.returncode == -signal.SIGKILL, (done.stdout[-2000:], done.stderr[-2000:])


def succeeded(done, settings: Settings):
    """A refresh that exited 0, after which the store verifies and no temporary file is left."""
    assert done.returncode == 0, done.stderr[-3000:]
    store_verifies(settings)
    return done


def status_lines(settings: Settings) -> list[str]:
    """`warehouse status` as it reads the warehouse (in this process: it never opens the published file)."""
    with dg.DagsterInstance.ephemeral() as instance:
        return status.report(settings, instance)


def store_verifies(settings: Settings) -> None:
    for name in SOURCES:
        verified_files(settings.snapshots_dir / name, "*")
    leftovers = [p for root in (settings.home, settings.snapshots_dir) for p in root.rglob(".tmp-*")]
    assert not leftovers, leftovers


def found_intact(settings: Settings, name: str, content: bytes) -> list[str]:
    """Where the dropped file's bytes are, whole: the snapshots, the inbox, rejected/."""
    places = {"snapshot": settings.snapshots_dir / "un_egov" / name, "inbox": settings.inbox_dir / "un_egov" / name}
    where = [place for place, path in places.items() if path.is_file() and path.read_bytes() == content]
    where += [
        "rejected"
        for path in staging.rejected_dir(settings, "un_egov").glob(f"*/{name}")
        if path.read_bytes() == content
    ]
    return where


@pytest.mark.slow
def test_a_refresh_killed_while_taking_in_publishing_or_promoting_a_file_loses_nothing(built, tmp_path, snapshot_copy):
    """Throughout, an analyst holds the published file open read-write, as the DuckDB CLI and DBeaver do
    by default, which locks it against every other process: no refresh is stopped by it, and the next
    connection sees the last publication (a full refresh under the same lock: test_concurrency.py). The
    home's path holds a quote, which no path may break by reaching SQL as text."""
    settings = Settings(home=copy_home(built, tmp_path / "O'Neil's warehouse"), snapshots_dir=snapshot_copy)
    env = {**environment(tmp_path, snapshot_copy), "WAREHOUSE_HOME": str(settings.home)}
    inbox = settings.inbox_dir / "un_egov"
    inbox.mkdir(parents=True)
    analyst = duckdb.connect(str(settings.published_db))  # read-write
    try:
        opened = analyst.execute("select dagster_run_id from meta.publication").fetchone()[0]
        # 1. Killed while taking a file in (the held survey's bytes again, so that nothing needs
        # rebuilding): the next refresh keeps the killed run's copy in rejected/ and takes it again.
        first = ("EGOV_DATA_2022.csv", (SNAPSHOTS / "un_egov" / "EGOV_DATA_2022.csv").read_bytes())
        (inbox / first[0]).write_bytes(first[1])
        time.sleep(0.6)
        before = sha256_of(settings.published_db)
        killed(run(["refresh"], {**env, "WAREHOUSE_FAILPOINT": "inbox:recorded"}))
        assert sha256_of(settings.published_db) == before, "killed before publishing: the published file is as it was"
        assert "inbox" in found_intact(settings, *first), "the file left the inbox only once staged and recorded"
        succeeded(run(["refresh"], env), settings)
        assert "rejected" in found_intact(settings, *first) and "snapshot" in found_intact(settings, *first)

        # 2. Killed once its publication was in place, before the record said so; the next refresh
        # completes the record and starts the promotion, and is killed in it, the old file moved
        # aside and the new one not yet in place; the one after completes the promotion.
        second = drop(settings, 2020)
        before = sha256_of(settings.published_db)
        killed(run(["refresh"], {**env, "WAREHOUSE_FAILPOINT": "publish:after-rename"}))
        assert sha256_of(settings.published_db) != before, "the publication took effect"
        killed(run(["refresh"], {**env, "WAREHOUSE_FAILPOINT": "promote:moved-aside"}))
        assert not (snapshot_copy / "un_egov" / second[0]).exists(), "killed between the two renames of the promotion"
        assert any("was interrupted; the next refresh completes it" in line for line in status_lines(settings))
        after = succeeded(run(["refresh"], env), settings)
        assert "nothing changed" in after.stdout, "the killed run's publication was completed, not rebuilt"
        assert "snapshot" in found_intact(settings, *second)
        superseded = list((snapshot_copy / "un_egov" / "superseded").glob(f"*/{second[0]}"))
        assert [sha256_of(path) for path in superseded] == [sha256_of(SNAPSHOTS / "un_egov" / second[0])]
        shown = status_lines(settings)
        assert any(line.startswith(f"published   {settings.published_db}") for line in shown)
        assert not any("INTEGRITY FAILED" in line or "never published" in line for line in shown)
        # The analyst's session still reads the file it opened.
        assert analyst.execute("select dagster_run_id from meta.publication").fetchone()[0] == opened
    finally:
        analyst.close()
    assert not any(inbox.iterdir())
    last = json.loads(publications.record_path(settings).read_text())["run_id"]
    assert last != opened
    with duckdb.connect(str(settings.published_db), read_only=True) as fresh:
        assert fresh.execute("select dagster_run_id from meta.publication").fetchone()[0] == last
    # The publication whose record the next refresh completed is kept under its id, as published.
    current = publications.current(settings)
    assert current.run_id == last
    with duckdb.connect(str(publications.kept_file(settings, current)), read_only=True) as kept:
        assert kept.execute("select publication_id, dagster_run_id from meta.publication").fetchall() == [
            (current.id, last)
        ]


def test_a_publication_killed_before_its_rename_is_forgotten_and_its_files_removed(built, tmp_path, snapshot_copy):
    settings = Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=snapshot_copy)
    record = publications.record_path(settings).read_text()
    published = sha256_of(settings.published_db)
    intent = {
        **json.loads(record),
        "run_id": "killed-run",
        "inode": os.stat(settings.build_db).st_ino,
        "copy": ".tmp-publication.duckdb.x",
    }
    publications.pending_path(settings).write_text(json.dumps(intent))
    kept_before = publications.kept(settings)
    unlisted = publications.kept_file(settings, publications.pending(settings))
    for left in (
        settings.home / ".tmp-warehouse.duckdb.1a2b",
        settings.build_dir / ".tmp-publication.duckdb.x",
        unlisted,
    ):
        left.write_bytes(b"half a database")
    said = publishing.recover(settings)
    assert said == (
        "run killed-run was killed before its publication was in place; the published file is as it was; "
        "removed 2 temporary file(s) of a killed publication"
    )
    assert publications.record_path(settings).read_text() == record and sha256_of(settings.published_db) == published
    assert not publications.pending_path(settings).exists() and not list(settings.home.rglob(".tmp-*"))
    assert not unlisted.exists() and publications.kept(settings) == kept_before != []


def test_the_failure_hook_keeps_what_a_publication_used_and_rejects_what_none_did(built, tmp_path, snapshot_copy):
    """A run that failed after it published (its promotion failed) leaves its staged files for the next
    refresh to promote; a run that failed before publishing has them kept in rejected/ with the reason."""
    settings = Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=snapshot_copy)
    # The hook reads only the settings of the run's warehouse; the resource itself would settle the staged set on opening.
    warehouse = SimpleNamespace(settings=settings)
    published = json.loads(publications.record_path(settings).read_text())["run_id"]
    incoming = [
        IncomingFile("EGOV_DATA_2022.csv", crlf_copy("EGOV_DATA_2022.csv"), "inbox: test", "2026-12-06T00:00:00+00:00")
    ]
    staging.stage(settings, "un_egov", published, incoming)
    reject_staged(
        dg.build_hook_context(
            resources={"warehouse": warehouse}, run_id=published, instance=dg.DagsterInstance.ephemeral()
        )
    )
    assert (
        staging.staged_run(settings, "un_egov") == published and not staging.rejected_dir(settings, "un_egov").exists()
    )

    staging.reject(settings, "un_egov", "cleared for the second case")
    staging.stage(settings, "un_egov", "a-run-that-never-published", incoming)
    reject_staged(
        dg.build_hook_context(
            resources={"warehouse": warehouse},
            run_id="a-run-that-never-published",
            instance=dg.DagsterInstance.ephemeral(),
        )
    )
    assert staging.staged_run(settings, "un_egov") is None
    kept = sorted(staging.rejected_dir(settings, "un_egov").glob("*/EGOV_DATA_2022.csv"))
    assert [path.read_bytes() for path in kept] == [crlf_copy("EGOV_DATA_2022.csv")] * 2
    assert (
        "run a-run-that-never-published is not in this Dagster instance" in (kept[-1].parent / "reason.txt").read_text()
    )
