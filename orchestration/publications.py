"""Publications: what the warehouse keeps of each one, so that no refresh opens the published file,
and each publication stays citable by its id.

An analyst's client may hold ``warehouse.duckdb`` open read-write, which locks it against every
other process; a refresh therefore learns all it needs from the build area and publishes by a
rename (write-audit-publish and its recovery: orchestration/publishing/published_file.py). In the
build area:

- ``build/publication.json`` (``record_path``): the record of what ``warehouse.duckdb`` holds now,
  the newest publication: the run that published, when, the code, and each input's snapshot
  fingerprint and load time;
- ``build/publication.duckdb`` (``copy_path``): a copy of the published file, the base the next
  publication patches and what the report, the gates and `warehouse status` read;
- ``build/publishing.json`` (``pending``): while a new file is being renamed into place, its record
  and inode, so the next refresh can tell whether a killed publication took effect.

Beside the published file, ``publications/`` keeps the last few publications as they were
published: ``<id>.duckdb`` (``kept_file``), read-only and never opened for writing, and ``<id>.json``,
its record. A publication is kept once both are there (``keep``); a file without its record is a
leftover of a killed publication. The served door and ``warehouse query --publication`` read them;
nothing ever changes one, so a citation of an id keeps meaning the same numbers. ``retire`` is the one
place that decides which go: the unpinned ones beyond ``WAREHOUSE_KEEP_PUBLICATIONS``, never the
current one, never a pinned one. ``pin`` records ``<id>.pin.json`` beside it (why, and when), so
that a publication cited in a paper outlives retention; ``unpin`` gives it back to retention.
Keeping, pinning and retiring take ``publications/.lock`` in turn, so a pin never lands on a
publication being removed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from orchestration import durable, limits
from orchestration.durable import fsync, write_atomic
from orchestration.settings import Settings

# An id is when it was published (UTC, to the second) and the run that published it: readable in a
# citation, sorted by time, and never a path (it is checked against this before it names a file).
_ID = re.compile(r"\d{8}-\d{6}-[0-9a-z]{1,8}")


class UnknownPublication(LookupError):
    """An id that is not one of the publications kept, or nothing published yet."""


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: str  # ISO 8601, UTC
    code_fingerprint: str
    inputs: dict[str, dict[str, str]]  # source -> {"fingerprint", "loaded_at"}
    inode: int = 0  # of the published file it describes
    copy: str = ""  # the build area's copy of it, in build/
    replaces: str = ""  # the id of the publication it replaced; "" for the first
    changes: dict = field(default_factory=dict)  # what changed since that one: publishing/diff.py's summary

    @property
    def id(self) -> str:
        return publication_id(datetime.fromisoformat(self.published_at), self.run_id)

    def fingerprints(self) -> dict[str, str]:
        return {source: values["fingerprint"] for source, values in self.inputs.items()}


def publication_id(published_at: datetime, run_id: str) -> str:
    return f"{published_at:%Y%m%d-%H%M%S}-{run_id.replace('-', '')[:8].lower()}"


def is_id(text: str) -> bool:
    """Whether ``text`` has the form of a publication id (and so names no path)."""
    return _ID.fullmatch(text) is not None


# The layout: the build area's files.


def record_path(settings: Settings) -> Path:
    """``build/publication.json``: the record of what ``warehouse.duckdb`` holds now; replaced whole
    when a new publication is in place (the served door stats it to notice one)."""
    return settings.build_dir / "publication.json"


def copy_path(settings: Settings) -> Path:
    """``build/publication.duckdb``: the build area's copy of the published file, what a refresh or
    `warehouse status` reads of it."""
    return settings.build_dir / "publication.duckdb"


def pending_path(settings: Settings) -> Path:
    """``build/publishing.json``: the record of a publication being renamed into place."""
    return settings.build_dir / "publishing.json"


# The build area's records.


def newest(settings: Settings) -> Publication | None:
    """The record of the file published now; None before the first publication."""
    return _load(record_path(settings))


def pending(settings: Settings) -> Publication | None:
    """A publication being renamed into place, or killed while it was; None otherwise."""
    return _load(pending_path(settings))


def write_record(settings: Settings, publication: Publication) -> None:
    """Record ``publication`` as the one ``warehouse.duckdb`` holds now."""
    write_atomic(record_path(settings), _json(publication))


def write_pending(settings: Settings, publication: Publication) -> None:
    """Record ``publication`` as about to be renamed into place."""
    write_atomic(pending_path(settings), _json(publication))


def clear_pending(settings: Settings) -> None:
    pending_path(settings).unlink(missing_ok=True)


# The publications kept.


def kept_file(settings: Settings, publication: Publication) -> Path:
    """``publications/<id>.duckdb``: the publication's file, as published."""
    return _kept_path(settings, publication.id, ".duckdb")


def kept(settings: Settings) -> list[Publication]:
    """The publications kept, newest first."""
    records = [_load(path) for path in settings.publications_dir.glob("*.json") if is_id(path.stem)]
    return sorted((r for r in records if r is not None), key=lambda r: r.published_at, reverse=True)


def is_kept(settings: Settings, publication: Publication) -> bool:
    return all(_kept_path(settings, publication.id, suffix).is_file() for suffix in (".json", ".duckdb"))


def find(settings: Settings, publication_id: str) -> Publication:
    """The kept publication of this id; UnknownPublication, naming those kept, unless there is one."""
    record = None
    if is_id(publication_id) and _kept_path(settings, publication_id, ".duckdb").is_file():
        record = _load(_kept_path(settings, publication_id, ".json"))
    if record is None:
        known = ", ".join(p.id for p in kept(settings)) or "none yet"
        raise UnknownPublication(f"no publication {publication_id!r} is kept; those kept: {known}")
    return record


def current(settings: Settings) -> Publication:
    """The publication now in ``warehouse.duckdb``, as kept under its id."""
    publication = newest(settings)
    if publication is None:
        raise UnknownPublication(f"nothing is published in {settings.home} yet: run `warehouse refresh` first")
    return find(settings, publication.id)


def keep(settings: Settings, file: Path, publication: Publication) -> None:
    """Keep ``publication``: ``file``, as published, linked read-only as ``publications/<id>.duckdb``
    (no bytes copied: nothing writes the file again), then its record listed beside it. A link a
    killed attempt left under the same id is replaced."""
    target = kept_file(settings, publication)
    with _locked(settings):
        file.chmod(0o444)
        if not (target.exists() and target.samefile(file)):
            target.unlink(missing_ok=True)
            os.link(file, target)
            fsync(target.parent)
        write_atomic(_kept_path(settings, publication.id, ".json"), _json(publication))


def retire(settings: Settings) -> None:
    """Remove the unpinned publications beyond the newest ``WAREHOUSE_KEEP_PUBLICATIONS`` (the
    current one and the pinned ones always stay, and count for nothing), and any file a killed
    publication left unlisted. A reader that has one open keeps reading it: the name goes, the file
    goes when the reader closes it. The one place that decides which publications go."""
    if not settings.publications_dir.is_dir():
        return
    with _locked(settings):
        pinned = pins(settings)
        unpinned = [p for p in kept(settings) if p.id not in pinned]
        staying = {p.id for p in unpinned[: keep_count()]}
        now = newest(settings)
        if now is not None:
            staying.add(now.id)
        for publication in unpinned:
            if publication.id not in staying:  # unlisted first: find() no longer names it
                _kept_path(settings, publication.id, ".json").unlink()
        for file in settings.publications_dir.glob("*.duckdb"):
            if not file.with_suffix(".json").exists():
                file.unlink()
        fsync(settings.publications_dir)


def keep_count() -> int:
    """How many unpinned publications retention keeps: ``WAREHOUSE_KEEP_PUBLICATIONS``, at least 1."""
    return max(1, limits.KEEP_PUBLICATIONS.value())


# Pins: publications kept whatever retention says.


@dataclass(frozen=True)
class Pin:
    reason: str
    pinned_at: str  # ISO 8601, UTC


def pins(settings: Settings) -> dict[str, Pin]:
    """The pinned publications' ids, with why and when each was pinned."""
    found = {}
    for path in settings.publications_dir.glob("*.pin.json") if settings.publications_dir.is_dir() else []:
        publication_id = path.name.removesuffix(".pin.json")
        if is_id(publication_id):
            fields = json.loads(path.read_text(encoding="utf-8"))
            found[publication_id] = Pin(fields["reason"], fields["pinned_at"])
    return found


def pin(settings: Settings, publication_id: str, reason: str) -> tuple[Pin, bool]:
    """Pin the kept publication ``publication_id``: retention never removes it. Returns its pin and
    whether this call made it (pinning a pinned publication changes nothing, its first reason stays).
    UnknownPublication, naming those kept, for any other id; nothing is written then."""
    if not reason.strip():
        raise ValueError("say why the publication is pinned (--reason): the pin records it for whoever finds it later")
    find(settings, publication_id)  # refused before anything, even the lock, is written
    with _locked(settings):
        publication = find(settings, publication_id)
        existing = pins(settings).get(publication.id)
        if existing is not None:
            return existing, False
        made = Pin(reason.strip(), datetime.now(UTC).isoformat(timespec="seconds"))
        kept_file(settings, publication).chmod(0o444)  # as keep() left it: nothing writes a cited file
        write_atomic(
            _pin_path(settings, publication.id), json.dumps({"id": publication.id, **asdict(made)}, indent=2) + "\n"
        )
        return made, True


def unpin(settings: Settings, publication_id: str) -> Pin | None:
    """Give the kept publication back to retention (the next publication retires it if it is beyond
    the newest ``WAREHOUSE_KEEP_PUBLICATIONS``). Returns the pin removed; None if it was not pinned."""
    find(settings, publication_id)
    with _locked(settings):
        publication = find(settings, publication_id)
        existing = pins(settings).get(publication.id)
        if existing is not None:
            _pin_path(settings, publication.id).unlink()
            fsync(settings.publications_dir)
        return existing


def sweep(settings: Settings) -> list[Path]:
    """The temporary files a killed write left in ``publications/``, removed under its lock (a pin
    may be writing its own meanwhile)."""
    if not settings.publications_dir.is_dir():
        return []
    with _locked(settings):
        return durable.sweep(settings.publications_dir)


def _pin_path(settings: Settings, publication_id: str) -> Path:
    return _kept_path(settings, publication_id, ".pin.json")


def _locked(settings: Settings) -> FileLock:
    settings.publications_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(settings.publications_dir / ".lock")


def _kept_path(settings: Settings, publication_id: str, suffix: str) -> Path:
    return settings.publications_dir / f"{publication_id}{suffix}"


def _load(path: Path) -> Publication | None:
    if not path.is_file():
        return None
    fields = json.loads(path.read_text(encoding="utf-8"))
    fields.pop("id", None)  # kept in the file for readers; derived here
    return Publication(**fields)


def _json(publication: Publication) -> str:
    return json.dumps({"id": publication.id, **asdict(publication)}, indent=2) + "\n"
