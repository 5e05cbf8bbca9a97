"""What a source hands over and what it is given back: a file fetched from upstream, the record of
a file kept as a snapshot, and the set of snapshot files one refresh loads. The snapshot store
(orchestration/snapshots/) keeps them; a source's parser, live client and loader read them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class SnapshotFile:
    file: str
    sha256: str
    bytes: int
    obtained_from: str
    date_accessed: str
    vintage: str = ""
    notes: str = ""


def fingerprint_of(records: list[SnapshotFile]) -> str:
    """One hash for a whole snapshot set: it changes when any file does."""
    joined = "\n".join(f"{f.file}:{f.sha256}" for f in sorted(records, key=lambda f: f.file))
    return hashlib.sha256(joined.encode()).hexdigest()


@dataclass(frozen=True)
class SnapshotSet:
    """The files one refresh loads for a source, each verified against its record."""

    source: str
    provenance: Any  # the store's committed record (orchestration/snapshots/records.py): producer, licence, citation
    files: list[tuple[Path, SnapshotFile]]  # staged files in place of the committed ones they replace

    @property
    def fingerprint(self) -> str:
        return fingerprint_of([record for _, record in self.files])

    def matching(self, pattern: str) -> list[tuple[Path, SnapshotFile]]:
        return [(path, record) for path, record in self.files if fnmatch(record.file, pattern)]


@dataclass(frozen=True)
class IncomingFile:
    """A file fetched from a live upstream, complete, to be kept as a snapshot."""

    name: str
    content: bytes
    obtained_from: str
    date_accessed: str
    vintage: str = ""
    notes: str = ""
