"""A client for the World Bank Indicators API v2, and the live snapshots it saves.

The API's habits it copes with (see warehouse/snapshots/worldbank/API_V2_FORMAT.md):
pagination with ``per_page``; numbers sent as strings in page metadata; ``pages: 0`` with
``null`` rows for empty results; errors inside HTTP 200 bodies as a one-element array; 502/503
under load; and HTML or XML where JSON was asked for. Every request has a timeout, connection
errors, timeouts and 5xx are retried with exponential backoff a bounded number of times, and any
other surprise fails with a message naming what was fetched and the URL.

A fetch is kept whole in memory and written only when every page of every request arrived, so a
failed live refresh never leaves a partial snapshot that looks complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import requests

from orchestration.sources import http
from orchestration.sources.snapshots import IncomingFile, save_incoming

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
        self.session = session or requests.Session()

    def indicator(self, code: str, countries: list[str] | None = None) -> LiveFetch:
        """All observations of one WDI indicator, for all economies or the given ISO3 codes."""
        fetch = LiveFetch(name=code, fetched_at=_now())
        for chunk in self._country_chunks(countries):
            self._collect(fetch, f"country/{chunk}/indicator/{code}", {"source": WDI_SOURCE_ID}, f"indicator {code}")
        return fetch

    def countries(self) -> LiveFetch:
        """The country and aggregate list with regions and income groups."""
        fetch = LiveFetch(name="country", fetched_at=_now())
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
            url = f"{self.base_url}/{path}?" + urlencode({"format": "json", "per_page": self.per_page, "page": page, **params})
            body, meta = self._get(url, what)
            fetch.urls.append(url)
            fetch.pages.append(body)
            fetch.lastupdated = fetch.lastupdated or meta.get("lastupdated")
            pages = _as_int(meta.get("pages"), what, url)
            if page >= pages:  # also ends `pages: 0`, the API's empty result
                return
            page += 1

    def _get(self, url: str, what: str) -> tuple[str, dict]:
        response = http.get(self.session, url, self.policy, what)
        return response.text, _page_meta(response, what, url)


def _page_meta(response: requests.Response, what: str, url: str) -> dict:
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


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def live_file_name(fetch: LiveFetch) -> str:
    return "country_live.json" if fetch.name == "country" else f"API_{fetch.name}_live.json"


def save_live_snapshots(folder: Path, fetches: list[LiveFetch], supersedes: Callable[[Path, LiveFetch], bool]) -> list[Path]:
    """Write every complete fetch as the active snapshot of its indicator (see save_incoming)."""
    by_name = {live_file_name(fetch): fetch for fetch in fetches}
    incoming = [
        IncomingFile(
            name=name,
            content=json.dumps({"name": fetch.name, "urls": fetch.urls, "fetched_at": fetch.fetched_at,
                                "lastupdated": fetch.lastupdated, "pages": fetch.pages}, ensure_ascii=False).encode(),
            obtained_from=fetch.urls[0],
            date_accessed=fetch.fetched_at,
            vintage=fetch.lastupdated or "",
            notes=f"live fetch, {len(fetch.pages)} page(s)",
        )
        for name, fetch in by_name.items()
    ]
    return save_incoming(folder, incoming, lambda path, item: supersedes(path, by_name[item.name]))
