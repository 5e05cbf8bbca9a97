"""The publications the served door has open: one sandboxed, read-only DuckDB database per
publication in use, and a cursor of it per request, so queries run side by side.

A request leases the publication it reads and gives the lease back explicitly, on every path, when
its last byte is sent or it fails (app.py): never from a finalizer, whose timing belongs to the
garbage collector. A refresh that publishes meanwhile changes only which publication the next
request leases. A database that no lease holds and that is not the current publication is closed,
when its last lease ends or when ``retire`` notices a new publication, so a file retention removed
is never held open for long.

The lock guards the table of open databases and its counts, and nothing else: no database is
opened or closed, and no other code runs, while it is held.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import duckdb

from orchestration import publications
from orchestration.analysts.catalog import Table, catalog
from orchestration.analysts.sandbox import connect
from orchestration.publications import Publication
from orchestration.settings import Settings


@dataclass
class _Open:
    publication: Publication
    database: duckdb.DuckDBPyConnection
    leases: int = 0
    tables: list[Table] = field(default_factory=list)


class Lease:
    """A publication held open for one request, with a cursor of its own."""

    def __init__(self, owner: OpenPublications, entry: _Open):
        self._owner, self._entry = owner, entry
        self.publication = entry.publication
        self.cursor = entry.database.cursor()
        self._closed = False

    def catalog(self) -> list[Table]:
        """The publication's tables; computed once, as a publication never changes."""
        if not self._entry.tables:
            self._entry.tables = catalog(self.cursor)
        return self._entry.tables

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.cursor.close()
        self._owner.give_back(self._entry)


class OpenPublications:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._current: tuple[tuple[int, int] | None, Publication | None] = (None, None)

    def lease(self, publication_id: str | None = None) -> Lease:
        """The current publication, or the kept one of this id (UnknownPublication if none is kept)."""
        publication = publications.find(self._settings, publication_id) if publication_id else self.current()
        entry = self._take(publication)
        try:
            return Lease(self, entry)
        except BaseException:
            self.give_back(entry)
            raise

    def _take(self, publication: Publication) -> _Open:
        with self._lock:
            entry = self._open.get(publication.id)
            if entry is not None:
                entry.leases += 1
                return entry
        database = connect(publications.kept_file(self._settings, publication))
        with self._lock:
            entry = self._open.get(publication.id)
            if entry is None:
                entry = self._open[publication.id] = _Open(publication, database)
                database = None
            entry.leases += 1
        if database is not None:  # another request opened it meanwhile
            database.close()
        return entry

    def give_back(self, entry: _Open) -> None:
        with self._lock:
            entry.leases -= 1
        self.retire()

    def current(self) -> Publication:
        """The current publication, read again only when its record was replaced (a new publication)."""
        try:
            info = publications.record_path(self._settings).stat()
            stamp = (info.st_ino, info.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        known_stamp, publication = self._current
        if stamp is None or publication is None or stamp != known_stamp:
            publication = publications.current(self._settings)
            self._current = (stamp, publication)
        return publication

    def retire(self) -> None:
        """Close every open database that no lease holds, but the current publication's."""
        try:
            keep = self.current().id
        except publications.UnknownPublication:
            keep = None
        with self._lock:
            idle = [key for key, entry in self._open.items() if entry.leases == 0 and key != keep]
            closing = [self._open.pop(key) for key in idle]
        for entry in closing:
            entry.database.close()

    def count(self) -> int:
        return len(self._open)

    def close(self) -> None:
        with self._lock:
            closing = list(self._open.values())
            self._open.clear()
        for entry in closing:
            entry.database.close()
