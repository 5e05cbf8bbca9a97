"""The served door under load, for a while: a soak harness shared by `make bench` (section 6) and
tests/test_soak.py.

``soak`` runs client threads against a running `warehouse serve`, each looping over a mix of what
analysts and their tools do to it, well and badly:

- ``small``: ``POST /api/query`` of a cheap query on marts.*, its answer compared with the first;
- ``csv``, ``parquet``: a download of a few thousand rows, read whole and its rows counted;
- ``abandoned``: a large download left after its first bytes (the socket closed mid-body);
- ``disconnect``: a download of a slow query whose client closes its socket before the first byte;
- ``refused``: a ``COPY`` (403 refused); ``two_statements``: two statements at once (400 invalid);
- ``runaway``: a query that would run for ever, stopped at the service's time limit (400 timeout).

Meanwhile, at the times given, it calls ``publish()`` from a thread of its own: the caller decides
what a publication is (the real publishing code in the test, a `warehouse refresh --full` in the
bench). It counts, per kind, the outcomes meant and the others (keeping the first few answers that
were not meant), and 503 ``busy`` answers on their own: admission at work, not a failure. It times
the small query, and samples the service's RSS and descriptors from /proc after a warm-up and
again once the service has settled at the end, with the descriptors that point at a deleted file
or a publication file that is gone.

Every request has a client-side timeout, so the harness never hangs; a request that times out
counts as not meant: that is what a hung service looks like.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import random
import re
import socket
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyarrow.parquet as pq
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench import refresh, served
from bench.measure import percentile

SMALL_SQL = "select count(*) from marts.egov_scores where survey_year = 2024"
# A few thousand rows, downloaded whole as CSV and Parquet.
DOWNLOAD_SQL = "select * from marts.egov_scores order by iso3, survey_year"
# Far more than a socket's buffers hold, so that a client that leaves after the first bytes leaves mid-body.
LARGE_SQL = "select o.*, r.range as copy from marts.wdi_observations as o, range(100) as r"
# Some tenths of a second of DuckDB's time before its first (and only) row.
SLOW_SQL = "select max(a.range + b.range) from range(40000) as a, range(4000) as b"
# A query that would run for hours on a core or two and needs no memory: only its time limit stops it.
# (A cross join such as tests/test_serve.py's runaway materialises its build side instead, up to the
# memory ceiling of its publication, which the queries running beside it share: two of them at once
# fail with "memory" rather than "timeout", and so may the small queries running meanwhile.)
RUNAWAY_SQL = "select count(*) from range(1000000000000) where hash(range) % 1000003 = 7"
REFUSED_SQL = "copy (select 1) to '/tmp/warehouse-soak.csv'"
TWO_STATEMENTS_SQL = "select 1; select 2"

# How often each kind comes up in a client's loop. A runaway holds a place and the cores until its
# time limit, so a client sends one (and a download it hangs up on) at most once in its interval of
# EVERY_S (a small query instead): the mix is a team's day, not a flood of runaways.
MIX = {
    "small": 12,
    "csv": 2,
    "parquet": 2,
    "abandoned": 2,
    "disconnect": 1,
    "refused": 1,
    "two_statements": 1,
    "runaway": 1,
}
KINDS = tuple(MIX)
EVERY_S = {"runaway": 20.0, "disconnect": 5.0}
EXAMPLES_KEPT = 5  # answers not meant kept per kind, for the report
LOG_LINES_KEPT = 200
SAMPLE_EVERY_S = 2.0


@dataclass
class Tally:
    """One kind's outcomes."""

    meant: int = 0
    unexpected: int = 0
    busy: int = 0  # 503 "busy": admission refused a place within its wait
    client_timeouts: int = 0  # among ``unexpected``: no answer within the client's timeout
    examples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.meant + self.unexpected + self.busy


@dataclass(frozen=True)
class ProcessSample:
    """What the service holds, read from /proc/<pid>."""

    rss_kb: int
    threads: int
    fds: int
    deleted: tuple[str, ...]  # descriptors on deleted files, but its own stdout and stderr
    publication_files: tuple[str, ...]  # publication files it holds open (``publications/*.duckdb``)
    gone_publications: tuple[str, ...]  # among those, the ones no longer on disk

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    def json(self) -> dict:
        return {
            "rss_mb": round(self.rss_mb, 1),
            "threads": self.threads,
            "fds": self.fds,
            "deleted": list(self.deleted),
            "publication_files": list(self.publication_files),
            "gone_publications": list(self.gone_publications),
        }


@dataclass(frozen=True)
class Publish:
    asked_at: float  # seconds into the run it was due
    started_at: float  # seconds into the run it started
    seconds: float
    error: str | None


@dataclass(frozen=True)
class Moment:
    """The service during the run, every SAMPLE_EVERY_S: its memory, descriptors and admission."""

    at: float  # seconds into the run
    rss_kb: int
    fds: int
    running: float | None  # queries running, and waiting for a place, as /metrics says
    waiting: float | None


@dataclass
class SoakResult:
    clients: int
    seconds: float  # from the first request to the last answer
    tallies: dict[str, Tally]
    small_ms: list[tuple[float, float]]  # (seconds into the run, milliseconds) of each small query answered
    publishes: list[Publish]
    start: ProcessSample
    end: ProcessSample
    metrics: str  # /metrics at the end, once settled
    settled: bool  # whether /metrics said no query was running or waiting within the settle time
    server_log: list[str]  # the last LOG_LINES_KEPT lines the service wrote during the run (when its output is a file)
    server_errors: dict[str, int]  # what it logged as errors during the run (logged_errors), with how many times
    timeline: list[Moment] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tallies.values())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def unexpected(self) -> int:
        return sum(t.unexpected for t in self.tallies.values())

    @property
    def busy(self) -> int:
        return sum(t.busy for t in self.tallies.values())

    @property
    def client_timeouts(self) -> int:
        return sum(t.client_timeouts for t in self.tallies.values())

    def examples(self) -> list[str]:
        return [example for t in self.tallies.values() for example in t.examples]

    def window_ms(self, first: bool, share: float = 0.2) -> list[float]:
        """The small query's milliseconds in the first (or last) ``share`` of the run."""
        if first:
            return [ms for at, ms in self.small_ms if at < share * self.seconds]
        return [ms for at, ms in self.small_ms if at >= (1 - share) * self.seconds]

    def percentiles(self, first: bool) -> dict[str, float]:
        values = self.window_ms(first)
        if not values:
            return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "n": 0}
        return {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99),
            "n": len(values),
        }

    def during(self) -> dict[str, float]:
        """The largest RSS and descriptor count, and the most queries waiting, sampled during the run."""
        if not self.timeline:
            return {}
        return {
            "max_rss_mb": round(max(m.rss_kb for m in self.timeline) / 1024, 1),
            "max_fds": max(m.fds for m in self.timeline),
            "max_waiting": max((m.waiting or 0) for m in self.timeline),
            "samples": len(self.timeline),
        }

    def metric(self, name: str, **labels: str) -> float | None:
        """A sample of the final /metrics, by its name (``..._total`` for a counter) and labels."""
        return metric_value(self.metrics, name, **labels)

    def json(self) -> dict:
        def rounded(values: dict[str, float]) -> dict[str, float]:
            return {key: round(value, 2) for key, value in values.items()}

        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "requests_per_second": round(self.per_second, 1),
            "unexpected": self.unexpected,
            "busy": self.busy,
            "client_timeouts": self.client_timeouts,
            "kinds": {
                kind: {"meant": t.meant, "unexpected": t.unexpected, "busy": t.busy} for kind, t in self.tallies.items()
            },
            "small_ms": {"start": rounded(self.percentiles(True)), "end": rounded(self.percentiles(False))},
            "publishes": [
                {"at_s": round(p.started_at, 1), "seconds": round(p.seconds, 1), "error": p.error}
                for p in self.publishes
            ],
            "start": self.start.json(),
            "end": self.end.json(),
            "during": self.during(),
            "examples": self.examples(),
            "server_errors": self.server_errors,
        }


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """One sample of a Prometheus text exposition, parsed by prometheus_client's own parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def service_pid(process_pid: int) -> int:
    """The pid of `warehouse serve` itself: the console script is Python, which runs the service in
    its own process (no child), so the pid Popen gives is the service's. Checked against its command line."""
    command = Path(f"/proc/{process_pid}/cmdline").read_bytes().split(b"\0")
    if b"serve" not in command or not any(part.endswith(b"warehouse") for part in command):
        raise RuntimeError(f"pid {process_pid} is not `warehouse serve`: {command!r}")
    return process_pid


def sample(pid: int) -> ProcessSample:
    """The service's resident memory, threads and descriptors, from /proc/<pid>."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    folder = Path(f"/proc/{pid}/fd")
    own_output = set()
    targets = {}
    for fd in os.listdir(folder):
        try:
            target = os.readlink(folder / fd)
        except OSError:  # closed since it was listed
            continue
        if fd in ("1", "2"):
            own_output.add(target)  # the service's log: a deleted temporary file under bench.served
        targets[fd] = target
    deleted = sorted(t for fd, t in targets.items() if t.endswith(" (deleted)") and t not in own_output)
    publication_files = sorted(
        t
        for t in targets.values()
        if Path(t.removesuffix(" (deleted)")).parent.name == "publications"
        and t.removesuffix(" (deleted)").endswith(".duckdb")
    )
    gone = [t for t in publication_files if t.endswith(" (deleted)") or not Path(t).exists()]
    return ProcessSample(
        rss_kb=int(status["VmRSS"].split()[0]),
        threads=int(status["Threads"].strip()),
        fds=len(targets),
        deleted=tuple(deleted),
        publication_files=tuple(publication_files),
        gone_publications=tuple(gone),
    )


def settle(url: str, timeout_s: float = 30.0, linger_s: float = 2.5) -> tuple[str, bool]:
    """Wait until /metrics says no query is running or waiting, then ``linger_s`` more (the service
    closes a replaced publication within about a second); returns /metrics then, and whether it settled."""
    deadline = time.monotonic() + timeout_s
    settled = False
    while time.monotonic() < deadline:
        text = requests.get(f"{url}/metrics", timeout=10).text
        if metric_value(text, "warehouse_serve_queries_running") == 0 and (
            metric_value(text, "warehouse_serve_queries_waiting") in (0, None)
        ):
            settled = True
            break
        time.sleep(0.2)
    time.sleep(linger_s)
    return requests.get(f"{url}/metrics", timeout=10).text, settled


class _Run:
    """One pass of the clients: what they saw, under a lock."""

    def __init__(self, url: str, timeout_s: float, expected: dict[str, object], every_s: dict[str, float]):
        self.url, self.timeout_s, self.expected = url, timeout_s, expected
        self.every_s = every_s  # a kind that is left out is never sent
        split = urlsplit(url)
        self.host, self.port = split.hostname, split.port
        self.tallies = {kind: Tally() for kind in KINDS}
        self.small_ms: list[tuple[float, float]] = []
        self.started = time.monotonic()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()

    # Outcomes.

    def note(self, kind: str, meant: bool, what: str = "") -> None:
        with self._lock:
            tally = self.tallies[kind]
            if meant:
                tally.meant += 1
            else:
                tally.unexpected += 1
                if len(tally.examples) < EXAMPLES_KEPT:
                    tally.examples.append(f"{kind} at {time.monotonic() - self.started:.1f} s: {what[:400]}")

    def note_answer(self, kind: str, status: int, body: str, meant: bool) -> None:
        """An HTTP answer: meant, 503 busy (counted apart), or not meant."""
        if meant:
            self.note(kind, True)
        elif status == 503 and _error_of(body) == "busy":
            with self._lock:
                self.tallies[kind].busy += 1
        else:
            self.note(kind, False, f"HTTP {status}: {body}")

    def note_failure(self, kind: str, error: BaseException) -> None:
        timed_out = isinstance(error, (requests.Timeout, socket.timeout, TimeoutError))
        if timed_out:
            with self._lock:
                self.tallies[kind].client_timeouts += 1
        self.note(kind, False, ("client timeout: " if timed_out else "") + repr(error))

    # The client.

    def client(self, index: int) -> None:
        chooser = self._local.chooser = random.Random(index)
        bag = [kind for kind, weight in MIX.items() for _ in range(weight)]
        # Each client's first of a rare kind at a random point of its first interval, so they do not come together.
        due = {kind: self.started + chooser.uniform(0, every) for kind, every in self.every_s.items()}
        with requests.Session() as session:
            while not self.stop.is_set():
                kind = chooser.choice(bag)
                if kind in EVERY_S:
                    if kind not in due or time.monotonic() < due[kind]:
                        kind = "small"
                    else:
                        due[kind] = time.monotonic() + self.every_s[kind]
                try:
                    getattr(self, "_" + kind)(session)
                except Exception as error:  # noqa: BLE001 - any failure is an outcome to count, never the end of the client
                    self.note_failure(kind, error)

    def _small(self, session: requests.Session) -> None:
        started = time.perf_counter()
        answer = session.post(f"{self.url}/api/query", json={"sql": SMALL_SQL}, timeout=self.timeout_s)
        meant = answer.status_code == 200 and answer.json().get("rows") == self.expected["small"]
        elapsed_ms = (time.perf_counter() - started) * 1000
        if meant:
            with self._lock:
                self.small_ms.append((time.monotonic() - self.started, elapsed_ms))
        self.note_answer("small", answer.status_code, answer.text, meant)

    def _download(self, session: requests.Session, fmt: str) -> None:
        answer = session.get(
            f"{self.url}/api/query", params={"sql": DOWNLOAD_SQL, "format": fmt}, timeout=self.timeout_s
        )
        if answer.status_code != 200:
            self.note_answer(fmt, answer.status_code, answer.text, False)
            return
        if fmt == "csv":
            rows = sum(1 for _ in csv.reader(io.StringIO(answer.text))) - 1
        else:
            rows = pq.read_table(io.BytesIO(answer.content)).num_rows
        meant = rows == self.expected["download_rows"]
        self.note(fmt, meant, f"{rows} rows of {self.expected['download_rows']} in a whole {fmt} download")

    def _csv(self, session: requests.Session) -> None:
        self._download(session, "csv")

    def _parquet(self, session: requests.Session) -> None:
        self._download(session, "parquet")

    def _abandoned(self, session: requests.Session) -> None:
        fmt = self._local.chooser.choice(("csv", "parquet"))
        path = "/api/query?" + urlencode({"sql": LARGE_SQL, "format": fmt})
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            if answer.status != 200:
                self.note_answer("abandoned", answer.status, answer.read().decode("utf-8", "replace"), False)
                return
            first = answer.read(4096)
            self.note("abandoned", len(first) > 0, "no byte of the body before it was abandoned")
        finally:
            connection.close()  # mid-body: the service sees its client gone

    def _disconnect(self, session: requests.Session) -> None:
        path = "/api/query?" + urlencode({"sql": SLOW_SQL, "format": "csv"})
        with socket.create_connection((self.host, self.port), timeout=self.timeout_s) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode("ascii"))
        # Closed before the first byte of the answer: nothing to read, only the service to outlast it.
        self.note("disconnect", True)

    def _refused(self, session: requests.Session) -> None:
        self._expect_error(session, "refused", REFUSED_SQL, 403, "refused")

    def _two_statements(self, session: requests.Session) -> None:
        self._expect_error(session, "two_statements", TWO_STATEMENTS_SQL, 400, "invalid")

    def _runaway(self, session: requests.Session) -> None:
        self._expect_error(session, "runaway", RUNAWAY_SQL, 400, "timeout")

    def _expect_error(self, session: requests.Session, kind: str, sql: str, status: int, error: str) -> None:
        answer = session.post(f"{self.url}/api/query", json={"sql": sql}, timeout=self.timeout_s)
        meant = answer.status_code == status and _error_of(answer.text) == error
        self.note_answer(kind, answer.status_code, answer.text, meant)


def _error_of(body: str) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("error") if isinstance(parsed, dict) else None


def _expected(url: str, timeout_s: float) -> dict[str, object]:
    """The answers every later one is compared with: the small query's rows, the download's row count."""
    small = requests.post(f"{url}/api/query", json={"sql": SMALL_SQL}, timeout=timeout_s)
    counted = requests.post(
        f"{url}/api/query", json={"sql": f"select count(*) from ({DOWNLOAD_SQL})"}, timeout=timeout_s
    )
    if small.status_code != 200 or counted.status_code != 200:
        raise RuntimeError(f"the service does not answer the soak's queries: {small.text[:300]} {counted.text[:300]}")
    return {"small": small.json()["rows"], "download_rows": counted.json()["rows"][0][0]}


def _drive(run: _Run, clients: int, until: Callable[[], bool]) -> float:
    """Run ``clients`` clients until ``until()``; returns the seconds from start to the last answer."""
    threads = [threading.Thread(target=run.client, args=(i,), name=f"soak-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        while not until():
            time.sleep(0.05)
    finally:
        run.stop.set()
        for thread in threads:
            thread.join()
    return time.monotonic() - run.started


class _Output:
    """The service's output from now on, when it is a file (under bench.served, a deleted temporary
    one): opened through /proc now, so it can be read even after the service is gone."""

    def __init__(self, pid: int):
        try:
            self._file = open(f"/proc/{pid}/fd/1", "rb")  # noqa: SIM115 - held for the run, closed by lines()
        except OSError:
            self._file = None
            return
        if not stat.S_ISREG(os.fstat(self._file.fileno()).st_mode):
            self._file.close()
            self._file = None
            return
        self._file.seek(0, os.SEEK_END)

    def lines(self) -> list[str]:
        """Every line written since, once (the file is closed after)."""
        if self._file is None:
            return []
        with self._file:
            return self._file.read().decode("utf-8", "replace").splitlines()


# The last line of a traceback: the exception's type and message.
_RAISED = re.compile(r"^(?P<kind>[A-Za-z_][\w.]*(?:Error|Exception|Cut|Exit|Interrupt|Gone|Busy)): (?P<message>.*)$")


def logged_errors(lines: list[str]) -> dict[str, int]:
    """What the service logged as errors: each exception a traceback ended with (its type and the
    start of its message), and any other ``ERROR:`` record but uvicorn's "Exception in ASGI
    application", which heads a traceback; with how many times."""
    found: Counter[str] = Counter()
    for line in lines:
        raised = _RAISED.match(line)
        if raised:
            found[f"{raised['kind']}: {raised['message'][:160]}"] += 1
        elif line.startswith(("ERROR:", "CRITICAL:")) and "Exception in ASGI application" not in line:
            found[line[:200]] += 1
    return dict(found.most_common())


class ServiceGone(RuntimeError):
    """The service's process ended during the soak."""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie: ended, not yet waited for


def _watch(url: str, pid: int, run: _Run, timeline: list[Moment]) -> None:
    """Sample the service every SAMPLE_EVERY_S until the run stops (or the service is gone)."""
    while not run.stop.wait(SAMPLE_EVERY_S):
        try:
            now = sample(pid)
            text = requests.get(f"{url}/metrics", timeout=10).text
        except (OSError, requests.RequestException):
            continue  # the clients count what went wrong; the sample is only missing
        timeline.append(
            Moment(
                time.monotonic() - run.started,
                now.rss_kb,
                now.fds,
                metric_value(text, "warehouse_serve_queries_running"),
                metric_value(text, "warehouse_serve_queries_waiting"),
            )
        )


def soak(
    url: str,
    pid: int,
    seconds: float,
    clients: int,
    publish: Callable[[], None] | None = None,
    publish_at: list[float] | tuple[float, ...] = (),
    *,
    timeout_s: float = 60.0,
    every_s: dict[str, float] | None = None,
    warmup_s: float = 2.0,
    publish_wait_s: float = 900.0,
) -> SoakResult:
    """``clients`` client threads against the service at ``url`` (process ``pid``) for ``seconds``,
    each looping over the mix (MIX), calling ``publish()`` from a thread of its own at each of
    ``publish_at`` (seconds into the run, in turn). The clients go on until ``seconds`` have passed
    and every publish has returned (at most ``publish_wait_s`` more), so that each happens under load.

    Before: a warm-up of ``warmup_s`` with the same mix but runaways, then the service settles and
    is sampled. After: it settles again (no query running or waiting, then 2.5 s for the replaced
    publication to be closed) and is sampled again. Every request times out after ``timeout_s``
    on the client's side; choose it above the service's queue wait plus its query time limit.
    ``every_s`` overrides EVERY_S, the least interval between two runaways (or two disconnects) of
    one client."""
    expected = _expected(url, timeout_s)
    every_s = {**EVERY_S, **(every_s or {})}
    warm = _Run(url, timeout_s, expected, {kind: every for kind, every in every_s.items() if kind != "runaway"})
    _drive(warm, clients, lambda: time.monotonic() - warm.started >= warmup_s)
    settle(url)
    start = sample(pid)
    output = _Output(pid)

    run = _Run(url, timeout_s, expected, every_s)
    publishes: list[Publish] = []

    def publishing() -> None:
        for due in sorted(publish_at):
            while not run.stop.is_set() and time.monotonic() - run.started < due:
                time.sleep(0.05)
            began = time.monotonic()
            error = None
            try:
                publish()
            except BaseException as failure:  # noqa: BLE001 - reported with the run
                error = repr(failure)
            publishes.append(Publish(due, began - run.started, time.monotonic() - began, error))

    publisher = threading.Thread(target=publishing, name="soak-publisher", daemon=True)
    if publish is not None and publish_at:
        publisher.start()
    timeline: list[Moment] = []
    watcher = threading.Thread(target=_watch, args=(url, pid, run, timeline), name="soak-watcher", daemon=True)
    watcher.start()

    def over() -> bool:
        elapsed = time.monotonic() - run.started
        if elapsed < seconds:
            return False
        if publisher.is_alive() and elapsed < seconds + publish_wait_s:
            return False
        return True

    elapsed = _drive(run, clients, over)
    watcher.join()
    if publisher.ident is not None:
        publisher.join(timeout=publish_wait_s)
    if publisher.is_alive():
        publishes.append(Publish(0.0, 0.0, 0.0, f"a publish was still running {publish_wait_s:g} s after the run"))
    if not _alive(pid):
        log = "\n".join(output.lines()[-40:])
        raise ServiceGone(f"the service (pid {pid}) ended during the soak; its last output:\n{log}")
    metrics, settled = settle(url)
    end = sample(pid)
    logged = output.lines()
    return SoakResult(
        clients=clients,
        seconds=elapsed,
        tallies=run.tallies,
        small_ms=run.small_ms,
        publishes=publishes,
        start=start,
        end=end,
        metrics=metrics,
        settled=settled,
        server_log=logged[-LOG_LINES_KEPT:],
        server_errors=logged_errors(logged),
        timeline=timeline,
    )


# `make bench`, section 6.

BENCH_TIME_LIMIT_S = 2  # the service's WAREHOUSE_QUERY_TIMEOUT_S in the bench: where runaways stop
BENCH_PUBLISH_AT = (0.2, 0.4)  # shares of the run: both publications done, if they can be, before its last fifth
BENCH_WARMUP_S = 10.0  # the mix but runaways, before the first sample: the service's pools and caches filled


@dataclass(frozen=True)
class LoadRun:
    """Section 6: the soak of the bench's published warehouse, two `warehouse refresh --full` meanwhile."""

    soaked: SoakResult | None  # None if the soak itself failed: ``failure`` says how
    refreshes: list[refresh.Refresh]
    time_limit_s: float
    failure: str | None = None


def measure(home: Path, seconds: float, clients: int) -> LoadRun:
    """``clients`` clients for ``seconds`` on `warehouse serve` of the bench's home (its
    ``warehouse/`` and ``dagster/``, as bench.refresh lays them out), publishing twice meanwhile
    with a real `warehouse refresh --full`, which keeps one publication only and so removes the
    file of the one before. A soak that fails (the service does not start, or ends) is reported
    as the section's failure rather than ending the bench."""
    env = refresh.environment(home, WAREHOUSE_KEEP_PUBLICATIONS="1")
    service_env = {**os.environ, **env, "WAREHOUSE_QUERY_TIMEOUT_S": str(BENCH_TIME_LIMIT_S)}
    refreshes: list[refresh.Refresh] = []

    def publish() -> None:
        refreshes.append(refresh.refresh(env, "--full"))

    try:
        with served.served(service_env) as service:
            soaked = soak(
                service.url,
                service_pid(service.process.pid),
                seconds,
                clients,
                publish,
                [share * seconds for share in BENCH_PUBLISH_AT],
                timeout_s=60.0,
                warmup_s=BENCH_WARMUP_S,
            )
    except Exception as failure:  # noqa: BLE001 - the section says so, and the bench goes on
        return LoadRun(None, refreshes, BENCH_TIME_LIMIT_S, failure=repr(failure)[:3000])
    return LoadRun(soaked, refreshes, BENCH_TIME_LIMIT_S)
