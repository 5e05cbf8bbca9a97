"""The UN survey's live check: UN DESA documents no stable download URL for the Data Center's
CSV exports, so an operator who knows one sets UN_EGOV_URL_TEMPLATE (with ``{year}``), and each
check asks it for the survey years after the latest one held. A 404 means "not published yet".

The probe is bounded whatever the server answers: no year after next year, and at most
MAX_REQUESTS requests per check, so a server that answers 200 to everything cannot keep it asking."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from orchestration.settings import Settings
from orchestration.sources import http
from orchestration.sources.files import IncomingFile, SnapshotSet, now
from orchestration.sources.un_egov import options

# Surveys appear every two years; the check asks for the next one, and again while it finds one.
SURVEY_EVERY_YEARS = 2
MAX_REQUESTS = 3
POLICY = http.RetryPolicy(timeout=60, retries=3, backoff=2.0)
_YEAR = re.compile(r"EGOV_DATA_(\d{4})\.csv$")


def fetch_new_surveys(
    settings: Settings, current: SnapshotSet, log: Callable[[str], None], policy: http.RetryPolicy = POLICY
) -> list[IncomingFile]:
    template = options(settings).url_template
    if not template:
        log("un_egov: UN_EGOV_URL_TEMPLATE is not set; only the inbox is looked at")
        return []
    if "{year}" not in template:
        raise http.UpstreamError(f"UN_EGOV_URL_TEMPLATE has no {{year}}: {template}")
    held = [int(match.group(1)) for _, record in current.files if (match := _YEAR.match(record.file))]
    if not held:
        raise http.UpstreamError(
            "un_egov: no survey (EGOV_DATA_<year>.csv) is held, so the live check does not know which "
            "year to ask for next; drop the latest survey into the inbox first"
        )
    last_year = datetime.now(UTC).year + 1  # a survey dated after next year is not a survey
    years = list(range(max(held) + SURVEY_EVERY_YEARS, last_year + 1, SURVEY_EVERY_YEARS))[:MAX_REQUESTS]
    session = http.session(policy)
    incoming = []
    for year in years:
        url = template.format(year=year)
        response = http.get(session, url, policy, f"UN E-Government Survey {year}", missing_ok=True)
        if response is None:
            log(f"un_egov: no {year} survey at {url} yet (404)")
            return incoming
        log(f"un_egov: the {year} survey is published at {response.url}")
        incoming.append(
            IncomingFile(
                f"EGOV_DATA_{year}.csv",
                response.content,
                obtained_from=response.url,
                date_accessed=now(),
                vintage=f"E-Government Survey {year}",
                notes="downloaded by a live check",
            )
        )
    log(
        f"un_egov: asked for {', '.join(map(str, years)) or 'no year'}; the check asks for no year after {last_year} "
        f"and at most {MAX_REQUESTS} a check"
    )
    return incoming
