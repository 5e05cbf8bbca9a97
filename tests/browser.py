"""Headless Chromium for the tests that open a page: Debian's chromium, with no network of its own.
Where it is not installed the test skips, saying so; in CI (CI=true) it fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # No network beyond this machine: every host name but localhost fails to resolve and other
    # requests go to a closed local port, so a page that needed a CDN would not work.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--proxy-server=127.0.0.1:9",
]


def require(*programs: str | None) -> None:
    if None in programs:
        reason = (
            "Chromium or its driver is not installed (make test installs Debian's chromium and chromium-driver); "
            "the browser checks did not run"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. In CI a browser check that cannot run fails.")
        pytest.skip(reason)


@contextmanager
def driven(profile: Path) -> Iterator:
    """A Selenium WebDriver on headless Chromium, through Debian's chromedriver (never one downloaded)."""
    require(CHROMIUM, CHROMEDRIVER)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
