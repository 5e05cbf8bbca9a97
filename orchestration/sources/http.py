"""One HTTP GET with a timeout and bounded retries, shared by every live upstream client."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


class UpstreamError(RuntimeError):
    """An upstream did not give a usable answer; the message names what was asked for and the URL."""


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float
    retries: int
    backoff: float
    sleep: Callable[[float], None] = time.sleep


def get(session: requests.Session, url: str, policy: RetryPolicy, what: str, *, missing_ok: bool = False) -> requests.Response | None:
    """GET ``url``; connection errors, timeouts and 5xx are tried again with exponential backoff.

    With ``missing_ok`` a 404 is an answer (None): the page does not exist (yet).
    """
    failure = ""
    for attempt in range(policy.retries + 1):
        if attempt:
            policy.sleep(policy.backoff * 2 ** (attempt - 1))
        try:
            response = session.get(url, timeout=policy.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            failure = f"{type(error).__name__}: {error}"
            continue
        if response.status_code >= 500:
            failure = f"HTTP {response.status_code}"
            continue
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code != 200:
            raise UpstreamError(f"{what}: HTTP {response.status_code} from {url}")
        return response
    raise UpstreamError(f"{what}: no answer after {policy.retries + 1} attempts ({failure}) from {url}")
