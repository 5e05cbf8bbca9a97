"""Every limit the warehouse puts on what arrives at its doors, with its default and its setting.

A limit is read from its environment variable each time it is used, so a long-running process (the
Dagster daemon, a served door) takes a changed setting at its next use. docs/operating.md's "Limits and
guarantees" lists these same limits; a test holds the two together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20


class LimitSettingError(ValueError):
    """A limit's environment variable holds something that is not a value of its kind."""


@dataclass(frozen=True)
class Limit:
    env: str
    default: float | int | str
    what: str

    def value(self):
        """The setting from the environment, or the default; a malformed setting names the variable."""
        text = os.environ.get(self.env, "").strip()
        if not text:
            return self.default
        kind = type(self.default)
        try:
            value = kind(text)
        except ValueError:
            raise LimitSettingError(f"{self.env}={text!r}: not a {kind.__name__} ({self.what})") from None
        if isinstance(value, (int, float)) and value < 0:
            raise LimitSettingError(f"{self.env}={text!r}: must not be negative ({self.what})")
        return value


# The analysts' connection (orchestration/analysts/sandbox.py, deadline.py, execution.py).
QUERY_TIMEOUT_S = Limit("WAREHOUSE_QUERY_TIMEOUT_S", 30.0, "seconds one analyst query may run before it is stopped")
QUERY_MAX_ROWS = Limit(
    "WAREHOUSE_QUERY_MAX_ROWS", 100_000, "rows one analyst query returns; the rest are cut off, saying so (0: no limit)"
)
QUERY_MEMORY = Limit(
    "WAREHOUSE_QUERY_MEMORY_LIMIT",
    "1GB",
    "DuckDB memory ceiling of one open publication, shared by the queries running on it at once (no spilling to disk)",
)
QUERY_THREADS = Limit(
    "WAREHOUSE_QUERY_THREADS", 2, "DuckDB threads of one open publication, shared by the queries running on it at once"
)

# The inbox (orchestration/snapshots/staging.py).
INBOX_SETTLE_S = Limit(
    "WAREHOUSE_INBOX_SETTLE_S", 5.0, "seconds a file in the inbox must be unchanged before it is taken"
)
INBOX_WAIT_S = Limit(
    "WAREHOUSE_INBOX_WAIT_S",
    60.0,
    "seconds a refresh waits for an inbox file still being written before leaving it for the next refresh",
)

# Zips (orchestration/sources/worldbank/bulk_zip.py), checked from the zip's directory before any byte is inflated.
ZIP_MAX_BYTES = Limit("WAREHOUSE_ZIP_MAX_BYTES", 8 * GIB, "bytes a zip's members may inflate to, all together")
ZIP_MAX_RATIO = Limit(
    "WAREHOUSE_ZIP_MAX_RATIO", 200.0, "how many times its compressed size a zip member may inflate to"
)

# Live upstreams (orchestration/sources/http.py).
FETCH_DEADLINE_S = Limit(
    "WAREHOUSE_FETCH_DEADLINE_S",
    120.0,
    "seconds one upstream request may take in all: connecting, retries, waits asked by Retry-After, and the body",
)
FETCH_MAX_BYTES = Limit(
    "WAREHOUSE_FETCH_MAX_BYTES", 64 * MIB, "bytes of one upstream answer; a larger one is refused while it streams"
)
FETCH_REDIRECT_HOSTS = Limit(
    "WAREHOUSE_FETCH_REDIRECT_HOSTS",
    "",
    "hosts besides the one asked that an upstream may redirect to (comma-separated; https only)",
)

# The served door (orchestration/analysts/serving/).
SERVE_MAX_BODY_BYTES = Limit(
    "WAREHOUSE_SERVE_MAX_BODY_BYTES",
    1 * MIB,
    "bytes of one request to the served door (its SQL); a larger one is refused",
)

SERVE_MAX_QUERIES = Limit(
    "WAREHOUSE_SERVE_MAX_QUERIES",
    4,
    "queries the served door runs at once; each client (address) runs at most its fair share of them",
)
SERVE_STALL_S = Limit(
    "WAREHOUSE_SERVE_STALL_S",
    60.0,
    "seconds a download waits for its client to take the next piece; past it the download is cut off",
)
SERVE_QUEUE_S = Limit(
    "WAREHOUSE_SERVE_QUEUE_S",
    10.0,
    "seconds a query waits for a place in the served door before it is refused with 503 and Retry-After",
)

# Publications (orchestration/publications.py, retire): each is kept read-only under its id, for citing.
KEEP_PUBLICATIONS = Limit(
    "WAREHOUSE_KEEP_PUBLICATIONS",
    5,
    "unpinned publications kept, queryable by id; the refresh that publishes removes older unpinned ones "
    "(at least 1 stays); pinned ones are never removed and not counted",
)

ALL = (
    QUERY_TIMEOUT_S,
    QUERY_MAX_ROWS,
    QUERY_MEMORY,
    QUERY_THREADS,
    INBOX_SETTLE_S,
    INBOX_WAIT_S,
    ZIP_MAX_BYTES,
    ZIP_MAX_RATIO,
    FETCH_DEADLINE_S,
    FETCH_MAX_BYTES,
    FETCH_REDIRECT_HOSTS,
    SERVE_MAX_BODY_BYTES,
    SERVE_MAX_QUERIES,
    SERVE_QUEUE_S,
    SERVE_STALL_S,
    KEEP_PUBLICATIONS,
)
