"""The publications the served door has open: one sandboxed, read-only DuckDB database per
publication in use, and one cursor of it per request, so queries run side by side.

A query leases the publication it runs on and keeps it until its last row is sent: a refresh that
publishes meanwhile changes only which publication the next query leases. A publication that is no
longer the current one is closed once its last lease ends; asked for by id later, it is reopened.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import duckdb

from orchestration import publication_record
from orchestration.analysts import query as analyst
from orchestration.publication_record import Publication
from orchestration.settings import Settings


@dataclass
class _Open:
    publication: Publication
    database: duckdb.DuckDBPyConnection
    leases: int = 0
    catalog: list[analyst.Table] = field(default_factory=list)


class Lease:
    """A publication held open for one request, with a cursor of its own."""

    def __init__(self, owner: OpenPublications, entry: _Open):
        self._owner, self._entry = owner, entry
        self.publication = entry.publication
        self.cursor = entry.database.cursor()

    def catalog(self) -> list[analyst.Table]:
        """The publication's tables; computed once, as a publication never changes."""
        if not self._entry.catalog:
            self._entry.catalog = analyst.catalog(self.cursor)
        return self._entry.catalog

    def close(self) -> None:
        self.cursor.close()
        self._owner.release(self._entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class OpenPublications:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._current_publication: Publication | None = None
        self._current_stamp: tuple[int, int] | None = None

    def lease(self, publication_id: str | None = None) -> Lease:
        """The current publication, or the kept one of this id (UnknownPublication if none is kept)."""
        publication = publication_record.find(self._settings, publication_id) if publication_id else self._current()
        with self._lock:
            entry = self._open.get(publication.id)
            if entry is None:
                path = publication_record.kept_file(self._settings, publication)
                entry = self._open[publication.id] = _Open(publication, analyst.connect(path))
            entry.leases += 1
        try:
            return Lease(self, entry)
        except BaseException:
            self.release(entry)
            raise

    def _current(self) -> Publication:
        """The current publication, read again only when its record was replaced (a new publication)."""
        record = self._settings.build_dir / publication_record.RECORD
        try:
            info = record.stat()
            stamp = (info.st_ino, info.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if stamp is None or self._current_stamp != stamp:
            self._current_publication, self._current_stamp = publication_record.current(self._settings), stamp
        return self._current_publication

    def release(self, entry: _Open) -> None:
        current = self._current_publication
        with self._lock:
            entry.leases -= 1
            for key, other in list(self._open.items()):
                if other.leases == 0 and (current is None or key != current.id):
                    del self._open[key]
                    other.database.close()

    def close(self) -> None:
        with self._lock:
            for entry in self._open.values():
                entry.database.close()
            self._open.clear()
