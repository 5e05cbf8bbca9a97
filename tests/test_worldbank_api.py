"""The live API v2 client against a real HTTP server on 127.0.0.1."""

import json
import shutil
from pathlib import Path

import pytest

from orchestration.settings import Settings
from orchestration.snapshots.records import sha256_of, verified_files
from orchestration.sources.http import UpstreamError
from orchestration.sources.worldbank import Options as WorldBankOptions
from orchestration.sources.worldbank import parser as worldbank
from orchestration.sources.worldbank.api import WorldBankApiError, WorldBankClient, live_files
from tests.conftest import SNAPSHOTS, materialize
from tests.fake_worldbank_api import FakeWorldBankApi

WB = SNAPSHOTS / "worldbank"


@pytest.fixture(scope="module")
def api():
    fake = FakeWorldBankApi(WB)
    base_url = fake.start()
    yield fake, base_url
    fake.stop()


@pytest.fixture
def server(api):
    fake, base_url = api
    fake.faults.clear()
    fake.empty.clear()
    fake.numbers_as_strings = False
    fake.requests.clear()
    return fake, base_url


def client(base_url: str, **overrides) -> WorldBankClient:
    options = dict(per_page=1000, timeout=0.5, retries=2, backoff=0.01, countries_per_request=60)
    return WorldBankClient(base_url, **{**options, **overrides})


def served(fake: FakeWorldBankApi, code: str) -> set[tuple]:
    return {(r["country"]["id"], int(r["date"]), r["value"]) for r in fake.rows[code] if r["value"] is not None}


def saved(tmp_path, fetch) -> Path:
    [incoming] = live_files([fetch])
    path = tmp_path / incoming.name
    path.write_bytes(incoming.content)
    return path


def landed(tmp_path, fetch) -> set[tuple]:
    """Write the fetch as the file a refresh stages, and read it back as the warehouse does."""
    path = saved(tmp_path, fetch)
    frame, vintage = worldbank.read_indicator_json(path)
    assert vintage == "2026-07-13"
    return set(zip(frame.country_code, frame.year, frame.value))


def test_pages_through_and_lands_exactly_the_rows_served(server, tmp_path):
    fake, base_url = server
    fetch = client(base_url, per_page=1000).indicator("IT.NET.USER.ZS")
    assert len(fetch.pages) == 18  # 266 economies x 67 years, 1,000 a page
    assert all("source=2" in url and "format=json" in url and "per_page=1000" in url for url in fetch.urls)
    assert [url.split("page=")[-1].split("&")[0] for url in fetch.urls] == [str(n) for n in range(1, 19)]
    assert landed(tmp_path, fetch) == served(fake, "IT.NET.USER.ZS")
    assert fetch.lastupdated == "2026-07-13"


def test_an_aggregate_without_iso3_code_keeps_its_world_bank_id(server, tmp_path):
    fake, base_url = server
    assert any(r["countryiso3code"] == "" and r["value"] is not None for r in fake.rows["SP.POP.TOTL"])
    codes = {code for code, _, _ in landed(tmp_path, client(base_url).indicator("SP.POP.TOTL"))}
    assert "AFE" in codes and "" not in codes


def test_a_502_is_retried_and_then_succeeds(server, tmp_path):
    fake, base_url = server
    fake.faults[("IT.CEL.SETS.P2", 2)] = ["502", "502"]
    fetch = client(base_url, retries=2).indicator("IT.CEL.SETS.P2")
    assert sum("page=2&" in r or r.endswith("page=2") for r in fake.requests) == 3
    assert landed(tmp_path, fetch) == served(fake, "IT.CEL.SETS.P2")


def test_too_many_5xx_give_up_naming_indicator_and_url(server):
    fake, base_url = server
    fake.faults[("IT.CEL.SETS.P2", 1)] = ["502"] * 5
    with pytest.raises(
        UpstreamError,
        match=r"indicator IT\.CEL\.SETS\.P2: no answer after 3 attempts \(HTTP 502\) from http://127\.0\.0\.1:\d+/v2/country/all/indicator/IT\.CEL\.SETS\.P2\?",
    ):
        client(base_url, retries=2).indicator("IT.CEL.SETS.P2")


def test_an_error_inside_a_200_body_fails_clearly(server):
    fake, base_url = server
    fake.faults[("NY.GDP.PCAP.CD", 1)] = ["error200"]
    with pytest.raises(
        WorldBankApiError,
        match=r"indicator NY\.GDP\.PCAP\.CD: the API reported an error \(120 Invalid value: The provided parameter value is not valid\) from http://127\.0\.0\.1",
    ):
        client(base_url).indicator("NY.GDP.PCAP.CD")


def test_an_html_body_fails_clearly(server):
    fake, base_url = server
    fake.faults[("SP.POP.TOTL", 1)] = ["html"]
    with pytest.raises(
        WorldBankApiError,
        match=r"indicator SP\.POP\.TOTL: the API answered with something that is not JSON \(text/html, starting '<!DOCTYPE html>",
    ):
        client(base_url).indicator("SP.POP.TOTL")


def test_an_empty_result_ends_cleanly(server):
    fake, base_url = server
    fake.empty.add("IT.NET.BBND.P2")
    fetch = client(base_url).indicator("IT.NET.BBND.P2")
    assert len(fake.requests) == 1 and len(fetch.pages) == 1
    assert json.loads(fetch.pages[0]) == [{"page": 0, "pages": 0, "per_page": 1000, "total": 0}, None]


def test_a_slow_response_times_out_and_is_retried(server, tmp_path):
    fake, base_url = server
    fake.faults[("IT.NET.BBND.P2", 1)] = ["slow"]
    fetch = client(base_url, timeout=0.5, retries=1).indicator("IT.NET.BBND.P2")
    assert landed(tmp_path, fetch) == served(fake, "IT.NET.BBND.P2")


def test_a_response_always_slower_than_the_timeout_fails(server):
    fake, base_url = server
    fake.faults[("IT.NET.BBND.P2", 1)] = ["slow", "slow"]
    with pytest.raises(UpstreamError, match=r"indicator IT\.NET\.BBND\.P2: no answer after 2 attempts \(ReadTimeout"):
        client(base_url, timeout=0.5, retries=1).indicator("IT.NET.BBND.P2")


def test_numbers_sent_as_strings_in_page_metadata(server):
    fake, base_url = server
    fake.numbers_as_strings = True
    fetch = client(base_url, per_page=5000).indicator("IT.NET.USER.ZS")
    assert json.loads(fetch.pages[0])[0]["pages"] == "4" and len(fetch.pages) == 4


def test_country_lists_are_chunked_to_keep_urls_short(server, tmp_path):
    fake, base_url = server
    codes = ["KAZ", "KGZ", "TJK", "TKM", "UZB"]
    fetch = client(base_url, countries_per_request=2).indicator("IT.NET.USER.ZS", countries=codes)
    assert [url.split("/country/")[1].split("/")[0] for url in fetch.urls] == ["KAZ;KGZ", "TJK;TKM", "UZB"]
    assert {code for code, _, _ in landed(tmp_path, fetch)} == set(codes)


def test_country_metadata_flags_aggregates_and_strips_labels(server, tmp_path):
    fake, base_url = server
    fetch = client(base_url, per_page=100).countries()
    frame = worldbank.read_country_metadata_json(saved(tmp_path, fetch)).set_index("country_code")
    assert len(frame) == 265 and frame.is_aggregate.sum() == 48
    assert frame.loc["KAZ", "region"] == "Europe & Central Asia"
    assert frame.loc["WLD", "is_aggregate"]


def test_a_failed_fetch_saves_nothing(server, tmp_path):
    """Through the Dagster asset: a fault on the last indicator leaves every snapshot as it was."""
    fake, base_url = server
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    before = {p.name: sha256_of(p) for p in (snapshots / "worldbank").iterdir() if p.is_file()}
    fake.faults[("NY.GDP.PCAP.CD", 1)] = ["html"]
    settings = Settings(
        home=tmp_path / "home", snapshots_dir=snapshots, sources={"worldbank": WorldBankOptions(api_url=base_url)}
    )
    result = materialize(settings, ["snapshots/worldbank"], live=("worldbank",))
    assert not result.success
    assert {p.name: sha256_of(p) for p in (snapshots / "worldbank").iterdir() if p.is_file()} == before
    assert not (snapshots / "worldbank" / "superseded").exists()
    assert not (settings.build_dir / "staging" / "worldbank").exists()
    verified_files(snapshots / "worldbank", "*")
