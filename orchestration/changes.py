"""Change detection: what a refresh has to rebuild, from what the published warehouse was built from.

Each raw asset records the fingerprint of the snapshot set it loaded (raw.loaded_snapshots), and
publishing copies that record into the published file as meta.inputs, next to a fingerprint of the
code (models, gates, parsers, configuration) in meta.publication. A refresh compares them with
what is on disk now: a source whose snapshots are unchanged is skipped, and if nothing changed,
nothing runs. Changed code rebuilds everything, since any model may read any source.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from orchestration.sources.snapshots import SourceProvenance

_CODE = [
    (DBT_PROJECT_DIR, ("models/**/*", "macros/**/*", "tests/**/*", "seeds/**/*", "dbt_project.yml")),
    (PROJECT_ROOT / "orchestration", ("**/*.py",)),
    (PROJECT_ROOT / "expectations", ("**/*.py",)),
    (PROJECT_ROOT / "config", ("*.toml",)),
]


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for root, patterns in _CODE:
        for path in sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()}):
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def snapshot_fingerprint(settings: Settings, source: str) -> str:
    return SourceProvenance.load(settings.snapshots_dir / source).fingerprint()


@dataclass(frozen=True)
class Plan:
    sources: list[str]  # to refresh; empty when everything is current
    reasons: list[str]


def plan(settings: Settings, requested: list[str], always: list[str]) -> Plan:
    """Which of the ``requested`` sources need a refresh; those in ``always`` do regardless (live fetches)."""
    published = _published_inputs(settings.published_db)
    if published is None:
        return Plan(list(requested), ["no published warehouse yet: full refresh"])
    built_from, code = published
    if code != code_fingerprint():
        return Plan(list(requested), ["the code changed since the last publication: full refresh"])
    sources, reasons = [], []
    for source in requested:
        current = snapshot_fingerprint(settings, source)
        if source in always:
            sources.append(source)
            reasons.append(f"{source}: live fetch requested")
        elif built_from.get(source) != current:
            sources.append(source)
            reasons.append(f"{source}: snapshots changed ({(built_from.get(source) or 'none')[:12]} -> {current[:12]})")
        else:
            reasons.append(f"{source}: unchanged since the last publication ({current[:12]}), skipped")
    return Plan(sources, reasons)


def _published_inputs(published: Path) -> tuple[dict[str, str], str] | None:
    if not published.exists():
        return None
    with duckdb.connect(str(published), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("select table_name from duckdb_tables() where schema_name = 'meta'").fetchall()}
        if not {"inputs", "publication"} <= tables:
            return None
        inputs = dict(connection.execute("select source, fingerprint from meta.inputs").fetchall())
        code = connection.execute("select code_fingerprint from meta.publication").fetchall()[0][0]
    return inputs, code
