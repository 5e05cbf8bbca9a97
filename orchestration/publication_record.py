"""What the build area keeps of the last publication, so that no refresh opens the published file.

An analyst's client may hold ``warehouse.duckdb`` open read-write, which locks it against every
other process; a refresh therefore learns all it needs from here and publishes by a rename:

- ``build/publication.json``: the run that published, when, the code, and each input's snapshot
  fingerprint and load time;
- ``build/publication.duckdb``: a copy of the published file, the base the next publication patches
  and what the report, the gates and `warehouse status` read;
- ``build/publishing.json``: while a new file is being renamed into place, its inode, so the next
  refresh can tell whether a killed publication took effect (orchestration/publishing.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestration.durable import write_atomic
from orchestration.settings import Settings

RECORD = "publication.json"
INTENT = "publishing.json"
COPY = "publication.duckdb"


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: str
    code_fingerprint: str
    inputs: dict[str, dict[str, str]]  # source -> {"fingerprint", "loaded_at"}
    inode: int = 0  # of the published file it describes
    copy: str = ""  # the build area's copy of it, in build/

    def fingerprints(self) -> dict[str, str]:
        return {source: values["fingerprint"] for source, values in self.inputs.items()}


def copy_path(settings: Settings) -> Path:
    """The build area's copy of the published file: what a refresh or `warehouse status` reads of it."""
    return settings.build_dir / COPY


def _read(settings: Settings, name: str) -> Publication | None:
    path = settings.build_dir / name
    return Publication(**json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def last(settings: Settings) -> Publication | None:
    return _read(settings, RECORD)


def save(settings: Settings, name: str, publication: Publication) -> None:
    write_atomic(settings.build_dir / name, json.dumps(asdict(publication), indent=2) + "\n")


def intended(settings: Settings) -> Publication | None:
    return _read(settings, INTENT)
