"""What each raw input of the build database would load now, as a fingerprint: the one rule by
which a raw asset decides whether its table is current, and by which `warehouse refresh` decides,
before it starts a run, that a run would do nothing (orchestration/transform/changes.py).

The inputs: each source's snapshot set (staged files in place of those they replace), the country
reference (the country_converter release that makes it), and every snapshot's origin record.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version

from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.records import HashCache, SourceProvenance
from orchestration.sources import files
from orchestration.sources.files import SnapshotFile
from orchestration.sources.registry import SOURCES

COUNTRY_REFERENCE = "country_reference"
SNAPSHOT_FILES = "snapshot_files"


def _fingerprint(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def country_library() -> str:
    return f"country_converter {version('country_converter')}"


def country_reference_fingerprint() -> str:
    return _fingerprint(country_library())


def provenance_rows(sets: list[files.SnapshotSet]) -> list[dict]:
    """One row per snapshot file: where it came from and how to cite it (raw.snapshot_files)."""
    return [
        _provenance_row(snapshot_set.provenance, record) for snapshot_set in sets for _, record in snapshot_set.files
    ]


def snapshot_files_fingerprint(rows: list[dict]) -> str:
    return _fingerprint(json.dumps(rows, sort_keys=True))


def fingerprints(settings: Settings, hashes: HashCache | None = None) -> dict[str, str]:
    """Every raw input's fingerprint, as the raw assets compute it."""
    sets = {name: staging.candidate(settings, spec, hashes) for name, spec in SOURCES.items()}
    return {
        **{name: snapshot_set.fingerprint for name, snapshot_set in sets.items()},
        COUNTRY_REFERENCE: country_reference_fingerprint(),
        SNAPSHOT_FILES: snapshot_files_fingerprint(provenance_rows(list(sets.values()))),
    }


def _provenance_row(provenance: SourceProvenance, record: SnapshotFile) -> dict:
    return {
        "source": provenance.source,
        "file_name": record.file,
        "sha256": record.sha256,
        "size_bytes": record.bytes,
        "vintage": record.vintage,
        "producer": provenance.producer,
        "title": provenance.title,
        "upstream_url": provenance.upstream_url,
        "obtained_from": record.obtained_from,
        "date_accessed": record.date_accessed,
        "licence": provenance.licence,
        "citation": provenance.citation,
        "notes": record.notes,
    }
