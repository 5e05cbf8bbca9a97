"""Admission: at most WAREHOUSE_SERVE_MAX_QUERIES queries run at once in the served door. A place
that frees goes first to a client (its address) below its fair share, the limit divided among the
clients running or waiting (at least one each); among those, to the one with the fewest running,
then to the one served longest ago: round robin, so a client with many queries queued cannot keep
taking the place its last one left. No place stays idle while a query waits. A query that waits
WAREHOUSE_SERVE_QUEUE_S without a place is refused with 503 and a Retry-After of the query time
limit, by when every query now running has ended; a download's later pieces wait as long as it takes.

It lives in the event loop (no thread lock): a slot is taken before a query's work is handed to a
thread, and given back when that work returns, whichever way it ends.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count

import anyio

from orchestration import limits

# Clients whose last turn is remembered; one forgotten counts as served longest ago.
_REMEMBERED = 4096


class Busy(Exception):
    """No slot within the wait: the answer is 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class _Waiter:
    client: str
    order: int
    granted: anyio.Event = field(default_factory=anyio.Event)


class Admission:
    def __init__(self):
        self._running: Counter[str] = Counter()
        self._waiting: list[_Waiter] = []
        self._arrivals = count()
        self._grants = count()
        self._last_granted: dict[str, int] = {}

    @property
    def running(self) -> int:
        return sum(self._running.values())

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def slot(self, client: str, patient: bool = False) -> AsyncIterator[None]:
        """A place for ``client``'s work; ``patient``, it waits without the queue's limit."""
        await self._acquire(client, None if patient else limits.SERVE_QUEUE_S.value())
        try:
            yield
        finally:
            self._release(client)

    async def _acquire(self, client: str, wait: float | None) -> None:
        waiter = _Waiter(client, next(self._arrivals))
        self._waiting.append(waiter)
        self._dispatch()
        try:
            with anyio.move_on_after(wait if wait is not None else math.inf):
                await waiter.granted.wait()
        except BaseException:  # the request was cancelled while it waited
            self._leave(waiter)
            raise
        if not waiter.granted.is_set():
            self._leave(waiter)
            raise Busy(
                f"the warehouse is busy: {limits.SERVE_MAX_QUERIES.value()} queries are running "
                f"({limits.SERVE_MAX_QUERIES.env}) and this one waited {wait:g} s ({limits.SERVE_QUEUE_S.env}); try again",
                retry_after=max(1, math.ceil(limits.QUERY_TIMEOUT_S.value())),
            )

    def _leave(self, waiter: _Waiter) -> None:
        """A waiter that goes: the slot it was granted meanwhile, or its place in the queue."""
        if waiter.granted.is_set():
            self._release(waiter.client)
        else:
            self._waiting.remove(waiter)
            self._dispatch()  # one client fewer may raise the others' share

    def _release(self, client: str) -> None:
        self._running[client] -= 1
        if not self._running[client]:
            del self._running[client]
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant places while there are free ones and waiters: first to a client below its share."""
        capacity = max(1, limits.SERVE_MAX_QUERIES.value())
        while self._waiting and self.running < capacity:
            clients = set(self._running) | {waiter.client for waiter in self._waiting}
            share = max(1, capacity // len(clients))
            chosen = min(
                self._waiting,
                key=lambda w: (
                    self._running[w.client] >= share,
                    self._running[w.client],
                    self._last_granted.get(w.client, -1),
                    w.order,
                ),
            )
            self._waiting.remove(chosen)
            self._running[chosen.client] += 1
            self._last_granted[chosen.client] = next(self._grants)
            if len(self._last_granted) > _REMEMBERED:  # forget the clients served longest ago
                for client in sorted(self._last_granted, key=self._last_granted.get)[: _REMEMBERED // 2]:
                    del self._last_granted[client]
            chosen.granted.set()
