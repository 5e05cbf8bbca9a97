"""The analyst report, opened in a real headless Chromium with no network."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=15000",
         # No network at all: every host name fails to resolve and every request goes to a closed
         # local port, so a chart that needed a CDN would not draw and the tests below would fail.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]
C5_NAMES = ["Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan"]


@pytest.fixture(scope="module")
def page(built) -> Path:
    return built.report_dir / "index.html"


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        reason = "Chromium is not installed (make test installs Debian's chromium); the browser checks did not run"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. In CI a browser check that cannot run fails.")
        pytest.skip(reason)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", text), "no script or style from a network"
    assert (page.parent / "docs.html").stat().st_size > 100_000, "the dbt docs are written next to the report"


def test_every_chart_renders_without_console_errors(page, tmp_path):
    result = chromium(page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if re.search(r"error|uncaught", line, re.I)], console
    dom = result.stdout
    charts = ["figure-1-latest", "figure-1-trends", "trajectory-egdi", "trajectory-epi", "internet-penetration"]
    for chart in charts:
        block = dom.split(f'id="{chart}"', 1)[1][:200_000]
        assert "main-svg" in block, f"{chart}: no SVG drawn"
        assert re.search(r'class="(point|bars?|trace scatter|trace bars)', block), f"{chart}: no marks drawn"
    for table in ("Table 1", "Table 3", "Internet penetration by source"):
        section = dom.split(table, 1)[1][:60_000]
        assert all(name in section for name in C5_NAMES), f"{table}: the five are not all shown"
    assert "&#10007;" in dom or "✗" in dom, "the audit marks a mismatch"


def test_a_screenshot_is_saved(page, tmp_path):
    shot = page.parent / "screenshot.png"
    shot.unlink(missing_ok=True)
    result = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1300,5000")
    assert result.returncode == 0 and shot.stat().st_size > 50_000, result.stderr[-2000:]
