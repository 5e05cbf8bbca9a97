"""The inbox takes only whole, regular files with names its source takes, and loses none: each case
through the real snapshots step (a Dagster materialisation) or the real `warehouse` command."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.snapshots import staging
from orchestration.snapshots.records import sha256_of
from orchestration.sources.registry import SOURCES
from orchestration.sources.worldbank.bulk_zip import WdiZipError
from tests.conftest import crlf_copy, failure_text, logged_decisions, materialize
from tests.zip_bomb import write_zip_bomb

SURVEY = crlf_copy("EGOV_DATA_2022.csv")  # another release of 2022


def inbox(settings: Settings, source: str) -> Path:
    folder = settings.inbox_dir / source
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rejected(settings: Settings, source: str) -> list[Path]:
    return sorted(p for p in staging.rejected_dir(settings, source).glob("*/*") if p.name != staging.REASON_FILE)


def take(settings: Settings, source: str = "un_egov"):
    """The source's snapshots step alone, as a refresh runs it."""
    import dagster as dg

    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, [f"snapshots/{source}"], instance=instance)
    return result, logged_decisions(instance, result.run_id)


def write_slowly(path: Path, content: bytes, pieces: int, pause: float) -> threading.Thread:
    """A writer that copies ``content`` in ``pieces``, pausing between them, as a slow network copy does."""

    def writer():
        step = -(-len(content) // pieces)
        with path.open("wb") as handle:
            for start in range(0, len(content), step):
                handle.write(content[start : start + step])
                handle.flush()
                time.sleep(pause)

    thread = threading.Thread(target=writer)
    thread.start()
    return thread


def test_a_file_still_being_written_is_waited_for_and_taken_whole(tmp_path, snapshot_copy, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_INBOX_SETTLE_S", "0.8")
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    writer = write_slowly(inbox(settings, "un_egov") / "EGOV_DATA_2022.csv", SURVEY, pieces=12, pause=0.3)
    result, logged = take(settings)
    writer.join()
    assert result.success, failure_text(result)
    assert any("waiting for EGOV_DATA_2022.csv to stop changing" in line for line in logged)
    assert (staging.staging_dir(settings, "un_egov") / "EGOV_DATA_2022.csv").read_bytes() == SURVEY
    assert not list(inbox(settings, "un_egov").iterdir())


def test_a_writer_slower_than_the_wait_keeps_its_file_and_the_next_refresh_takes_it_whole(
    tmp_path, snapshot_copy, monkeypatch
):
    monkeypatch.setenv("WAREHOUSE_INBOX_SETTLE_S", "0.8")
    monkeypatch.setenv("WAREHOUSE_INBOX_WAIT_S", "0.5")
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    dropped = inbox(settings, "un_egov") / "EGOV_DATA_2022.csv"
    writer = write_slowly(dropped, SURVEY, pieces=16, pause=0.3)
    result, logged = take(settings)
    assert result.success, failure_text(result)
    assert any("EGOV_DATA_2022.csv is still being written" in line and "left in the inbox" in line for line in logged)
    assert staging.staged_run(settings, "un_egov") is None, "no partial file is staged"
    writer.join()
    time.sleep(0.9)
    # Nothing lost: the file is whole in the inbox, and the next refresh takes it whole.
    assert dropped.read_bytes() == SURVEY
    result, _ = take(settings)
    assert result.success, failure_text(result)
    assert (
        staging.staging_dir(settings, "un_egov") / "EGOV_DATA_2022.csv"
    ).read_bytes() == SURVEY and not dropped.exists()


def test_a_file_in_progress_under_its_part_name_is_never_taken(tmp_path, snapshot_copy):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    (inbox(settings, "un_egov") / "EGOV_DATA_2022.csv.part").write_bytes(SURVEY[:1000])
    result, logged = take(settings)
    assert result.success and "un_egov: nothing new to take in" in logged
    assert (inbox(settings, "un_egov") / "EGOV_DATA_2022.csv.part").read_bytes() == SURVEY[:1000]


def test_a_symbolic_link_is_refused_and_what_it_points_to_is_never_read(tmp_path, snapshot_copy):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(SURVEY)
    link = inbox(settings, "un_egov") / "EGOV_DATA_2022.csv"
    link.symlink_to(secret)
    result, _ = take(settings)
    assert not result.success
    assert f"{link}: a symbolic link; the inbox takes only regular files" in failure_text(result)
    [kept] = rejected(settings, "un_egov")
    assert kept.name == "EGOV_DATA_2022.csv" and kept.is_symlink(), "the link itself is kept, as it was"
    assert "refused EGOV_DATA_2022.csv: a symbolic link" in (kept.parent / "reason.txt").read_text()
    assert not staging.staging_dir(settings, "un_egov").exists() and secret.read_bytes() == SURVEY


@pytest.mark.parametrize(
    "name", ["O'Neil.csv", "EGOV_DATA_2026.csv'); copy (select 42) to 'pwned.csv'; --.csv", "EGOV_DATA_2026.xlsx"]
)
def test_a_name_the_source_does_not_take_is_refused_saying_which_names_it_takes(tmp_path, snapshot_copy, name):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    (inbox(settings, "un_egov") / name).write_bytes(SURVEY)
    result, _ = take(settings)
    assert not result.success
    assert f"{name}: not a name UN E-Government Survey takes; its inbox takes EGOV_DATA_<year>.csv" in failure_text(
        result
    )
    [kept] = rejected(settings, "un_egov")
    assert kept.name == name and kept.read_bytes() == SURVEY, "nothing is lost"
    assert not list(PROJECT_ROOT.rglob("pwned.csv")) and not list(tmp_path.rglob("pwned.csv"))


def test_a_wrong_extension_is_refused_at_staging_and_the_store_stays_verifiable(tmp_path, snapshot_copy):
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    (inbox(settings, "worldbank") / "API_SP.POP.TOTL_DS2_en_csv_v2_85.txt").write_bytes(b"anything")
    result, _ = take(settings, "worldbank")
    assert not result.success and "its inbox takes WDI_CSV.zip, API_<indicator code>_DS2_<...>.csv" in failure_text(
        result
    )
    assert not staging.staging_dir(settings, "worldbank").exists()
    result, _ = take(settings, "worldbank")
    assert result.success, "the next refresh is not stopped by what was refused"


def zip_bomb(path: Path, mebibytes: int = 1024) -> None:
    """A zip in the WDI layout whose data and series files each inflate to ``mebibytes`` MiB of zeros."""
    write_zip_bomb(
        path,
        {"WDICSV.csv": mebibytes, "WDISeries.csv": mebibytes},
        {"WDICountry.csv": b"Country Code,Table Name,Region,Income Group,Special Notes\n"},
    )


def test_a_zip_bomb_is_refused_naming_the_zip_with_memory_and_disk_flat(tmp_path, snapshot_copy):
    """Its members would inflate to 2 GiB; the snapshots step refuses it from the zip's directory. The
    same check is then run on the kept zip with Python's allocations traced (the zip module inflates
    into Python objects), to show the peak stays flat."""
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    dropped = inbox(settings, "worldbank") / "WDI_CSV.zip"
    zip_bomb(dropped)
    bomb_bytes, bomb_sha = dropped.stat().st_size, sha256_of(dropped)
    assert bomb_bytes < 10 << 20
    time.sleep(0.6)  # settled (WAREHOUSE_INBOX_SETTLE_S in the suite)
    result, _ = take(settings, "worldbank")
    assert not result.success
    text = failure_text(result)
    assert f"{staging.staging_dir(settings, 'worldbank') / 'WDI_CSV.zip'}!WDICSV.csv: inflates" in text
    assert "refused as a zip bomb, nothing inflated" in text
    # Disk: nothing inflated anywhere in the warehouse home; the zip itself kept, whole, with the reason.
    assert sum(p.stat().st_size for p in settings.home.rglob("*") if p.is_file()) < 2 * bomb_bytes + (8 << 20)
    [kept] = staging.rejected_dir(settings, "worldbank").glob("*/WDI_CSV.zip")
    assert sha256_of(kept) == bomb_sha and "zip bomb" in (kept.parent / staging.REASON_FILE).read_text()
    assert not (snapshot_copy / "worldbank" / "WDI_CSV.zip").exists()
    tracemalloc.start()
    try:
        with pytest.raises(WdiZipError, match="refused as a zip bomb"):
            SOURCES["worldbank"].check_file(kept, settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak:,} bytes allocated at the peak: a member was inflated into memory"


def test_a_zip_whose_members_claim_more_than_the_limit_is_refused(tmp_path, monkeypatch):
    from orchestration.sources.worldbank import bulk_zip

    path = tmp_path / "WDI_CSV.zip"
    zip_bomb(path, mebibytes=8)
    monkeypatch.setenv("WAREHOUSE_ZIP_MAX_RATIO", "100000")
    monkeypatch.setenv("WAREHOUSE_ZIP_MAX_BYTES", str(4 << 20))
    with pytest.raises(
        bulk_zip.WdiZipError,
        match=rf"{path}: its members inflate to 16,777,\d+ bytes, past the limit of 4,194,304 \(WAREHOUSE_ZIP_MAX_BYTES\)",
    ):
        bulk_zip.vintage(path)
