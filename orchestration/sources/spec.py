"""What the warehouse knows of one upstream source, as the one record its package exports (SPEC).

Jobs, schedules, sensors, the `warehouse` command's choices and `warehouse status` are all derived
from these records (orchestration/sources/registry.py), so adding a source means one package with
its SPEC, parser, live client and raw assets, plus its staging models in dbt.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.settings import Settings
from orchestration.sources.snapshots import IncomingFile

if TYPE_CHECKING:
    from orchestration.sources.staging import SnapshotSet

# What a live check is given: the settings, the snapshot set it would change, and a logger.
Fetch = Callable[[Settings, "SnapshotSet", Callable[[str], None]], list[IncomingFile]]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    description: str  # of its snapshots asset
    kinds: frozenset[str]
    cron: str  # when its scheduled refresh runs (UTC)
    cadence: str  # the same, in words
    fresh_for: timedelta  # older than this since the last successful load: overdue
    raw_tables: tuple[str, ...]  # "raw/<table>": its raw assets, each gated by expectations/<table>.py
    upstream: str  # what its live check looks at, in words
    file_names: str  # a regular expression: the whole names its snapshot files may have; nothing else is taken in
    names_help: str  # the same, in words, for the message that refuses a name
    slot: Callable[
        [Path], str | None
    ]  # which snapshot a file fills; the same slot replaces it (None: not a file of this source)
    check_file: Callable[[Path, Settings], None]  # the parser's verdict on an incoming file; raises saying why
    fetch: Fetch  # what is new upstream, as files to stage; [] when nothing is
    covers: Callable[[Path], frozenset[str]] | None = None  # slots a file fills besides its own (a zip of many series)

    def accepts(self, name: str) -> bool:
        """Whether ``name`` may be a snapshot file of this source: the rule's letters only, so no
        quote, space or path separator ever reaches a parser, a log line or SQL."""
        return re.fullmatch(self.file_names, name) is not None

    def fills(self, path: Path) -> frozenset[str]:
        """Every slot ``path`` fills: a staged file supersedes the committed files whose slot is among them."""
        return (frozenset({self.slot(path)}) | (self.covers(path) if self.covers else frozenset())) - {None}


def lazy(module: str, name: str) -> Callable:
    """``module.name``, imported on first call: a spec is read by `warehouse --help` and the
    registry, which should not pay for pandas, DuckDB and HTTP clients they do not use."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return call
