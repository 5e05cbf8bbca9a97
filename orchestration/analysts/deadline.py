"""The time limit of an analyst query. DuckDB has no statement timeout of its own: a watchdog
thread calls interrupt() once a query's time is spent, and the connection stays usable.

One thread watches every deadline of the process, as a heap of (due, key, callback): a timer
thread per query cost more than answering some queries. Nothing may stop that thread: a callback
that fails (an interrupt that lands on a connection just closed, as a query ends at its deadline)
is logged and the watch goes on, and a watchdog whose thread died anyway starts another.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

from orchestration import limits
from orchestration.analysts.sandbox import QueryRefused

_LOG = logging.getLogger(__name__)


class QueryTimedOut(QueryRefused):
    """A query stopped at the time limit."""


class Watchdog:
    def __init__(self):
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()
        self._cancelled: set[int] = set()
        self._condition = threading.Condition()
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` in ``seconds`` unless disarmed first; returns the key to disarm it by."""
        with self._condition:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="query-time-limits", daemon=True)
                self._thread.start()
            key = next(self._keys)
            self._pending.add(key)
            heapq.heappush(self._due, (time.monotonic() + seconds, key, callback))
            self._condition.notify()
            return key

    def disarm(self, key: int) -> None:
        with self._condition:
            if key in self._pending:  # not yet fired
                self._cancelled.add(key)

    def _watch(self) -> None:
        while True:
            callback = self._next_due()
            try:
                callback()
            except Exception:  # noqa: BLE001 - one failed interrupt must not disarm every later limit
                _LOG.warning("a query's time limit could not interrupt it (it may have just ended)", exc_info=True)

    def _next_due(self) -> Callable[[], None]:
        """Wait for the next deadline that was not disarmed, and take it off the heap."""
        with self._condition:
            while True:
                while self._due and self._due[0][1] in self._cancelled:
                    key = heapq.heappop(self._due)[1]
                    self._cancelled.discard(key)
                    self._pending.discard(key)
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is not None and wait <= 0:
                    _, key, callback = heapq.heappop(self._due)
                    self._pending.discard(key)
                    return callback
                self._condition.wait(wait)


WATCHDOG = Watchdog()


class TimeLimit:
    """DuckDB's time on one query, summed over the calls that run it (not the time a client takes to
    read what it streams)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection, self.limit, self.spent = connection, limits.QUERY_TIMEOUT_S.value(), 0.0
        self._stopped = threading.Event()
        # The watchdog interrupts only while a call runs: never a cursor its owner is closing after it.
        self._calling = threading.Lock()
        self._running = False

    @contextmanager
    def running(self) -> Iterator[None]:
        """A call into DuckDB, interrupted once the query's time is spent: then QueryTimedOut."""
        with self._calling:
            self._running = True
        alarm = WATCHDOG.arm(max(self.limit - self.spent, 0.0), self._stop)
        started = time.perf_counter()
        try:
            yield
        except (duckdb.InterruptException, OSError):  # OSError: an interrupt seen through an Arrow stream
            if not self._stopped.is_set():
                raise
            raise self._refusal() from None
        finally:
            WATCHDOG.disarm(alarm)
            with self._calling:
                self._running = False
            self.spent += time.perf_counter() - started
        if self._stopped.is_set():  # an interrupted Arrow stream may simply end: never take it for the whole result
            raise self._refusal()

    def _stop(self) -> None:
        with self._calling:
            if not self._running:  # the call ended as its deadline came
                return
            self._stopped.set()
            self.connection.interrupt()

    def _refusal(self) -> QueryTimedOut:
        return QueryTimedOut(
            f"the query ran past the time limit of {self.limit:g} s and was stopped "
            f"({limits.QUERY_TIMEOUT_S.env} sets the limit)"
        )
