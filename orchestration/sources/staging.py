"""Write-audit-publish for the snapshot store.

What a refresh takes in, a live fetch or a file dropped into ``warehouse/inbox/<source>/``, waits
in the build area until the refresh that loaded it publishes:

- ``build/staging/<source>/``: the incoming files as received, and ``staged.json`` (the run that
  staged them and each file's origin record);
- ``build/rejected/<source>/<time>/``: a staged set whose refresh failed, with ``reason.txt``.

The set a refresh loads (``candidate``) is the committed snapshots with the staged files in place
of those they replace. Publishing promotes the staged files into ``warehouse/snapshots/<source>/``
(the files they replace move to ``superseded/`` then); a failed refresh moves them to
``rejected/``. ``warehouse/snapshots/`` is never written before a publication.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.settings import Settings
from orchestration.sources.snapshots import (
    HashCache,
    IncomingFile,
    SnapshotError,
    SnapshotFile,
    SourceProvenance,
    fingerprint_of,
    save_incoming,
    sha256_bytes,
    verified_files,
)

if TYPE_CHECKING:
    from orchestration.sources.spec import SourceSpec

STAGED_RECORD = "staged.json"
REASON_FILE = "reason.txt"


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class SnapshotSet:
    """The files one refresh loads for a source, each verified against its record."""

    source: str
    provenance: SourceProvenance  # the committed record: producer, licence, citation
    files: list[tuple[Path, SnapshotFile]]  # staged files in place of the committed ones they replace

    @property
    def fingerprint(self) -> str:
        return fingerprint_of([record for _, record in self.files])

    def matching(self, pattern: str) -> list[tuple[Path, SnapshotFile]]:
        return [(path, record) for path, record in self.files if fnmatch(record.file, pattern)]


def hash_cache(settings: Settings) -> HashCache:
    return HashCache(settings.build_dir / "sha256_cache.json")


def staging_dir(settings: Settings, source: str) -> Path:
    return settings.build_dir / "staging" / source


def rejected_dir(settings: Settings, source: str) -> Path:
    return settings.build_dir / "rejected" / source


def candidate(settings: Settings, spec: SourceSpec, hashes: HashCache | None = None) -> SnapshotSet:
    """The committed snapshots, verified byte for byte, with the staged files in place of the ones
    whose slot they fill. A committed file that differs from its record raises SnapshotError."""
    source, slot = spec.name, spec.slot
    provenance, committed = verified_files(settings.snapshots_dir / source, "*", hashes)
    staged = _verified_staged(settings, source, hashes)
    taken = set().union(*(spec.fills(path) for path, _ in staged))
    kept = [(path, record) for path, record in committed if slot(path) is None or slot(path) not in taken]
    files = sorted(kept + staged, key=lambda entry: entry[1].file)
    return SnapshotSet(source, provenance, files)


def _record(settings: Settings, source: str) -> dict | None:
    path = staging_dir(settings, source) / STAGED_RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def staged_run(settings: Settings, source: str) -> str | None:
    """The run that staged what waits for ``source``, if anything does."""
    record = _record(settings, source)
    return record["run_id"] if record else None


def _verified_staged(settings: Settings, source: str, hashes: HashCache | None) -> list[tuple[Path, SnapshotFile]]:
    record = _record(settings, source)
    if not record:
        return []
    folder = staging_dir(settings, source)
    files = []
    for entry in map(lambda data: SnapshotFile(**data), record["files"]):
        path = folder / entry.file
        actual = (hashes or HashCache()).sha256(path) if path.is_file() else "missing"
        if actual != entry.sha256:
            raise SnapshotError(f"{path}: staged file is {actual}, not the {entry.sha256} recorded when it was staged")
        files.append((path, entry))
    return files


def stage(settings: Settings, source: str, run_id: str, incoming: list[IncomingFile]) -> list[SnapshotFile]:
    """Write incoming files into the source's staging area, each with its origin record."""
    if not incoming:
        return []
    folder = staging_dir(settings, source)
    folder.mkdir(parents=True, exist_ok=True)
    record = _record(settings, source) or {"run_id": run_id, "files": []}
    entries = []
    for item in incoming:
        target = folder / item.name
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(item.content)
        os.replace(partial, target)
        entry = SnapshotFile(file=item.name, sha256=sha256_bytes(item.content), bytes=len(item.content), obtained_from=item.obtained_from,
                             date_accessed=item.date_accessed, vintage=item.vintage, notes=item.notes)
        record["files"] = [data for data in record["files"] if data["file"] != item.name] + [asdict(entry)]
        entries.append(entry)
    (folder / STAGED_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return entries


def inbox_files(settings: Settings, source: str) -> list[Path]:
    """The files waiting in inbox/<source>/ (hidden ones, such as a download in progress, wait on)."""
    inbox = settings.inbox_dir / source
    return sorted(path for path in inbox.glob("*") if path.is_file() and not path.name.startswith(".")) if inbox.is_dir() else []


def take_inbox(settings: Settings, source: str, run_id: str) -> list[SnapshotFile]:
    """Move every file waiting in inbox/<source>/ into staging; the inbox is then empty."""
    waiting = inbox_files(settings, source)
    incoming = [IncomingFile(path.name, path.read_bytes(), obtained_from=f"inbox: dropped by hand into {path.parent}",
                             date_accessed=now(), notes="taken from the inbox") for path in waiting]
    entries = stage(settings, source, run_id, incoming)
    for path in waiting:
        path.unlink()
    return entries


def promote(settings: Settings, spec: SourceSpec) -> list[str]:
    """Make the staged files snapshots of ``spec``'s source; the ones they replace move to superseded/."""
    source = spec.name
    folder = staging_dir(settings, source)
    record = _record(settings, source)
    if not record:
        return []
    incoming = [
        IncomingFile(entry["file"], (folder / entry["file"]).read_bytes(), entry["obtained_from"], entry["date_accessed"],
                     entry["vintage"], entry["notes"])
        for entry in record["files"]
    ]
    if incoming:
        filled = {item.name: spec.fills(folder / item.name) for item in incoming}
        save_incoming(settings.snapshots_dir / source, incoming, lambda old, new: spec.slot(old) in filled[new.name])
    shutil.rmtree(folder)
    return [item.name for item in incoming]


def reject(settings: Settings, source: str, reason: str) -> Path | None:
    """Keep what a failed refresh staged, with the reason, and clear the staging area."""
    folder = staging_dir(settings, source)
    if not folder.exists():
        return None
    target = rejected_dir(settings, source) / now().replace(":", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    while target.exists():
        target = target.with_name(target.name + "_")
    os.replace(folder, target)
    (target / REASON_FILE).write_text(f"{now()} rejected: {reason}\n", encoding="utf-8")
    return target
