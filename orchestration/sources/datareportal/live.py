"""DataReportal's live check: every configured report page, downloaded and compared with the copy held."""

from __future__ import annotations

from collections.abc import Callable

from orchestration.settings import Settings
from orchestration.sources import http
from orchestration.sources.datareportal import options, parser
from orchestration.sources.files import IncomingFile, SnapshotSet, now, sha256_bytes


def fetch_changed_pages(settings: Settings, current: SnapshotSet, log: Callable[[str], None]) -> list[IncomingFile]:
    config = parser.load_config(options(settings).config)
    policy = http.RetryPolicy(timeout=config.timeout_seconds, retries=config.retries, backoff=config.backoff_seconds)
    held = {record.file: record.sha256 for _, record in current.files}
    session = http.session(policy)
    incoming = []
    for name, (year, country) in parser.configured_pages(config).items():
        url = parser.page_url(options(settings).base_url, year, country)
        response = http.get(session, url, policy, f"DataReportal {country.iso3} {year}", missing_ok=True)
        if response is None:
            log(f"datareportal: no report at {url} (404)")
            continue
        if held.get(name) == sha256_bytes(response.content):
            continue
        log(f"datareportal: {'changed' if name in held else 'new'} report page {url}")
        incoming.append(
            IncomingFile(
                name,
                response.content,
                response.url,
                now(),
                vintage=f"Digital {year}",
                notes="report page saved by a live check",
            )
        )
    return incoming
