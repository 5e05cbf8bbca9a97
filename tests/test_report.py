"""The analyst report, opened in a real headless Chromium with no network."""

import csv
import html
import re
import subprocess
from pathlib import Path

import pytest

from orchestration.analysts.report_asset import docs_folder
from orchestration.transform.changes import code_fingerprint
from tests import raw_files
from tests.browser import CHROMIUM, FLAGS, require
from tests.conftest import PAPER
from tests.paper_printed import expected_status

C5_NAMES = ["Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan"]


@pytest.fixture(scope="module")
def page(built) -> Path:
    return built.report_dir / "index.html"


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    require(CHROMIUM)
    return subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", text), "no script or style from a network"
    docs = (page.parent / "docs.html").read_text(encoding="utf-8")
    assert all(f"model.digital_warehouse.{name}" in docs for name in ("egov_scores", "wdi_observations", "audit")), (
        "the dbt docs, with the manifest of every model, are written next to the report"
    )
    # Drawn once for this version of the code, for every warehouse home of the checkout.
    assert docs == (docs_folder(code_fingerprint()) / "static_index.html").read_text(encoding="utf-8")


def test_table_1_shows_the_raw_files_numbers_and_marks_the_printed_ones(page):
    """Each of the five's row: EGDI 2022 and 2012, the 10-year change and the ranks recomputed
    from the survey files, each beside the study's printed number and its mark."""
    table = page.read_text(encoding="utf-8").split("Table 1:", 1)[1].split("</table>", 1)[0]
    new = raw_files.survey(2022)
    printed = {
        row["country"]: row for row in csv.DictReader((PAPER / "table1_egdi_central_asia.csv").open(encoding="utf-8"))
    }
    for iso3 in raw_files.C5:
        name = new.loc[iso3, "name"]
        row = table.split(f"<td>{name}</td>", 1)[1].split("</tr>", 1)[0]
        values = raw_files.table_1(iso3)
        shown = [
            f"{values['egdi_2022']:.4f}",
            f"{values['egdi_2012']:.4f}",
            f"{values['dynamics_10y_pct']:.1f}",
            f"{int(values['rank_2022'])}",
            f"{int(values['rank_change_since_2012'])}",
        ]
        cells = re.findall(r"<td>(-?[\d.]+) <span class='(\w+)'[^>]*>\(printed ([^ ]+) ", row)
        assert [cell[0] for cell in cells] == shown, name
        assert [float(cell[2]) for cell in cells] == [float(printed[name][m]) for m in values], name
        assert [cell[1] for cell in cells] == [
            expected_status(printed[name][m], v, exact="rank" in m) for m, v in values.items()
        ], name


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


def test_the_sources_section_names_each_sources_vintage_licence_and_citation(page):
    """Against each source's provenance.json, not the marts the page is drawn from."""
    sources = html.unescape(page.read_text(encoding="utf-8").split("<h2>Sources</h2>", 1)[1])
    items = dict(re.findall(r"<li><b>(\w+)</b>: (.*?)</li>", sources))
    assert set(items) == {"un_egov", "worldbank", "datareportal"}
    for source, text in items.items():
        record = raw_files.provenance(source)
        vintages = sorted(entry["vintage"] for entry in record["files"] if entry.get("vintage"))
        assert f"Licence: {record['licence']}." in text and f"Cite as: {record['citation']}." in text, source
        assert f"Vintage {vintages[0]}" in text and f"; {len(record['files'])} files." in text, source


def test_the_page_names_the_publication_it_was_drawn_from(page, db):
    """So a reader can cite it, and query the same numbers by its id while it is kept."""
    publication = db.execute("select publication_id from meta.publication").fetchall()[0][0]
    assert f"<code id='publication'>{publication}</code>" in page.read_text(encoding="utf-8")
