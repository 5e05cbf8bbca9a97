"""A client for the World Bank Indicators API v2, and the live snapshots it saves.

The API's habits it copes with (see warehouse/snapshots/worldbank/API_V2_FORMAT.md):
pagination with ``per_page``; numbers sent as strings in page metadata; ``pages: 0`` with
``null`` rows for empty results; errors inside HTTP 200 bodies as a one-element array; 502/503
under load; and HTML or XML where JSON was asked for. Every request has a timeout, connection
errors, timeouts and 5xx are retried with exponential backoff a bounded number of times, and any
other surprise fails with a message naming what was fetched and the URL.

A fetch is kept whole in memory and staged only when every page of every request arrived, so a
failed live refresh never leaves a partial snapshot that looks complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

from orchestration.settings import Settings
from orchestration.sources import http
from orchestration.sources.files import IncomingFile, SnapshotSet, now
from orchestration.sources.worldbank import options
from orchestration.sources.worldbank.parser import load_config, snapshot_key

WDI_SOURCE_ID = 2


class WorldBankApiError(http.UpstreamError):
    """The API did not give a usable answer; the message names what was asked for and the URL."""


@dataclass
class LiveFetch:
    """Every page body of one indicator (or of the country list), as received."""

    name: str
    urls: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    lastupdated: str | None = None
    fetched_at: str = ""


class WorldBankClient:
    def __init__(
        self,
        base_url: str,
        *,
        per_page: int,
        timeout: float,
        retries: int,
        backoff: float,
        countries_per_request: int,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.per_page = per_page
        self.policy = http.RetryPolicy(timeout=timeout, retries=retries, backoff=backoff)
        self.countries_per_request = countries_per_request
        self.session = session or http.session(self.policy)

    def indicator(self, code: str, countries: list[str] | None = None) -> LiveFetch:
        """All observations of one WDI indicator, for all economies or the given ISO3 codes."""
        fetch = LiveFetch(name=code, fetched_at=now())
        for chunk in self._country_chunks(countries):
            self._collect(fetch, f"country/{chunk}/indicator/{code}", {"source": WDI_SOURCE_ID}, f"indicator {code}")
        return fetch

    def lastupdated(self, code: str) -> str | None:
        """The release date of one indicator, from the page metadata of a one-row request."""
        url = f"{self.base_url}/country/all/indicator/{code}?" + urlencode(
            {"format": "json", "per_page": 1, "page": 1, "source": WDI_SOURCE_ID}
        )
        return self._get(url, f"indicator {code} (release check)")[1].get("lastupdated")

    def countries(self) -> LiveFetch:
        """The country and aggregate list with regions and income groups."""
        fetch = LiveFetch(name="country", fetched_at=now())
        self._collect(fetch, "country", {}, "country metadata")
        return fetch

    def _country_chunks(self, countries: list[str] | None) -> list[str]:
        if not countries:
            return ["all"]
        size = self.countries_per_request
        return [";".join(countries[i : i + size]) for i in range(0, len(countries), size)]

    def _collect(self, fetch: LiveFetch, path: str, params: dict, what: str) -> None:
        page = 1
        while True:
            url = f"{self.base_url}/{path}?" + urlencode(
                {"format": "json", "per_page": self.per_page, "page": page, **params}
            )
            body, meta, answered = self._get(url, what)
            fetch.urls.append(answered)
            fetch.pages.append(body)
            fetch.lastupdated = fetch.lastupdated or meta.get("lastupdated")
            pages = _as_int(meta.get("pages"), what, url)
            if page >= pages:  # also ends `pages: 0`, the API's empty result
                return
            page += 1

    def _get(self, url: str, what: str) -> tuple[str, dict, str]:
        """A page's body, its metadata, and the URL that answered."""
        response = http.get(self.session, url, self.policy, what)
        return response.text, _page_meta(response, what, response.url), response.url


def _page_meta(response: http.Answer, what: str, url: str) -> dict:
    try:
        payload = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "unknown type")
        raise WorldBankApiError(
            f"{what}: the API answered with something that is not JSON ({kind}, starting {response.text[:60]!r}) from {url}"
        ) from None
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], dict) and "message" in payload[0]:
        messages = "; ".join(f"{m.get('id')} {m.get('key')}: {m.get('value')}" for m in payload[0]["message"])
        raise WorldBankApiError(f"{what}: the API reported an error ({messages}) from {url}")
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], dict)):
        raise WorldBankApiError(f"{what}: unexpected response shape (not [page_meta, rows]) from {url}")
    if payload[1] is not None and not isinstance(payload[1], list):
        raise WorldBankApiError(f"{what}: rows are neither a list nor null from {url}")
    return payload[0]


def _as_int(value, what: str, url: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise WorldBankApiError(f"{what}: page count {value!r} is not a number from {url}") from None


def live_file_name(fetch: LiveFetch) -> str:
    return "country_live.json" if fetch.name == "country" else f"API_{fetch.name}_live.json"


def live_files(fetches: list[LiveFetch]) -> list[IncomingFile]:
    """Every complete fetch as a file to stage: the page bodies as received, with their origin."""
    return [
        IncomingFile(
            name=live_file_name(fetch),
            content=json.dumps(
                {
                    "name": fetch.name,
                    "urls": fetch.urls,
                    "fetched_at": fetch.fetched_at,
                    "lastupdated": fetch.lastupdated,
                    "pages": fetch.pages,
                },
                ensure_ascii=False,
            ).encode(),
            obtained_from=fetch.urls[0],
            date_accessed=fetch.fetched_at,
            vintage=fetch.lastupdated or "",
            notes=f"live fetch, {len(fetch.pages)} page(s)",
        )
        for fetch in fetches
    ]


def client_for(settings: Settings) -> WorldBankClient:
    _, live = load_config(options(settings).config)
    return WorldBankClient(
        options(settings).api_url,
        per_page=live.per_page,
        timeout=live.timeout_seconds,
        retries=live.retries,
        backoff=live.backoff_seconds,
        countries_per_request=live.countries_per_request,
    )


def fetch_changed(settings: Settings, current: SnapshotSet, log: Callable[[str], None]) -> list[IncomingFile]:
    """Ask the API for each configured indicator's ``lastupdated`` (one row per request); fetch
    whole only the indicators whose release differs from the snapshot held, and then the country
    list with them. An unchanged release costs one small request per indicator."""
    indicators, _ = load_config(options(settings).config)
    client = client_for(settings)
    held = {snapshot_key(path): record.vintage for path, record in current.files}
    changed = []
    for indicator in indicators:
        release = client.lastupdated(indicator.code)
        vintage = held.get(indicator.code)
        if vintage is not None and release is not None and vintage.split(" ")[0] == release:
            log(f"worldbank: {indicator.code} unchanged (release {release})")
            continue
        log(f"worldbank: {indicator.code}: release {release} upstream, {vintage or 'nothing'} held: fetching")
        changed.append(indicator.code)
    if not changed:
        return []
    return live_files([client.countries()] + [client.indicator(code) for code in changed])
