"""`warehouse serve` as a service that runs for weeks under a team: clients that disconnect,
downloads that fail half way, publications retired underneath open leases, cross-site pages,
runaway queries from many clients at once; and what operators read of it (/healthz, /metrics).
Every test talks to a real uvicorn over real sockets."""

from __future__ import annotations

import gc
import html
import http.client
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.served import free_port, served
from orchestration import publications
from orchestration.publishing.published_file import publish
from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from tests.conftest import SNAPSHOTS, copy_home, environment

TIMEOUT_S = 2
SMALL = "select count(*) from marts.egov_scores where survey_year = 2024"
# CPU until the time limit stops it, and no memory: a scan whose filter nothing can prune.
RUNAWAY = "select count(*) from range(10000000000000) where hash(range) = 42"
# A first batch of rows at once (in order, one pipeline), then none until the time limit stops it.
STALLS = "select range from range(10000000000000) where range < 70000 or hash(range) = 42"
# Rows, then an error far enough on that the first rows are sent before it.
BREAKS = "select range, case when range = 3000000 then error('broken at row 3000000') end as x from range(4000000)"


@pytest.fixture(scope="module")
def env(built) -> dict[str, str]:
    return {**environment(built.home.parent), "WAREHOUSE_QUERY_TIMEOUT_S": str(TIMEOUT_S)}


@pytest.fixture(scope="module")
def service(env):
    with served(env) as running:
        yield running


@pytest.fixture
def own_home(built, tmp_path) -> Settings:
    """A private copy of the built home, for a service whose publications a test replaces."""
    return Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=SNAPSHOTS)


def home_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **environment(settings.home.parent),
        "WAREHOUSE_HOME": str(settings.home),
        "WAREHOUSE_QUERY_TIMEOUT_S": str(TIMEOUT_S),
        **extra,
    }


def open_files(pid: int) -> list[str]:
    """What the process has open, by /proc/<pid>/fd, but its standard streams (the log file the
    test gave it, which is deleted already)."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if int(fd) <= 2:
            continue
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed meanwhile
            pass
    return targets


def raw_get(url: str, path: str, source: str = "127.0.0.1", headers: dict | None = None) -> http.client.HTTPResponse:
    """A GET from a client address of our choosing on the loopback network (127.0.0.0/8)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


def post(url: str, sql: str, source: str = "127.0.0.1", **fields) -> tuple[int, dict, http.client.HTTPMessage]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    try:
        connection.request(
            "POST", "/api/query", json.dumps({"sql": sql, **fields}), {"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read()), answer.headers
    finally:
        connection.close()


def state(url: str) -> tuple[float, float]:
    """Queries running and waiting, as /metrics says."""
    now = metrics(url)
    return now[("warehouse_serve_queries_running", ())], now[("warehouse_serve_queries_waiting", ())]


def query_path(sql: str, **params: str) -> str:
    return "/api/query?" + urlencode({"sql": sql, **params})


def metrics(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser: (name, labels) -> value."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# -- downloads that fail after their first byte ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    "sql",
    [STALLS, BREAKS],
    ids=["time limit", "an error mid-way"],
)
def test_a_download_that_fails_after_its_first_byte_never_ends_as_a_whole_answer(service, fmt, sql):
    answer = raw_get(service.url, query_path(sql, format=fmt))
    assert answer.status == 200 and answer.getheader("Transfer-Encoding") == "chunked"
    received = 0
    with pytest.raises(http.client.IncompleteRead):
        while chunk := answer.read1(1 << 16):
            received += len(chunk)
    assert received > 0, "the failure came after the first byte"
    if fmt == "csv":
        # As a notebook reads it, once the first attempt's query is over (it had DuckDB's threads).
        assert wait_for(lambda: metrics(service.url)[("warehouse_serve_queries_running", ())] == 0)
        with pytest.raises(http.client.IncompleteRead):
            pd.read_csv(service.url + query_path(sql, format=fmt))
    assert requests.post(f"{service.url}/api/query", json={"sql": SMALL}, timeout=30).json()["rows"] == [[193]]


def test_a_download_over_http_1_0_is_refused_as_it_could_not_show_a_cut(service):
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(f"GET {query_path('select 1', format='csv')} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = b"".join(iter(lambda: raw.recv(65536), b"")).decode()
    head, body = answer.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 400") and "downloads need HTTP/1.1" in json.loads(body)["message"]


# -- cross-site pages ---------------------------------------------------------------------------------


ROUTES = ["/", "/api/tables", "/api/publications", query_path("select 1"), "/healthz", "/metrics", "/static/console.js"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["another origin", "a null origin", "cross-site", "same-site"],
)
def test_a_request_a_page_of_another_site_makes_is_refused_on_every_route(service, headers):
    for path in ROUTES:
        answer = requests.get(service.url + path, headers=headers, timeout=30)
        assert answer.status_code == 403 and answer.json()["error"] == "cross_site", path
    refused = requests.post(f"{service.url}/api/query", json={"sql": "select 1"}, headers=headers, timeout=30)
    assert refused.status_code == 403 and "refused" in refused.json()["message"]


def test_curl_scripts_and_the_console_s_own_requests_pass(service):
    own = {"Origin": service.url, "Sec-Fetch-Site": "same-origin"}
    for headers in ({}, own, {"Sec-Fetch-Site": "none"}):
        for path in ROUTES:
            assert requests.get(service.url + path, headers=headers, timeout=30).status_code == 200, (path, headers)
    assert requests.post(f"{service.url}/api/query", json={"sql": "select 42"}, headers=own, timeout=30).json()[
        "rows"
    ] == [[42]]


def test_a_link_to_the_console_followed_from_another_site_opens_it_without_running_the_query(service):
    """A shared query's link clicked in a chat or a wiki: the page opens, its editor filled; the
    browser's own run of it, and every other cross-site request, stay refused."""
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    page = requests.get(service.url + "/?" + urlencode({"sql": SMALL}), headers=navigation, timeout=30)
    assert page.status_code == 200 and 'data-autorun="false"' in page.text
    assert html.escape(SMALL, quote=False) in page.text
    own = requests.get(service.url + "/?" + urlencode({"sql": SMALL}), headers={"Sec-Fetch-Site": "none"}, timeout=30)
    assert 'data-autorun="true"' in own.text
    for path in [query_path(SMALL), query_path(SMALL, format="csv"), "/api/tables"]:
        assert requests.get(service.url + path, headers=navigation, timeout=30).status_code == 403, path


# -- health, metrics and immutable answers ------------------------------------------------------------


def test_healthz_names_the_current_publication_and_its_age(service, built):
    current = publications.current(built)
    before = time.time()
    health = requests.get(f"{service.url}/healthz", timeout=30).json()
    published = pd.Timestamp(current.published_at).timestamp()
    assert health["status"] == "ok" and health["publication"] == current.id
    assert health["published_at"] == current.published_at
    assert before - published - 1 <= health["age_seconds"] <= time.time() - published + 1


def test_metrics_count_requests_durations_time_outs_refusals_and_state(service):
    before = metrics(service.url)
    assert post(service.url, SMALL)[0] == 200
    assert post(service.url, "copy (select 1) to '/tmp/x.csv'")[0] == 403
    assert post(service.url, "select 1; select 2")[0] == 400
    assert post(service.url, RUNAWAY)[1]["error"] == "timeout"
    after = metrics(service.url)

    def grew(name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("warehouse_serve_requests_total", route="/api/query", status="200") >= 1
    assert grew("warehouse_serve_requests_total", route="/api/query", status="403") >= 1
    assert grew("warehouse_serve_refusals_total", reason="refused") >= 1
    assert grew("warehouse_serve_refusals_total", reason="invalid") >= 1
    assert grew("warehouse_serve_query_timeouts_total") >= 1
    assert grew("warehouse_serve_query_seconds_count", kind="answer") >= 1
    assert after[("warehouse_serve_queries_running", ())] == 0
    assert after[("warehouse_serve_publications_open", ())] >= 1
    assert after[("warehouse_serve_publication_age_seconds", ())] > 0
    assert ("warehouse_serve_admission_rejections_total", ()) in after


def test_a_get_on_a_named_publication_is_immutable_and_a_conditional_get_is_304(service, built):
    current = publications.current(built).id
    for path in (query_path(SMALL, publication=current), query_path(SMALL, publication=current, format="csv")):
        first = requests.get(service.url + path, timeout=30)
        assert first.status_code == 200 and "immutable" in first.headers["Cache-Control"]
        again = requests.get(service.url + path, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == first.headers["ETag"]
    tables = requests.get(f"{service.url}/api/tables", params={"publication": current}, timeout=30)
    assert (
        requests.get(
            f"{service.url}/api/tables",
            params={"publication": current},
            headers={"If-None-Match": tables.headers["ETag"]},
            timeout=30,
        ).status_code
        == 304
    )
    other = requests.get(service.url + query_path("select 2", publication=current), timeout=30)
    assert other.headers["ETag"] != first.headers["ETag"]
    # The current publication, unnamed, may change: no tag, no caching; nor a POST.
    assert "ETag" not in requests.get(service.url + query_path(SMALL), timeout=30).headers
    assert (
        "ETag"
        not in requests.post(
            f"{service.url}/api/query", json={"sql": SMALL, "publication": current}, timeout=30
        ).headers
    )
    gone = requests.get(
        service.url + query_path(SMALL, publication="20200101-000000-deadbeef"),
        headers={"If-None-Match": "*"},
        timeout=30,
    )
    assert gone.status_code == 404


def test_a_download_of_intervals_unions_and_lists_sends_them_as_text_under_their_names(service, tmp_path):
    """Parquet's writer takes no interval or union: those columns go as DuckDB's text of them, and
    the download neither fails nor holds its lease."""
    sql = "select interval 3 day + interval 2 hour as span, union_value(n := 7) as u, 1.5::double as x"
    download = requests.get(service.url + query_path(sql, format="parquet"), timeout=30)
    assert download.status_code == 200, download.text
    (tmp_path / "a.parquet").write_bytes(download.content)
    frame = pd.read_parquet(tmp_path / "a.parquet")
    assert frame.to_dict("records") == [{"span": "3 days 02:00:00", "u": "7", "x": 1.5}]
    # CSV sends them as text too, under their own names.
    as_csv = pd.read_csv(service.url + query_path(f"{sql}, [1, 2] as l", format="csv"))
    assert as_csv.to_dict("records") == [{"span": "3 days 02:00:00", "u": 7, "x": 1.5, "l": "[1, 2]"}]
    assert wait_for(lambda: state(service.url) == (0, 0))
    assert metrics(service.url)[("warehouse_serve_publications_open", ())] == 1


def test_a_download_whose_client_stops_reading_is_cut_off_and_lets_go(env):
    with served({**env, "WAREHOUSE_SERVE_STALL_S": "1"}) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        path = query_path("select range, range * 2 as twice from range(100000000)", format="csv")
        with socket.create_connection((host, int(port)), timeout=30) as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            assert raw.recv(1000).startswith(b"HTTP/1.1 200")
            # Reading nothing more, the connection open: the service cuts the download and lets it go.
            assert wait_for(lambda: metrics(running.url).get(("warehouse_serve_downloads_cut_total", ()), 0) == 1)
            assert state(running.url) == (0, 0)


def test_admission_leaves_no_place_idle_while_a_query_waits(monkeypatch):
    """The admission rule itself, on the event loop: three clients each run one query and queue
    another, with four places; the fair share (one each) orders who goes first, but the fourth
    place is taken, not left idle."""
    import anyio

    from orchestration.analysts.serving.admission import Admission

    async def scenario() -> list[str]:
        admission, order, release = Admission(), [], anyio.Event()

        async def query(client: str) -> None:
            async with admission.slot(client):
                order.append(client)
                await release.wait()

        async with anyio.create_task_group() as tasks:
            for client in ["a", "b", "c", "a", "b", "c"]:
                tasks.start_soon(query, client)
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)
            assert (admission.running, admission.waiting) == (4, 2)  # every place taken
            release.set()
        return order

    monkeypatch.setenv("WAREHOUSE_SERVE_MAX_QUERIES", "4")
    order = anyio.run(scenario)
    assert order[:4] == ["a", "b", "c", "a"] and sorted(order) == ["a", "a", "b", "b", "c", "c"]


# -- admission -----------------------------------------------------------------------------------------


def test_a_small_query_is_answered_within_seconds_while_16_runaways_from_other_clients_are_stopped(env):
    """Four places; 16 runaway queries from four other clients (addresses of the loopback network);
    a small query from a fifth client gets the next free place before their waiting ones."""
    with served({**env, "WAREHOUSE_SERVE_MAX_QUERIES": "4", "WAREHOUSE_SERVE_QUEUE_S": "30"}) as running:
        with ThreadPoolExecutor(16) as pool:
            runaways = [pool.submit(post, running.url, RUNAWAY, f"127.0.0.{2 + i % 4}") for i in range(16)]
            assert wait_for(lambda: state(running.url) == (4, 12)), state(running.url)
            started = time.monotonic()
            status, body, _ = post(running.url, SMALL, "127.0.0.9")
            waited = time.monotonic() - started
            outcomes = [future.result(timeout=120) for future in runaways]
        assert status == 200 and body["rows"] == [[193]]
        assert waited < TIMEOUT_S + 3, f"the small query waited {waited:.1f} s"
        assert [(s, b["error"]) for s, b, _ in outcomes] == [(400, "timeout")] * 16
        assert metrics(running.url)[("warehouse_serve_queries_running", ())] == 0


def test_past_its_wait_a_query_gets_503_with_retry_after(env):
    with served({**env, "WAREHOUSE_SERVE_MAX_QUERIES": "1", "WAREHOUSE_SERVE_QUEUE_S": "0.5"}) as running:
        with ThreadPoolExecutor(1) as pool:
            runaway = pool.submit(post, running.url, RUNAWAY)
            assert wait_for(lambda: state(running.url) == (1, 0))
            status, body, headers = post(running.url, SMALL)
            assert runaway.result(timeout=60)[1]["error"] == "timeout"
        assert status == 503 and body["error"] == "busy" and "WAREHOUSE_SERVE_MAX_QUERIES" in body["message"]
        assert headers["Retry-After"] == str(TIMEOUT_S)
        assert metrics(running.url)[("warehouse_serve_admission_rejections_total", ())] == 1
        assert post(running.url, SMALL)[0] == 200  # the place is free again


def test_a_query_whose_client_has_gone_stops_at_once_waiting_or_running(env):
    """Eight runaway queries whose clients hang up as soon as they have asked, four of them beyond
    the places: none waits for a place or runs to its time limit (30 s here) for nobody."""
    with served({**env, "WAREHOUSE_QUERY_TIMEOUT_S": "30", "WAREHOUSE_SERVE_MAX_QUERIES": "4"}) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        body = json.dumps({"sql": RUNAWAY}).encode()
        for i in range(8):
            with socket.create_connection((host, int(port)), timeout=30) as raw:
                raw.sendall(
                    f"POST /api/query HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            abandon(running.url, STALLS if i % 2 else RUNAWAY, read=0)
        time.sleep(0.5)

        def idle() -> bool:
            state = metrics(running.url)
            return state[("warehouse_serve_queries_running", ())] == 0 == state[("warehouse_serve_queries_waiting", ())]

        started = time.monotonic()
        assert wait_for(idle, 10)
        assert time.monotonic() - started < 5
        answered = time.monotonic()
        assert post(running.url, SMALL)[0] == 200 and time.monotonic() - answered < 2
        state = metrics(running.url)
        assert state[("warehouse_serve_requests_total", (("route", "/api/query"), ("status", "499")))] >= 8
        assert state.get(("warehouse_serve_downloads_cut_total", ()), 0) == 0
        assert state.get(("warehouse_serve_query_timeouts_total", ()), 0) == 0


# -- leases ----------------------------------------------------------------------------------------------


def abandon(url: str, sql: str, read: int) -> None:
    """Ask for a CSV download and hang up after ``read`` bytes of the answer (0: before any)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(f"GET {query_path(sql, format='csv')} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        received = 0
        while received < read and (chunk := raw.recv(min(read - received, 1 << 16))):
            received += len(chunk)


def wait_for(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
def test_no_lease_outlives_its_request_and_no_removed_publication_stays_open(own_home, monkeypatch):
    """Downloads abandoned before the first byte and during the body, cut by the time limit and by
    an error, a publication queried by id, then two publications with WAREHOUSE_KEEP_PUBLICATIONS=1: the
    service holds no removed file open, and at rest only the current publication."""
    monkeypatch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "1")
    first = publications.current(own_home)
    with served(home_env(own_home, WAREHOUSE_KEEP_PUBLICATIONS="1")) as running:
        pid = running.process.pid
        assert post(running.url, SMALL)[0] == 200
        at_rest = len(open_files(pid))
        slow_sort = "select * from marts.egov_scores, range(3000) order by random()"
        for _ in range(3):
            abandon(running.url, slow_sort, read=0)
            abandon(running.url, "select * from marts.egov_scores, range(200)", read=1000)
            abandon(running.url, STALLS, read=100)
            abandon(running.url, BREAKS, read=1 << 30)  # read until the service cuts it off
        assert post(running.url, SMALL, publication=first.id)[0] == 200
        publish(own_home, PUBLISHED_SCHEMAS, run_id="aaaaaaaa-second")
        publish(own_home, PUBLISHED_SCHEMAS, run_id="bbbbbbbb-third")
        newest = publications.current(own_home)
        assert not publications.kept_file(own_home, first).exists()

        def settled() -> bool:
            held = [f for f in open_files(pid) if f.endswith(".duckdb") or "(deleted)" in f]
            return held == [str(publications.kept_file(own_home, newest))]

        assert post(running.url, SMALL)[1]["publication"] == newest.id
        assert wait_for(settled), open_files(pid)
        assert not [f for f in open_files(pid) if "(deleted)" in f]
        assert len(open_files(pid)) <= at_rest + 2, open_files(pid)
        state = metrics(running.url)
        assert state[("warehouse_serve_publications_open", ())] == 1
        assert state[("warehouse_serve_queries_running", ())] == 0


@pytest.mark.slow
def test_abandoned_downloads_and_publishes_with_garbage_collection_forced_never_hang(own_home, monkeypatch):
    """The hang a soak found: a lease given back from an abandoned download's finalizer, which the
    garbage collector ran inside the lock that giving a lease back takes, so the thread waited on
    itself and every later query on that lock. A disconnect leaves the download's generator in
    cyclic garbage; here the collector runs every few allocations, whichever thread allocates, and
    (all older objects frozen) a full collection every hundred or so, so that garbage is collected
    at a point of chance, while clients cite older publications by id (each opened and closed
    under that lock before the fix), abandon downloads, and a refresh publishes. Every request must
    be answered; the code before the fix stopped answering within seconds."""
    from itertools import cycle

    import uvicorn

    from orchestration.analysts.serving.app import create_app

    monkeypatch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "10")
    monkeypatch.setenv("WAREHOUSE_QUERY_TIMEOUT_S", str(TIMEOUT_S))
    for i in range(8):  # publications for the clients to cite by id
        publish(own_home, PUBLISHED_SCHEMAS, run_id=f"{i}aaaaaaa-older")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(own_home), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 30)
    url = f"http://127.0.0.1:{port}"
    older = [p["id"] for p in requests.get(f"{url}/api/publications", timeout=30).json()[1:]]
    assert len(older) == 8

    def request(method: str, path: str, body: dict | None = None) -> int:
        """A request whose answer is read whole, or OSError (a timeout) if none comes within 10 s."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body else {}
            connection.request(method, path, json.dumps(body) if body else None, headers)
            answer = connection.getresponse()
            answer.read()
            return answer.status
        finally:
            connection.close()

    def hang_up(read: int) -> int:
        """A CSV download of the current publication, hung up on after ``read`` bytes (0: before any)."""
        path = query_path("select * from marts.egov_scores, range(100)", format="csv")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            received = 0
            while received < read and (chunk := raw.recv(read - received)):
                received += len(chunk)
        return 0

    cited = cycle(older)  # one at a time mostly, so that most of these queries open the one they cite

    def by_id() -> int:
        return request("POST", "/api/query", {"sql": SMALL, "publication": next(cited)})

    jobs = [lambda: hang_up(0), by_id, lambda: hang_up(200), by_id]
    answered: list[int] = []
    unanswered: list[str] = []
    over = threading.Event()

    def client(start: int) -> None:
        for i in range(start, 10**6):
            if over.is_set():
                return
            try:
                answered.append(jobs[i % len(jobs)]())
            except OSError as error:  # a timeout: a request the service never answered
                unanswered.append(repr(error))
                over.set()

    thresholds = gc.get_threshold()
    gc.freeze()  # what lives now is never collected: each full collection sees only what the load made
    gc.set_threshold(2, 10, 10)
    try:
        with ThreadPoolExecutor(6) as pool:
            for i in range(6):
                pool.submit(client, i)
            over.wait(4)
            publish(own_home, PUBLISHED_SCHEMAS, run_id="bbbbbbbb-during")
            over.wait(12)
            over.set()
        if not unanswered:
            try:
                assert request("POST", "/api/query", {"sql": SMALL}) == 200
            except OSError as error:
                unanswered.append(repr(error))
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        server.should_exit = True
        thread.join(1 if unanswered else 30)  # a server that hangs never ends
    assert not unanswered, f"the service stopped answering: {unanswered[0]} after {len(answered)} answers"
    assert len(answered) > 50 and 500 not in answered
    assert not thread.is_alive()


def test_the_served_answers_and_warehouse_query_write_json_alike(service, env):
    """One encoder for both doors: NaN and infinity as text (valid JSON), decimals, bytes, dates, lists."""
    from tests.conftest import run

    sql = (
        "select 'NaN'::double as nan, '-inf'::double as low, 1.25::decimal(5, 2) as d, '\\x41'::blob as b, "
        "date '2024-02-29' as day, [1.5, 'inf'::double] as l"
    )
    served_rows = requests.post(f"{service.url}/api/query", json={"sql": sql}, timeout=30).json()["rows"]

    def strict(constant):
        raise ValueError(f"not JSON: {constant}")

    cli = run(["query", "--json", sql], env)
    assert cli.returncode == 0, cli.stderr
    records = json.loads(cli.stdout, parse_constant=strict)
    expected = ["NaN", "-Infinity", 1.25, "41", "2024-02-29", [1.5, "Infinity"]]
    assert served_rows == [expected]
    assert [list(record.values()) for record in records] == [expected]
