"""The snapshot store refuses any file that differs from its provenance record."""

import json
import os
import re

import pytest

from orchestration.settings import Settings
from orchestration.snapshots.records import SnapshotError, SourceProvenance, sha256_of, verified_files
from tests.conftest import SNAPSHOTS, failure_text, materialize


def test_every_embedded_file_matches_its_record():
    provenance, files = verified_files(SNAPSHOTS / "un_egov", "EGOV_DATA_*.csv")
    assert len(files) == 12
    for path, record in files:
        assert record.sha256 == sha256_of(path)
        assert record.bytes == path.stat().st_size
        assert record.obtained_from and record.date_accessed
    assert provenance.licence and provenance.citation and provenance.upstream_url


def test_a_changed_byte_is_refused_with_the_file_named(snapshot_copy):
    target = snapshot_copy / "un_egov" / "EGOV_DATA_2022.csv"
    target.write_bytes(target.read_bytes().replace(b"0.8628", b"0.8629"))
    with pytest.raises(SnapshotError, match=r"EGOV_DATA_2022\.csv: sha256 .* does not match"):
        verified_files(snapshot_copy / "un_egov", "EGOV_DATA_*.csv")


def test_unrecorded_and_missing_files_are_refused(snapshot_copy):
    folder = snapshot_copy / "un_egov"
    (folder / "EGOV_DATA_2026.csv").write_text("dropped in by hand\n")
    with pytest.raises(SnapshotError, match="without a provenance record: EGOV_DATA_2026.csv"):
        verified_files(folder, "EGOV_DATA_*.csv")
    (folder / "EGOV_DATA_2026.csv").unlink()
    (folder / "EGOV_DATA_2003.csv").unlink()
    with pytest.raises(SnapshotError, match="missing: EGOV_DATA_2003.csv"):
        verified_files(folder, "EGOV_DATA_*.csv")


def test_recording_a_file_changes_the_fingerprint(snapshot_copy):
    folder = snapshot_copy / "un_egov"
    provenance = SourceProvenance.load(folder)
    before = provenance.fingerprint()
    target = folder / "EGOV_DATA_2024.csv"
    target.write_bytes(target.read_bytes() + b"\r\n")
    provenance.record(target, obtained_from="test", date_accessed="2026-11-28")
    provenance.save(folder)
    assert SourceProvenance.load(folder).fingerprint() != before
    assert json.loads((folder / "provenance.json").read_text())["files"][-1]["file"] == "EGOV_DATA_2024.csv"
    verified_files(folder, "EGOV_DATA_*.csv")


def test_a_same_size_edit_with_its_mtime_restored_stops_the_next_refresh_naming_the_file(tmp_path, snapshot_copy):
    """The checksum cache is keyed on what a same-size rewrite cannot put back (the change time and
    the inode), so the edit is hashed and found; and --full hashes every byte whatever the cache says."""
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshot_copy)
    first = materialize(settings, ["snapshots/un_egov"])
    assert first.success, failure_text(first)  # every snapshot hashed once and remembered
    target = snapshot_copy / "un_egov" / "EGOV_DATA_2022.csv"
    before = os.stat(target)
    edited = target.read_bytes().replace(b"0.8628", b"0.8629")
    with target.open("r+b") as handle:  # in place: same size, same inode
        handle.write(edited)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(target).st_size == before.st_size and os.stat(target).st_mtime_ns == before.st_mtime_ns
    second = materialize(settings, ["snapshots/un_egov"])
    assert not second.success
    assert re.search(
        rf"{re.escape(str(target))}: sha256 [0-9a-f]+ does not match the provenance record", failure_text(second)
    )

    # Damage no write explains (the cache made to vouch for the new bytes): a plain refresh trusts the
    # cache, --full hashes the bytes again and stops.
    cache = settings.build_dir / "sha256_cache.json"
    entries = json.loads(cache.read_text())
    recorded = next(r.sha256 for r in SourceProvenance.load(target.parent).files if r.file == target.name)
    now = os.stat(target)
    entries[str(target.resolve())] = [now.st_size, now.st_mtime_ns, now.st_ino, now.st_ctime_ns, recorded]
    cache.write_text(json.dumps(entries))
    assert materialize(settings, ["snapshots/un_egov"]).success
    full = materialize(settings, ["snapshots/un_egov"], full=True)
    assert not full.success and f"{target}: sha256" in failure_text(full)
