"""What the warehouse keeps of its publications, so that no refresh opens the published file, and
each publication stays citable by its id.

An analyst's client may hold ``warehouse.duckdb`` open read-write, which locks it against every
other process; a refresh therefore learns all it needs from the build area and publishes by a rename:

- ``build/publication.json``: the run that published, when, the code, and each input's snapshot
  fingerprint and load time;
- ``build/publication.duckdb``: a copy of the published file, the base the next publication patches
  and what the report, the gates and `warehouse status` read;
- ``build/publishing.json``: while a new file is being renamed into place, its inode, so the next
  refresh can tell whether a killed publication took effect (orchestration/publishing/published_file.py).

Beside the published file, ``publications/`` keeps the last few publications as they were
published (``WAREHOUSE_KEEP_PUBLICATIONS``): ``<id>.duckdb``, read-only and never opened for
writing, and ``<id>.json``, its record. The served door and ``warehouse query --publication`` read
them; nothing ever changes one, so a citation of an id keeps meaning the same numbers.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from orchestration.durable import write_atomic
from orchestration.settings import Settings

RECORD = "publication.json"
INTENT = "publishing.json"
COPY = "publication.duckdb"
# An id is when it was published (UTC, to the second) and the run that published it: readable in a
# citation, sorted by time, and never a path (it is checked against this before it names a file).
_ID = re.compile(r"\d{8}-\d{6}-[0-9a-z]{1,8}")


class UnknownPublication(LookupError):
    """An id that is not one of the publications kept."""


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: str  # ISO 8601, UTC
    code_fingerprint: str
    inputs: dict[str, dict[str, str]]  # source -> {"fingerprint", "loaded_at"}
    inode: int = 0  # of the published file it describes
    copy: str = ""  # the build area's copy of it, in build/

    @property
    def id(self) -> str:
        return publication_id(datetime.fromisoformat(self.published_at), self.run_id)

    def fingerprints(self) -> dict[str, str]:
        return {source: values["fingerprint"] for source, values in self.inputs.items()}


def publication_id(published_at: datetime, run_id: str) -> str:
    return f"{published_at:%Y%m%d-%H%M%S}-{run_id.replace('-', '')[:8].lower()}"


def copy_path(settings: Settings) -> Path:
    """The build area's copy of the published file: what a refresh or `warehouse status` reads of it."""
    return settings.build_dir / COPY


def _load(path: Path) -> Publication | None:
    if not path.is_file():
        return None
    fields = json.loads(path.read_text(encoding="utf-8"))
    fields.pop("id", None)  # kept in the file for readers; derived here
    return Publication(**fields)


def last(settings: Settings) -> Publication | None:
    return _load(settings.build_dir / RECORD)


def save(settings: Settings, name: str, publication: Publication) -> None:
    write_atomic(settings.build_dir / name, _json(publication))


def intended(settings: Settings) -> Publication | None:
    return _load(settings.build_dir / INTENT)


def _json(publication: Publication) -> str:
    return json.dumps({"id": publication.id, **asdict(publication)}, indent=2) + "\n"


def find(settings: Settings, publication_id: str) -> Publication:
    """The kept publication of this id; UnknownPublication, naming those kept, unless there is one."""
    path = settings.publications_dir / f"{publication_id}.json"
    record = _load(path) if _ID.fullmatch(publication_id) and path.with_suffix(".duckdb").is_file() else None
    if record is None:
        known = ", ".join(p.id for p in kept(settings)) or "none yet"
        raise UnknownPublication(f"no publication {publication_id!r} is kept; those kept: {known}")
    return record


def kept_file(settings: Settings, publication: Publication) -> Path:
    return settings.publications_dir / f"{publication.id}.duckdb"


def current(settings: Settings) -> Publication:
    """The publication now in ``warehouse.duckdb``, as kept under its id."""
    publication = last(settings)
    if publication is None:
        raise UnknownPublication(f"nothing is published in {settings.home} yet: run `warehouse refresh` first")
    return find(settings, publication.id)


def kept(settings: Settings) -> list[Publication]:
    """The publications kept, newest first."""
    records = [_load(path) for path in settings.publications_dir.glob("*.json") if _ID.fullmatch(path.stem)]
    return sorted((r for r in records if r is not None), key=lambda r: r.published_at, reverse=True)


def keep_record(settings: Settings, publication: Publication) -> None:
    """List a publication whose file is in place among those kept."""
    write_atomic(settings.publications_dir / f"{publication.id}.json", _json(publication))
