"""What the warehouse knows of one upstream source, as the one record its package exports (SPEC).

Its snapshots and raw assets, their gates, jobs, schedules, sensors, the `warehouse` command's
choices and `warehouse status` are all derived from these records (orchestration/sources/registry.py),
so adding a source means one package with its SPEC, parser, live client and loader, its suites
under expectations/, and its staging models in dbt. A source package imports nothing of the layers
above it (tests/test_layers.py): it is handed what it needs (a LoadRequest) and hands back data.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orchestration.settings import Settings
from orchestration.sources.files import IncomingFile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from orchestration.sources.files import SnapshotSet

T = TypeVar("T")

# What a live check is given: the settings, the snapshot set it would change, and a logger.
Fetch = Callable[[Settings, "SnapshotSet", Callable[[str], None]], list[IncomingFile]]


@dataclass(frozen=True)
class RawTable:
    name: str  # raw.<name> in the build database; its asset is raw/<name>
    description: str
    suite: str | None = None  # the module of its Great Expectations suite, a blocking gate; None: no suite


@dataclass(frozen=True)
class LoadRequest:
    """What a source's loader is given: the build database, the settings, and the snapshot set to load."""

    connection: duckdb.DuckDBPyConnection
    settings: Settings
    snapshot_set: SnapshotSet
    merge: bool  # its tables hold an earlier load by this code: only what changed need be rewritten


@dataclass(frozen=True)
class Loaded:
    """What a loader hands back: whole tables to swap in (or none, when it wrote them itself),
    extra metadata per table for the UI, and one line for the console."""

    message: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    metadata: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    description: str  # of its snapshots asset
    kinds: frozenset[str]
    cron: str  # when its scheduled refresh runs (UTC)
    cadence: str  # the same, in words
    fresh_for: timedelta  # older than this since the last successful load: overdue
    raw_tables: tuple[RawTable, ...]  # what its loader fills, all from one snapshot set
    upstream: str  # what its live check looks at, in words
    file_names: str  # a regular expression: the whole names its snapshot files may have; nothing else is taken in
    names_help: str  # the same, in words, for the message that refuses a name
    slot: Callable[
        [Path], str | None
    ]  # which snapshot a file fills; the same slot replaces it (None: not a file of this source)
    check_file: Callable[[Path, Settings], None]  # the parser's verdict on an incoming file; raises saying why
    fetch: Fetch  # what is new upstream, as files to stage; [] when nothing is
    load: Callable[[LoadRequest], Loaded]  # fills its raw tables from a snapshot set
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


def setting(env: str, default: Any) -> Any:
    """A field of a source's Options: its default, and the environment variable that overrides it."""
    return field(default=default, metadata={"env": env})


def options_of(settings: Settings, name: str, options_type: type[T]) -> T:
    """Source ``name``'s options: as ``settings.sources`` gives them (a test, the benchmark), else
    each field from its environment variable where set, else its default."""
    given = settings.sources.get(name)
    if given is not None:
        return given
    values = {}
    for option in fields(options_type):
        raw = os.environ.get(option.metadata["env"])
        if raw is not None:
            values[option.name] = Path(raw).resolve() if isinstance(option.default, Path) else raw
    return options_type(**values)
