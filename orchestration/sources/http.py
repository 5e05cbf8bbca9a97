"""One HTTP GET with limits the server cannot move, shared by every live upstream client.

- Retries (urllib3's ``Retry``): connection errors, read timeouts, 429, 500, 502, 503 and 504, a
  bounded number of times with exponential backoff, after the server's ``Retry-After`` when it sends one.
- One overall deadline per request (WAREHOUSE_FETCH_DEADLINE_S), retries, waits and the body included:
  a server that drips a byte at a time is cut off, not only one that stops.
- A maximum body size (WAREHOUSE_FETCH_MAX_BYTES), checked while the body streams in.
- Redirects only to https on the host asked, or to the hosts in WAREHOUSE_FETCH_REDIRECT_HOSTS
  (https too); never from https down to http.
- The answer carries the URL that answered, which is what provenance records.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from orchestration import limits

RETRIED_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
_CHUNK = 1 << 16


class UpstreamError(RuntimeError):
    """An upstream did not give a usable answer; the message names what was asked for and the URL."""


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float  # seconds for connecting and for each read
    retries: int
    backoff: float


@dataclass(frozen=True)
class Answer:
    """A complete 200 answer, held in memory once it is known to be within the size limit."""

    url: str  # the URL that answered, after any redirect
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self):
        return json.loads(self.content)


class _GuardedSession(requests.Session):
    """A session whose every redirect is checked before it is followed."""

    def __init__(self, policy: RetryPolicy):
        super().__init__()
        retry = Retry(
            total=policy.retries,
            connect=policy.retries,
            read=policy.retries,
            status=policy.retries,
            other=0,
            backoff_factor=policy.backoff,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods={"GET"},
            respect_retry_after_header=True,
            raise_on_status=False,
            retry_after_max=int(limits.FETCH_DEADLINE_S.value()) + 1,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.max_redirects = MAX_REDIRECTS

    def get_redirect_target(self, response):
        target = super().get_redirect_target(response)
        if target:
            refuse_redirect(response.url, urljoin(response.url, target))
        return target


def session(policy: RetryPolicy) -> requests.Session:
    return _GuardedSession(policy)


def refuse_redirect(origin: str, target: str) -> None:
    """Raise unless ``target`` is https on ``origin``'s host, or https on a host the operator allowed."""
    asked, going = urlsplit(origin), urlsplit(target)
    allowed = {host.strip().lower() for host in limits.FETCH_REDIRECT_HOSTS.value().split(",") if host.strip()}
    host = (going.hostname or "").lower()
    same_host = host == (asked.hostname or "").lower()
    # A plain-http origin (a test server, a mirror on the LAN) may redirect within itself over http.
    same_scheme = going.scheme == asked.scheme
    if going.scheme == "https" and (same_host or host in allowed):
        return
    if same_host and same_scheme:
        return
    raise UpstreamError(
        f"a redirect from {origin} to {target} was refused: only https on the same host, or to a host in "
        f"{limits.FETCH_REDIRECT_HOSTS.env} ({', '.join(sorted(allowed)) or 'none set'}), is followed"
    )


def get(http: requests.Session, url: str, policy: RetryPolicy, what: str, *, missing_ok: bool = False) -> Answer | None:
    """GET ``url`` within the deadline and size limits. With ``missing_ok`` a 404 is an answer (None):
    the page does not exist (yet)."""
    deadline = limits.FETCH_DEADLINE_S.value()
    outcome: dict[str, object] = {}

    def fetch() -> None:
        try:
            outcome["answer"] = _fetch(http, url, policy, what, missing_ok, time.monotonic() + deadline)
        except Exception as error:  # handed to the waiting thread, which raises it
            outcome["error"] = error

    # requests' timeouts are per read; the hard deadline is a wait on a worker thread, which a server
    # holding the headers back cannot stretch. A worker still blocked past it is a daemon and dies with the process.
    worker = threading.Thread(target=fetch, name=f"fetch {url}", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise UpstreamError(
            f"{what}: no complete answer within {deadline:g} s from {url}; gave up "
            f"({limits.FETCH_DEADLINE_S.env} sets the deadline)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("answer")


def _fetch(
    http: requests.Session, url: str, policy: RetryPolicy, what: str, missing_ok: bool, deadline: float
) -> Answer | None:
    attempts = policy.retries + 1
    try:
        response = http.get(url, timeout=policy.timeout, stream=True)
    except requests.TooManyRedirects:
        raise UpstreamError(f"{what}: more than {MAX_REDIRECTS} redirects from {url}") from None
    except requests.RequestException as error:
        cause = error.args[0] if error.args else error
        reason = getattr(cause, "reason", None) or cause  # urllib3's MaxRetryError holds the last failure
        raise UpstreamError(
            f"{what}: no answer after {attempts} attempts ({type(reason).__name__}: {reason}) from {url}"
        ) from None
    with response:
        answered = response.url
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code in RETRIED_STATUSES:
            raise UpstreamError(
                f"{what}: no answer after {attempts} attempts (HTTP {response.status_code}) from {answered}"
            )
        if response.status_code != 200:
            raise UpstreamError(f"{what}: HTTP {response.status_code} from {answered}")
        content = _body(response, what, deadline)
    return Answer(answered, content, dict(response.headers), response.encoding or "utf-8")


def _body(response: requests.Response, what: str, deadline: float) -> bytes:
    """The body, read as it arrives (``read1`` returns whatever a read brings), within both limits."""
    max_bytes = limits.FETCH_MAX_BYTES.value()
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamError(
            f"{what}: the answer declares {int(declared):,} bytes, over the limit of {max_bytes:,} "
            f"({limits.FETCH_MAX_BYTES.env}) from {response.url}"
        )
    chunks, size = [], 0
    try:
        while chunk := response.raw.read1(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(
                    f"{what}: the answer passed {max_bytes:,} bytes ({limits.FETCH_MAX_BYTES.env}) "
                    f"and was cut off, from {response.url}"
                )
            if time.monotonic() > deadline:
                raise UpstreamError(
                    f"{what}: the answer was still arriving ({size:,} bytes) when the deadline of "
                    f"{limits.FETCH_DEADLINE_S.value():g} s passed ({limits.FETCH_DEADLINE_S.env}), from {response.url}"
                )
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as error:  # a read timeout, a lying Content-Length, bad gzip
        raise UpstreamError(
            f"{what}: the answer broke off after {size:,} bytes ({type(error).__name__}: {error}) from {response.url}"
        ) from None
    return b"".join(chunks)
