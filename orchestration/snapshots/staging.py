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

Nothing is lost at any instant:
- an inbox file is copied, fsynced and read back before it leaves the inbox, and only a file that
  has stopped changing is taken (WAREHOUSE_INBOX_SETTLE_S);
- a promotion first writes its whole plan (``promotion.json``); each of its steps can be done
  again, so the next refresh completes one a crash interrupted (``settle``);
- every record is written atomically (orchestration/durable.py).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration import failpoints, limits
from orchestration.durable import copy_atomic, fsync, sha256_of, sweep, write_atomic
from orchestration.settings import Settings
from orchestration.snapshots.records import SUPERSEDED_DIR, HashCache, SnapshotError, SourceProvenance, verified_files
from orchestration.sources.files import IncomingFile, SnapshotFile, SnapshotSet, now, sha256_bytes

if TYPE_CHECKING:
    from orchestration.sources.spec import SourceSpec

STAGED_RECORD = "staged.json"
PROMOTION_RECORD = "promotion.json"
REASON_FILE = "reason.txt"
# A writer that cannot write a file whole in one go may write it as <name>.part and rename it.
IN_PROGRESS_SUFFIX = ".part"
_RETIRED_PREFIX = ".retired-"


class InboxRefused(SnapshotError):
    """An inbox entry that is not a regular file, or whose name the source does not take."""


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


def _write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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


def _add_to_record(settings: Settings, source: str, run_id: str, entries: list[SnapshotFile]) -> None:
    folder = staging_dir(settings, source)
    record = _record(settings, source) or {"run_id": run_id, "files": []}
    names = {entry.file for entry in entries}
    record["files"] = [data for data in record["files"] if data["file"] not in names] + [
        asdict(entry) for entry in entries
    ]
    _write_json(folder / STAGED_RECORD, record)


def stage(settings: Settings, source: str, run_id: str, incoming: list[IncomingFile]) -> list[SnapshotFile]:
    """Write fetched files into the source's staging area, each with its origin record."""
    if not incoming:
        return []
    folder = staging_dir(settings, source)
    entries = []
    for item in incoming:
        write_atomic(folder / item.name, item.content)
        entries.append(
            SnapshotFile(
                file=item.name,
                sha256=sha256_bytes(item.content),
                bytes=len(item.content),
                obtained_from=item.obtained_from,
                date_accessed=item.date_accessed,
                vintage=item.vintage,
                notes=item.notes,
            )
        )
    _add_to_record(settings, source, run_id, entries)
    return entries


# ---- the inbox -------------------------------------------------------------------------------


def inbox_files(settings: Settings, source: str) -> list[Path]:
    """What waits in inbox/<source>/: every entry but hidden ones and ``*.part`` (a writer's file in
    progress). Entries the inbox refuses (links, folders, names the source does not take) are listed
    too, so the refresh that finds them says why and moves them aside."""
    inbox = settings.inbox_dir / source
    if not inbox.is_dir():
        return []
    return sorted(
        path for path in inbox.iterdir() if not path.name.startswith(".") and not path.name.endswith(IN_PROGRESS_SUFFIX)
    )


def unsettled_for(path: Path) -> float:
    """Seconds until ``path`` has gone WAREHOUSE_INBOX_SETTLE_S without a change; 0 once it has.
    The ctime counts as well as the mtime: a copy that keeps the source's mtime still moves it."""
    info = os.lstat(path)
    changed = max(info.st_mtime, info.st_ctime)
    return max(0.0, limits.INBOX_SETTLE_S.value() - (time.time() - changed))


def settled_inbox_files(settings: Settings, source: str) -> list[Path]:
    """The inbox entries that have stopped changing: what the inbox sensor starts a refresh for."""
    settled = []
    for path in inbox_files(settings, source):
        try:
            if unsettled_for(path) == 0:
                settled.append(path)
        except FileNotFoundError:
            continue
    return settled


def refusal(path: Path, spec: SourceSpec) -> str | None:
    """Why the inbox will not take ``path``; None when it will."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link; the inbox takes only regular files (copy the file itself in)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a folder, a pipe or a device); the inbox takes only regular files"
    if not spec.accepts(path.name):
        return f"not a name {spec.title} takes; its inbox takes {spec.names_help}"
    return None


def _wait_until_settled(paths: list[Path], say: Callable[[str], None]) -> list[Path]:
    """The files among ``paths`` that stop changing within WAREHOUSE_INBOX_WAIT_S; the rest stay in the inbox."""
    give_up = time.monotonic() + limits.INBOX_WAIT_S.value()
    pending, ready = list(paths), []
    while pending:
        waits = {}
        for path in pending:
            try:
                waits[path] = unsettled_for(path)
            except FileNotFoundError:  # taken away by whoever put it there
                continue
        ready += [path for path, wait in waits.items() if wait == 0]
        pending = [path for path, wait in waits.items() if wait > 0]
        if not pending:
            break
        if time.monotonic() + min(waits[p] for p in pending) > give_up:
            for path in pending:
                say(
                    f"{path.name} is still being written (changed under {limits.INBOX_SETTLE_S.value():g} s ago, "
                    f"{limits.INBOX_SETTLE_S.env}); left in the inbox for the next refresh"
                )
            break
        say(f"waiting for {', '.join(p.name for p in pending)} to stop changing")
        time.sleep(min(waits[p] for p in pending) + 0.05)
    return sorted(ready)


def _take(path: Path, folder: Path) -> tuple[SnapshotFile, tuple] | None:
    """Copy one inbox file into ``folder``: fsynced and read back. Opened without following links, so a
    link swapped in after the check is refused. None when the file changed while it was copied."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a pipe swapped in must not block
    try:
        before = os.fstat(descriptor)
        if not stat.S_ISREG(before.st_mode):
            raise InboxRefused(f"{path}: not a regular file; the inbox takes only regular files")
        digest = copy_atomic(descriptor, folder / path.name)
        after = os.fstat(descriptor)
    finally:
        os.close(descriptor)
    identity = _identity(before)
    if identity != _identity(after):
        (folder / path.name).unlink()
        return None
    entry = SnapshotFile(
        file=path.name,
        sha256=digest,
        bytes=before.st_size,
        obtained_from=f"inbox: dropped by hand into {path.parent}",
        date_accessed=now(),
        notes="taken from the inbox",
    )
    return entry, identity


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    """What any write to a file, or its replacement by another, changes."""
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def take_inbox(
    settings: Settings, spec: SourceSpec, run_id: str, say: Callable[[str], None] = lambda _: None
) -> list[SnapshotFile]:
    """Stage every settled file waiting in inbox/<source>/; each leaves the inbox only once its copy
    is staged, fsynced, read back and recorded. Refused entries are moved to rejected/ with the
    reason, and the refresh stops naming them."""
    source = spec.name
    waiting = inbox_files(settings, source)
    refused = [(path, why) for path in waiting if (why := refusal(path, spec))]
    if refused:
        kept = _reject_entries(settings, source, refused)
        raise InboxRefused("; ".join(f"{path}: {why}" for path, why in refused) + f" (moved to {kept})")
    folder = staging_dir(settings, source)
    taken = []
    for path in _wait_until_settled(waiting, say):
        copied = _take(path, folder)
        if copied is None:
            say(f"{path.name} changed while it was being taken; left in the inbox for the next refresh")
            continue
        taken.append((path, *copied))
        failpoints.reached("inbox:copied")
    if not taken:
        return []
    _add_to_record(settings, source, run_id, [entry for _, entry, _ in taken])
    failpoints.reached("inbox:recorded")
    for path, _, identity in taken:
        if identity == _identity(os.lstat(path)):
            path.unlink()
        else:
            say(f"{path.name} changed after it was taken; the new version stays in the inbox for the next refresh")
    return [entry for _, entry, _ in taken]


def _reject_entries(settings: Settings, source: str, refused: list[tuple[Path, str]]) -> Path:
    """Move refused inbox entries (links as links) into a rejected/ folder with the reasons."""
    target = _new_rejected_folder(settings, source)
    target.mkdir(parents=True)
    write_atomic(target / REASON_FILE, "".join(f"{now()} refused {path.name}: {why}\n" for path, why in refused))
    for path, _ in refused:
        os.replace(path, target / path.name)
    fsync(target)
    return target


def _new_rejected_folder(settings: Settings, source: str) -> Path:
    target = rejected_dir(settings, source) / now().replace(":", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    while target.exists():
        target = target.with_name(target.name + "_")
    return target


# ---- promotion and rejection ------------------------------------------------------------------


def promote(settings: Settings, spec: SourceSpec) -> list[str]:
    """Make the staged files snapshots of ``spec``'s source; the ones they replace move to superseded/.

    The plan is written first; every step below checks what is already done, so running this again
    after a crash at any point completes the same promotion."""
    folder = staging_dir(settings, spec.name)
    record = _record(settings, spec.name)
    if not record:
        return []
    target = settings.snapshots_dir / spec.name
    plan = _promotion_plan(folder, target, spec, record)
    archive = target / plan["archive"]
    moved = [SnapshotFile(**entry) for entry in plan["moves"]]
    if moved:
        SourceProvenance.from_dict({**plan["provenance"], "files": [asdict(entry) for entry in moved]}).save(archive)
    for entry in moved:
        old = target / entry.file
        if old.is_file() and sha256_of(old) == entry.sha256:
            os.replace(old, archive / entry.file)
            failpoints.reached("promote:moved-aside")
    for entry in record["files"]:
        placed = target / entry["file"]
        if not (placed.is_file() and sha256_of(placed) == entry["sha256"]):
            copy_atomic(folder / entry["file"], placed)
            failpoints.reached("promote:placed")
    SourceProvenance.from_dict(plan["provenance"]).save(target)
    fsync(target)
    failpoints.reached("promote:recorded")
    _retire(folder)
    return [entry["file"] for entry in record["files"]]


def _promotion_plan(folder: Path, target: Path, spec: SourceSpec, record: dict) -> dict:
    """The promotion's plan, as written when it began, or made and written now."""
    path = folder / PROMOTION_RECORD
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    provenance = SourceProvenance.load(target)
    filled = set().union(*(spec.fills(folder / entry["file"]) for entry in record["files"]))
    staged_names = {entry["file"] for entry in record["files"]}
    moves = [entry for entry in provenance.files if spec.slot(target / entry.file) in filled]
    kept = [entry for entry in provenance.files if entry not in moves and entry.file not in staged_names]
    provenance.files = kept + [SnapshotFile(**entry) for entry in record["files"]]
    stamp = record["files"][0]["date_accessed"].replace(":", "")
    plan = {
        "archive": f"{SUPERSEDED_DIR}/{stamp}",
        "moves": [asdict(entry) for entry in moves],
        "provenance": provenance.to_dict(),
    }
    _write_json(path, plan)
    return plan


def _retire(folder: Path) -> None:
    """Remove a finished staging folder: renamed away first, so it is gone from its place at once."""
    retired = folder.with_name(f"{_RETIRED_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}")
    os.replace(folder, retired)
    fsync(folder.parent)
    shutil.rmtree(retired)


def promotion_started(settings: Settings, source: str) -> bool:
    return (staging_dir(settings, source) / PROMOTION_RECORD).is_file()


def reject(settings: Settings, source: str, reason: str) -> Path | None:
    """Keep what a failed refresh staged, with the reason, and clear the staging area. A set whose
    promotion began was published: it is never rejected."""
    folder = staging_dir(settings, source)
    if not folder.exists() or promotion_started(settings, source):
        return None
    write_atomic(folder / REASON_FILE, f"{now()} rejected: {reason}\n")
    target = _new_rejected_folder(settings, source)
    os.replace(folder, target)
    fsync(target.parent)
    return target


def sweep_leftovers(settings: Settings, sources: list[str]) -> list[Path]:
    """What killed writes left: temporary files in the snapshot and staging folders, and staging
    folders retired but not yet removed. Only ever called by the refresh that holds the build area."""
    removed = []
    for source in sources:
        removed += sweep(settings.snapshots_dir / source) + sweep(staging_dir(settings, source))
    staging_root = settings.build_dir / "staging"
    for retired in staging_root.glob(f"{_RETIRED_PREFIX}*") if staging_root.is_dir() else []:
        shutil.rmtree(retired, ignore_errors=True)
        removed.append(retired)
    return removed


def intake_line(name: str, staged: list) -> str:
    return f"{name}: {len(staged)} new file(s) staged" if staged else f"{name}: nothing new to take in"
