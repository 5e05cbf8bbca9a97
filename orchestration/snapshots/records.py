"""The snapshot store: upstream files kept byte for byte, each with an origin record.

Every source folder under ``warehouse/snapshots/<source>/`` holds the upstream files as they
were obtained and a ``provenance.json`` describing the source and every file in it (where it
came from, when, under which licence, and its sha256). Nothing reads a snapshot file without
first checking it against that record, so a file edited by hand or damaged on disk stops the
refresh before any number is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from orchestration.durable import sha256_of, write_atomic
from orchestration.sources.files import SnapshotFile, fingerprint_of

MANIFEST_NAME = "provenance.json"
SUPERSEDED_DIR = "superseded"


def _is_snapshot(path: Path) -> bool:
    """Data files only: not the manifest, the human-readable notes (*.md), sub-folders, or the
    hidden temporary file of a write in progress (orchestration/durable.py)."""
    return path.is_file() and path.name != MANIFEST_NAME and path.suffix != ".md" and not path.name.startswith(".")


class SnapshotError(RuntimeError):
    """A snapshot file is missing, unrecorded, or differs from its provenance record."""


@dataclass
class SourceProvenance:
    """The origin record of one source: who produces it and what we hold of it."""

    source: str
    producer: str
    title: str
    upstream_url: str
    licence: str
    citation: str
    files: list[SnapshotFile] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> SourceProvenance:
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file():
            raise SnapshotError(f"{manifest}: no provenance record for the snapshots in {folder}")
        return cls.from_dict(json.loads(manifest.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict) -> SourceProvenance:
        fields = {name: value for name, value in data.items() if name != "files"}
        return cls(**fields, files=[SnapshotFile(**entry) for entry in data["files"]])

    def to_dict(self) -> dict:
        data = asdict(self)
        data["files"] = sorted(data["files"], key=lambda entry: entry["file"])
        return data

    def save(self, folder: Path) -> None:
        """Written atomically: a crash leaves the old record or the new one, never a part of either."""
        write_atomic(folder / MANIFEST_NAME, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def record(self, path: Path, *, obtained_from: str, date_accessed: str, **extra: str) -> SnapshotFile:
        """Add or replace the record of ``path`` with its current checksum and size."""
        entry = SnapshotFile(
            file=path.name,
            sha256=sha256_of(path),
            bytes=path.stat().st_size,
            obtained_from=obtained_from,
            date_accessed=date_accessed,
            **extra,
        )
        self.files = [f for f in self.files if f.file != path.name] + [entry]
        return entry

    def fingerprint(self) -> str:
        return fingerprint_of(self.files)


class HashCache:
    """sha256 of files, remembered by (size, mtime, inode, ctime): every refresh and `warehouse status`
    hash the snapshot bytes, and a full-WDI zip takes seconds to hash. A same-size rewrite can put
    the mtime back, but not the ctime, which any write or utime moves, nor the inode of a file
    replaced by another. Damage on disk that no write explains is found by `--full`, which forgets
    the cache. Kept as JSON in the build area."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.entries: dict[str, list] = {}
        if path is not None and path.is_file():
            try:
                self.entries = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:  # a cache cut off by a crash is only a cache: start again
                self.entries = {}

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key, seen = str(path.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]
        cached = self.entries.get(key)
        if cached and cached[:-1] == seen:
            return cached[-1]
        digest = sha256_of(path)
        self.entries[key] = [*seen, digest]
        return digest

    def forget(self) -> None:
        """Hash every file again from its bytes (`warehouse refresh --full`)."""
        self.entries = {}

    def save(self) -> None:
        if self.path is not None:
            write_atomic(self.path, json.dumps(self.entries))


def verified_files(
    folder: Path, pattern: str, hashes: HashCache | None = None
) -> tuple[SourceProvenance, list[tuple[Path, SnapshotFile]]]:
    """The snapshot files of a source matching ``pattern``, each checked against its record.

    A file on disk without a record, a record without a file, and a checksum that differs
    are all errors naming the file, so nothing unverified is ever parsed.
    """
    hashes = hashes or HashCache()
    provenance = SourceProvenance.load(folder)
    recorded = {f.file: f for f in provenance.files if fnmatch(f.file, pattern)}
    on_disk = {p.name: p for p in sorted(folder.glob(pattern)) if _is_snapshot(p)}
    unrecorded = sorted(set(on_disk) - set(recorded))
    if unrecorded:
        raise SnapshotError(f"{folder}: files without a provenance record: {', '.join(unrecorded)}")
    missing = sorted(set(recorded) - set(on_disk))
    if missing:
        raise SnapshotError(f"{folder}: recorded in {MANIFEST_NAME} but missing: {', '.join(missing)}")
    checked = []
    for name, path in on_disk.items():
        actual = hashes.sha256(path)
        if actual != recorded[name].sha256:
            raise SnapshotError(
                f"{path}: sha256 {actual} does not match the provenance record "
                f"{recorded[name].sha256}; the snapshot was changed after it was recorded"
            )
        checked.append((path, recorded[name]))
    return provenance, checked
