"""DataReportal "Digital <year>" figures: the curated citations file and the report-page parser.

DataReportal publishes no data files: its numbers sit in the prose of each country report. So the
warehouse keeps a curated file of figures, each with the report it comes from and the document
that quoted it, and in live mode reads the report pages themselves with a parser for their fixed
sentence template. The rules, checked before anything is written:

- ``qualifier = more_than`` (or ``less_than``) makes the value a bound, never a point value;
- the same figure quoted twice with the same value is one fact with two citations;
- the same (country, report year, metric) with different values is a conflict: an error naming
  both rows and their sources, never resolved silently;
- unknown metrics, units or ISO3 codes and years out of range are errors naming the row.
"""

from __future__ import annotations

import csv
import html
import io
import re
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from orchestration.sources.text_files import InputFileError, parsed_once, read_utf8

FIGURES_FILE = "figures.csv"
PAGE_PATTERN = "digital-*.html"
COLUMNS = [
    "iso3",
    "country",
    "report_year",
    "metric",
    "value",
    "unit",
    "qualifier",
    "report_url",
    "quoted_in",
    "quoted_url",
    "note",
]
# metric -> the units a value of it may be given in
METRICS = {
    "internet_penetration": {"percent_of_population"},
    "internet_users": {"million_people", "thousand_people"},
    "population": {"million_people", "thousand_people"},
    "offline_population": {"million_people", "thousand_people"},
    "cellular_mobile_connections": {"million_connections", "thousand_connections"},
    "cellular_mobile_connections_pct": {"percent_of_population"},
    "social_media_users": {"million_people", "thousand_people"},
}
QUALIFIERS = {"", "more_than", "less_than"}


class DataReportalError(InputFileError):
    """A curated row or a report page that cannot be trusted; the message says which and why."""


@dataclass(frozen=True)
class Country:
    iso3: str
    slug: str
    name: str


@dataclass(frozen=True)
class DataReportalConfig:
    years: list[int]
    countries: list[Country]
    timeout_seconds: float
    retries: int
    backoff_seconds: float


@parsed_once
def load_config(path: Path) -> DataReportalConfig:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    countries = [Country(iso3=iso3, **entry) for iso3, entry in data["countries"].items()]
    return DataReportalConfig(years=list(data["years"]), countries=countries, **data["live"])


def read_figures(path: Path, known_iso3: set[str]) -> pd.DataFrame:
    """Every row of the curated file, checked for form (fields, names, numbers, citation); raises
    listing every bad row and every conflict. Plausible ranges of years and values are content:
    the gate checks them (expectations/datareportal_figures.py)."""
    reader = csv.DictReader(io.StringIO(read_utf8(path), newline=""))
    if reader.fieldnames != COLUMNS:
        raise DataReportalError(
            f"{path}: line 1: header must be {','.join(COLUMNS)}; got {','.join(reader.fieldnames or [])}"
        )
    rows, problems = [], []
    for record in reader:
        line = reader.line_num
        row_problems = _row_problems(record, known_iso3)
        problems += [f"line {line}: {problem}" for problem in row_problems]
        if not row_problems:
            rows.append(
                {
                    **record,
                    "report_year": int(record["report_year"]),
                    "value": float(record["value"]),
                    "source_line": line,
                }
            )
    if problems:
        raise DataReportalError(f"{path}: " + "; ".join(problems))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "source_line"])
    check_conflicts(frame, str(path))
    return frame


def _row_problems(record: dict, known_iso3: set[str]) -> list[str]:
    problems = []
    if None in record or any(value is None for value in record.values()):
        return ["wrong number of fields"]
    metric, unit = record["metric"].strip(), record["unit"].strip()
    if record["iso3"] not in known_iso3:
        problems.append(f"unknown ISO3 code {record['iso3']!r}")
    if metric not in METRICS:
        problems.append(f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))})")
    elif unit not in METRICS[metric]:
        problems.append(f"unit {unit!r} does not fit metric {metric} (allowed: {', '.join(sorted(METRICS[metric]))})")
    if not re.fullmatch(r"\d{4}", record["report_year"]):
        problems.append(f"report year {record['report_year']!r} is not a year")
    try:
        float(record["value"])
    except ValueError:
        problems.append(f"value {record['value']!r} is not a number")
    if record["qualifier"] not in QUALIFIERS:
        problems.append(f"qualifier {record['qualifier']!r} must be empty, more_than or less_than")
    if not record["report_url"].startswith("https://datareportal.com/"):
        problems.append("report_url must be a datareportal.com report")
    if not record["quoted_in"].strip():
        problems.append("quoted_in (who quoted the figure) is empty")
    return problems


def check_conflicts(frame: pd.DataFrame, where: str) -> None:
    """The same key with different values is an error that shows every version and its source."""
    conflicts = []
    for key, group in frame.groupby(["iso3", "report_year", "metric"]):
        if group[["value", "unit", "qualifier"]].drop_duplicates().shape[0] > 1:
            versions = "; ".join(
                f"{row.value:g} {row.unit} {row.qualifier or 'exact'} (line {row.source_line}, quoted in {row.quoted_in})"
                for row in group.itertuples()
            )
            conflicts.append(f"{key[0]} {key[1]} {key[2]} has different values: {versions}")
    if conflicts:
        raise DataReportalError(f"{where}: conflicting figures, resolve by hand: " + " | ".join(conflicts))


# -- report pages -------------------------------------------------------------------------------

_NUMBER = r"(\d+(?:\.\d+)?)"
_SCALE = r"(million|thousand)"
_PERCENT = r"(?:%| percent)"
# metric -> (any mention of the metric, the full sentence of the template). The mentions are broad
# on purpose: a page that speaks of a figure in words the template does not match must stop the
# refresh, not pass as "figure missing".
_TEMPLATE = {
    "population": (
        "population of {country}",
        r"As of January {year}, the total population of {country} was {n} {scale}",
    ),
    "internet_users": ("internet users", r"There were {n} {scale} internet users in {country} in January {year}"),
    "internet_penetration": (
        "internet penetration",
        r"The internet penetration rate, which is the share of the population that has access to the Internet, was {n}{pct}",
    ),
    "cellular_mobile_connections": (
        "mobile connections",
        r"In January {year} there were {n} {scale} cellular mobile connections in {country} which is equivalent to {n}{pct} of the total population",
    ),
    "social_media_users": (
        "social media users",
        r"There were {n} {scale} social media users in {country} in January {year}",
    ),
}
_UNIT_KIND = {
    "population": "people",
    "internet_users": "people",
    "social_media_users": "people",
    "cellular_mobile_connections": "connections",
}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return re.sub(r"\s+", " ", html.unescape(" ".join(parser.parts))).strip()


def parse_report_page(page: str, country: Country, year: int, url: str) -> tuple[list[dict], list[str]]:
    """The headline figures a report page states, and the metrics it does not mention.

    A page that mentions a figure in words the template does not match raises: a changed
    template must stop the refresh, never yield a wrong or shifted number.
    """
    text = page_text(page)
    lowered = text.lower()
    mentions = {metric: mention.format(country=country.name).lower() for metric, (mention, _) in _TEMPLATE.items()}
    if not any(mention in lowered for mention in mentions.values()):
        raise DataReportalError(
            f"{url}: no headline figure of the template found; is this a Digital {year} country report?"
        )
    figures, missing = [], []
    for metric, (_, pattern) in _TEMPLATE.items():
        anchor = mentions[metric]
        if anchor not in lowered:
            missing.append(metric)
            continue
        regex = pattern.format(year=year, country=re.escape(country.name), n=_NUMBER, scale=_SCALE, pct=_PERCENT)
        match = re.search(regex, text)
        if not match:
            at = lowered.find(anchor)
            sentence = text[max(at - 120, 0) : at + 120]
            raise DataReportalError(f"{url}: {metric}: the wording no longer matches the template: ...{sentence}...")
        figures += _figures(metric, match, country, year, url)
    return figures, missing


def _figures(metric: str, match: re.Match, country: Country, year: int, url: str) -> list[dict]:
    base = {
        "iso3": country.iso3,
        "country": country.name,
        "report_year": year,
        "qualifier": "",
        "report_url": url,
        "quoted_in": "DataReportal report page",
        "quoted_url": url,
        "note": f"extracted from the text: {match.group(0)!r}",
    }
    if metric == "internet_penetration":
        return [{**base, "metric": metric, "value": float(match.group(1)), "unit": "percent_of_population"}]
    unit = f"{match.group(2)}_{_UNIT_KIND[metric]}"
    figures = [{**base, "metric": metric, "value": float(match.group(1)), "unit": unit}]
    if metric == "cellular_mobile_connections":
        figures.append(
            {
                **base,
                "metric": "cellular_mobile_connections_pct",
                "value": float(match.group(3)),
                "unit": "percent_of_population",
            }
        )
    return figures


def page_url(base_url: str, year: int, country: Country) -> str:
    return f"{base_url.rstrip('/')}/reports/digital-{year}-{country.slug}"


def page_file_name(year: int, country: Country) -> str:
    return f"digital-{year}-{country.slug}.html"


def configured_pages(config: DataReportalConfig) -> dict[str, tuple[int, Country]]:
    """The report page file of every configured country and year."""
    return {page_file_name(year, country): (year, country) for country in config.countries for year in config.years}
