"""The snapshot store refuses any file that differs from its provenance record."""

import json

import pytest

from orchestration.sources.snapshots import SnapshotError, SourceProvenance, sha256_of, verified_files
from tests.conftest import SNAPSHOTS


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
