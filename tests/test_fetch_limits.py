"""Live fetches against hostile servers on 127.0.0.1: limits the server cannot move."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestration.settings import Settings
from orchestration.snapshots import staging
from orchestration.snapshots.records import SourceProvenance
from orchestration.sources import datareportal, http, un_egov
from orchestration.sources.datareportal.live import fetch_changed_pages
from orchestration.sources.registry import SOURCES
from orchestration.sources.un_egov.live import MAX_REQUESTS, fetch_new_surveys
from tests.conftest import SNAPSHOTS
from tests.loopback import serve_with, still_holding, until_closed

POLICY = http.RetryPolicy(timeout=5, retries=2, backoff=0.01)
SURVEY = (SNAPSHOTS / "un_egov" / "EGOV_DATA_2024.csv").read_bytes()


def answering(status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None):
    def answer(handler):
        handler.send_response(status)
        for name, value in (headers or {"Content-Length": str(len(body))}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_a_server_that_answers_200_to_everything_is_asked_a_bounded_number_of_times(snapshot_copy, tmp_path):
    """With surveys held only up to 2012, the check asks for the next years, but never more than
    MAX_REQUESTS a check and never a year after next year."""
    folder = snapshot_copy / "un_egov"
    provenance = SourceProvenance.load(folder)
    for record in [r for r in provenance.files if r.file > "EGOV_DATA_2012.csv"]:
        (folder / record.file).unlink()
    provenance.files = [r for r in provenance.files if r.file <= "EGOV_DATA_2012.csv"]
    provenance.save(folder)
    asked: list[str] = []

    def everything(handler):
        asked.append(handler.path)
        answering(body=SURVEY)(handler)

    with serve_with(everything) as base:
        settings = Settings(
            home=tmp_path / "home",
            snapshots_dir=snapshot_copy,
            sources={"un_egov": un_egov.Options(url_template=base + "/EGOV_DATA_{year}.csv")},
        )
        fetched = fetch_new_surveys(settings, staging.candidate(settings, SOURCES["un_egov"]), lambda _: None, POLICY)
    assert asked == ["/EGOV_DATA_2014.csv", "/EGOV_DATA_2016.csv", "/EGOV_DATA_2018.csv"] and len(asked) == MAX_REQUESTS
    assert [f.name for f in fetched] == ["EGOV_DATA_2014.csv", "EGOV_DATA_2016.csv", "EGOV_DATA_2018.csv"]

    # And with the latest survey held, no year after next year is asked for, however the server answers.
    asked.clear()
    with serve_with(everything) as base:
        settings = Settings(
            home=tmp_path / "home2",
            snapshots_dir=SNAPSHOTS,
            sources={"un_egov": un_egov.Options(url_template=base + "/EGOV_DATA_{year}.csv")},
        )
        fetch_new_surveys(settings, staging.candidate(settings, SOURCES["un_egov"]), lambda _: None, POLICY)
    next_year = time.gmtime().tm_year + 1
    assert asked and all(int(path[len("/EGOV_DATA_") :][:4]) <= next_year for path in asked)


def test_with_no_survey_held_the_un_check_says_so(tmp_path):
    empty = tmp_path / "snapshots" / "un_egov"
    empty.mkdir(parents=True)
    SourceProvenance("un_egov", "UN DESA", "t", "u", "l", "c").save(empty)
    settings = Settings(
        home=tmp_path / "home",
        snapshots_dir=tmp_path / "snapshots",
        sources={"un_egov": un_egov.Options(url_template="http://127.0.0.1:9/{year}")},
    )
    with pytest.raises(
        http.UpstreamError, match=r"no survey \(EGOV_DATA_<year>\.csv\) is held.*drop the latest survey into the inbox"
    ):
        fetch_new_surveys(settings, staging.candidate(settings, SOURCES["un_egov"]), lambda _: None, POLICY)


def drip(handler, headers_first: bool = True):
    """A byte every 0.2 s, for ever: each read is quick, the answer never ends."""
    if headers_first:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 << 20))
        handler.end_headers()
        handler.wfile.flush()
        while True:
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.2)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)


@pytest.mark.parametrize("headers_first", [True, False], ids=["body", "headers"])
def test_a_drip_feeding_server_is_cut_off_at_the_deadline(monkeypatch, headers_first):
    monkeypatch.setenv("WAREHOUSE_FETCH_DEADLINE_S", "1")
    with serve_with(lambda handler: drip(handler, headers_first)) as base:
        started = time.monotonic()
        with pytest.raises(
            http.UpstreamError,
            match=rf"the report: .*1 s.*{base}/slow.*WAREHOUSE_FETCH_DEADLINE_S|"
            rf"the report: no complete answer within 1 s from {base}/slow",
        ):
            http.get(http.session(POLICY), base + "/slow", POLICY, "the report")
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "first, drip",
    [
        (b"", b""),
        (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 1000),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n", b"x" * 1000),
    ],
    ids=["silent", "headers", "body"],
)
def test_a_request_cut_off_at_its_deadline_leaves_no_thread_or_socket_behind(monkeypatch, first, drip):
    """The deadline stops the request itself: at it, the connection is closed (the server sees it go)
    and the thread that fetched ends, though the server would hold on for a minute."""
    monkeypatch.setenv("WAREHOUSE_FETCH_DEADLINE_S", "1")
    closed: list[float] = []
    with serve_with(lambda handler: until_closed(handler, closed, first, drip)) as base:
        before = set(threading.enumerate())
        started = time.monotonic()
        with pytest.raises(http.UpstreamError, match=rf"the page: no complete answer within 1 s from {base}/held"):
            http.get(http.session(POLICY), base + "/held", POLICY, "the page")
        assert time.monotonic() - started < 2
        assert not (held := still_holding(base, closed, before)), held


def test_an_oversized_body_is_refused_while_it_streams(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_FETCH_MAX_BYTES", str(1 << 20))
    big = b"x" * (3 << 20)
    with serve_with(answering(body=big)) as base:  # declared in Content-Length
        with pytest.raises(
            http.UpstreamError,
            match=rf"declares 3,145,728 bytes, over the limit of 1,048,576 \(WAREHOUSE_FETCH_MAX_BYTES\) from {base}/big",
        ):
            http.get(http.session(POLICY), base + "/big", POLICY, "the page")
    with serve_with(answering(body=big, headers={"Connection": "close"})) as base:  # no length: counted as it streams
        with pytest.raises(
            http.UpstreamError,
            match=rf"passed 1,048,576 bytes \(WAREHOUSE_FETCH_MAX_BYTES\) and was cut off, from {base}/big",
        ):
            http.get(http.session(POLICY), base + "/big", POLICY, "the page")


def test_a_redirect_to_another_host_is_refused_and_one_on_the_same_host_is_recorded(tmp_path):
    def redirect(handler):
        if handler.path == "/reports/digital-2022-turkmenistan":
            handler.send_response(302)
            # Another host (localhost is not 127.0.0.1 by name), then the same host over http.
            handler.send_header("Location", f"http://localhost:{handler.server.server_address[1]}/elsewhere")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            answering(status=404, body=b"no")(handler)

    with serve_with(redirect) as base:
        with pytest.raises(
            http.UpstreamError,
            match=rf"a redirect from {base}/reports/digital-2022-turkmenistan to "
            r"http://localhost:\d+/elsewhere was refused: only https on the same host",
        ):
            http.get(http.session(POLICY), base + "/reports/digital-2022-turkmenistan", POLICY, "the page")

    page = Path(__file__).parent / "fixtures" / "datareportal" / "digital-2022-turkmenistan.html"

    def moved(handler):
        if handler.path == "/reports/digital-2022-turkmenistan":
            handler.send_response(301)
            handler.send_header("Location", "/mirror/digital-2022-turkmenistan")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif handler.path == "/mirror/digital-2022-turkmenistan":
            answering(body=page.read_bytes())(handler)
        else:
            answering(status=404, body=b"no")(handler)

    with serve_with(moved) as base:
        settings = Settings(
            home=tmp_path / "home",
            snapshots_dir=SNAPSHOTS,
            sources={"datareportal": datareportal.Options(base_url=base)},
        )
        fetched = fetch_changed_pages(settings, staging.candidate(settings, SOURCES["datareportal"]), lambda _: None)
    [item] = fetched
    assert item.obtained_from == base + "/mirror/digital-2022-turkmenistan", "provenance names the URL that answered"


def test_a_429_is_retried_after_its_retry_after(monkeypatch):
    times: list[float] = []

    def busy_then_ok(handler):
        times.append(time.monotonic())
        if len(times) == 1:
            answering(status=429, body=b"slow down", headers={"Retry-After": "1", "Content-Length": "9"})(handler)
        else:
            answering(body=b"here it is")(handler)

    with serve_with(busy_then_ok) as base:
        answer = http.get(http.session(POLICY), base + "/page", POLICY, "the page")
    assert answer.content == b"here it is" and len(times) == 2
    assert times[1] - times[0] >= 0.95, "asked again only after the 1 s the server asked for"

    # A server that asks for longer than the deadline is given up on at the deadline, naming the URL.
    monkeypatch.setenv("WAREHOUSE_FETCH_DEADLINE_S", "1")
    with serve_with(
        answering(status=429, body=b"later", headers={"Retry-After": "3600", "Content-Length": "5"})
    ) as base:
        started = time.monotonic()
        with pytest.raises(http.UpstreamError, match=rf"no complete answer within 1 s from {base}/page"):
            http.get(http.session(POLICY), base + "/page", POLICY, "the page")
        assert time.monotonic() - started < 3
