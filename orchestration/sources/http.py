"""One HTTP GET with limits the server cannot move, shared by every live upstream client.

- Retries (urllib3's ``Retry``): connection errors, read timeouts, 429, 500, 502, 503 and 504, a
  bounded number of times with exponential backoff, after the server's ``Retry-After`` when it sends one.
- One overall deadline per request (WAREHOUSE_FETCH_DEADLINE_S), retries, waits and the body included:
  a server that drips a byte at a time is cut off, not only one that stops.
- A deadline stops the work, not only the wait for it (``within``): at it, the connections of the
  requests under it are shut down, no other request or retry starts, and the thread that did the
  work ends. Work already under a deadline (a schedule tick's check) stops its requests at its own.
- A maximum body size (WAREHOUSE_FETCH_MAX_BYTES), checked while the body streams in.
- Redirects only to https on the host asked, or to the hosts in WAREHOUSE_FETCH_REDIRECT_HOSTS
  (https too); never from https down to http.
- The answer carries the URL that answered, which is what provenance records.
"""

from __future__ import annotations

import contextvars
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.retry import Retry

from orchestration import limits

RETRIED_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
_CHUNK = 1 << 16
# How long the waiting side waits past a deadline for the work it stopped to end.
STOP_GRACE_S = 1.0
T = TypeVar("T")


class UpstreamError(RuntimeError):
    """An upstream did not give a usable answer; the message names what was asked for and the URL."""


class DeadlinePassed(UpstreamError):
    """Work under a deadline did not finish by it; its requests were stopped."""


class Deadline:
    """A time by which work stops: at it, every connection the work's requests hold is shut down (a
    blocked read or write ends at once) and no other request, retry or wait starts. The deadline of
    work run under another's passes with it."""

    def __init__(self, seconds: float, parent: Deadline | None = None):
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._parent = parent
        self._passed = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self._sockets: set[socket.socket] = set()
        self._children: set[Deadline] = set()
        if parent is not None:
            with parent._lock:
                adopted = not parent.passed
                if adopted:
                    parent._children.add(self)
            if not adopted:
                self.expire()

    @property
    def passed(self) -> bool:
        return self._passed.is_set()

    def remaining(self) -> float:
        own = max(0.0, self._ends - time.monotonic())
        return own if self._parent is None else min(own, self._parent.remaining())

    def check(self) -> None:
        """Refuse to start anything once the deadline has passed."""
        if self.passed:
            raise DeadlinePassed(f"the deadline of {self.seconds:g} s has passed; nothing more is started")

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the deadline passes, which refuses to go on."""
        self._passed.wait(seconds)
        self.check()

    def hold(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (now, if it has)."""
        with self._lock:
            if not self.passed:
                self._sockets.add(sock)
                return
        _shut_down(sock)

    def expire(self) -> None:
        """Pass the deadline now, unless the work under it has finished."""
        with self._lock:
            if self._finished or self.passed:
                return
            self._passed.set()
            sockets, children = list(self._sockets), list(self._children)
        for child in children:
            child.expire()
        for sock in sockets:
            _shut_down(sock)

    def finish(self) -> None:
        """The work ended: nothing more to stop, and its parent need not stop it."""
        with self._lock:
            self._finished = True
            self._sockets.clear()
        if self._parent is not None:
            with self._parent._lock:
                self._parent._children.discard(self)


def _shut_down(sock: socket.socket) -> None:
    # shutdown, not close: the blocked read in the work's thread returns at once and that thread closes
    # the socket itself, so its descriptor is never freed (and reused) under it.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already, or never connected
        pass


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("deadline", default=None)


def within(seconds: float, work: Callable[[], T], name: str) -> T:
    """``work()``, on a thread named ``name``, under a deadline ``seconds`` from now (and under the
    caller's own, if it has one). At the deadline the work is stopped (see Deadline) and, once its
    thread has ended or STOP_GRACE_S later, DeadlinePassed is raised; what the work raised is raised."""
    deadline = Deadline(seconds, _DEADLINE.get())
    deadline.check()
    context = contextvars.copy_context()
    context.run(_DEADLINE.set, deadline)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome["error"] = error
        finally:
            deadline.finish()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if worker.is_alive():
        deadline.expire()
        worker.join(STOP_GRACE_S)
    # The work may have stopped itself first, failing at this deadline through one of its own under
    # it (a fetch's): a failure once the time is up is this deadline's too.
    if deadline.passed or ("error" in outcome and deadline.remaining() <= 0):
        raise DeadlinePassed(f"{name}: not finished within {seconds:g} s, and stopped")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _StoppedAtTheDeadline:
    """Mixed into urllib3's connections so that the deadline of the work they run under reaches them:
    urllib3 can shut down a response it has handed over (HTTPResponse.shutdown), but has no handle on
    a connection still connecting or waiting for its status line, which is where a server stalls."""

    def connect(self) -> None:
        deadline = _DEADLINE.get()
        if deadline is not None:
            deadline.check()
            if isinstance(self.timeout, (int, float)):  # connecting cannot be interrupted: it is bounded
                self.timeout = min(self.timeout, deadline.remaining())
        super().connect()
        if deadline is not None:
            deadline.hold(self.sock)

    def request(self, *args, **kwargs) -> None:
        deadline = _DEADLINE.get()
        if deadline is not None:
            deadline.check()
            if self.sock is not None:  # a kept-alive connection, connected under an earlier deadline
                deadline.hold(self.sock)
        super().request(*args, **kwargs)


class _Connection(_StoppedAtTheDeadline, HTTPConnection):
    pass


class _TlsConnection(_StoppedAtTheDeadline, HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, with pools of connections that stop at the deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # not a SOCKS proxy, whose pools are its own
            manager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}
        return manager


class _Retry(Retry):
    """urllib3's retries, waiting between attempts on the deadline: urllib3 sleeps with time.sleep,
    which nothing wakes, so a Retry-After or a backoff would hold the thread past it."""

    def sleep(self, response=None) -> None:
        deadline = _DEADLINE.get()
        if deadline is None:
            return super().sleep(response)
        after = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        deadline.wait(after or self.get_backoff_time())


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
        retry = _Retry(
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
        adapter = _Adapter(max_retries=retry)
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
    try:
        return within(deadline, lambda: _fetch(http, url, policy, what, missing_ok), f"fetch {url}")
    except DeadlinePassed:
        raise UpstreamError(
            f"{what}: no complete answer within {deadline:g} s from {url}; gave up "
            f"({limits.FETCH_DEADLINE_S.env} sets the deadline)"
        ) from None


def _fetch(http: requests.Session, url: str, policy: RetryPolicy, what: str, missing_ok: bool) -> Answer | None:
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
        content = _body(response, what)
    return Answer(answered, content, dict(response.headers), response.encoding or "utf-8")


def _body(response: requests.Response, what: str) -> bytes:
    """The body, read as it arrives (``read1`` returns whatever a read brings), within the size limit
    (the deadline shuts the connection down under it)."""
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
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as error:  # a read timeout, a lying Content-Length, bad gzip
        raise UpstreamError(
            f"{what}: the answer broke off after {size:,} bytes ({type(error).__name__}: {error}) from {response.url}"
        ) from None
    return b"".join(chunks)
