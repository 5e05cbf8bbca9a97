"""A synthetic whole-WDI zip in the real layout (WDI_CSV.zip), for the scale benchmark only.

The zip holds what the World Bank's does: ``WDICSV.csv`` (UTF-8 with BOM, every field quoted, CRLF,
a trailing empty column, one row per economy or aggregate and series, 1960-2023), ``WDISeries.csv``
and ``WDICountry.csv``. The economies and aggregates are the 266 real codes and names of the
embedded files, with their real classification; population is the real SP.POP.TOTL, so weighted
means weigh as they would. Every other series is synthetic: its code (SYN.BENCH.<n>), its name
("SYNTHETIC ...") and its topic say so, its values are uniform in 0-100 with empty cells at the
densities measured in the embedded files, and the provenance record says what it is. It is written
to a temporary folder and never published.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import date
from pathlib import Path

import numpy as np

from orchestration.settings import PROJECT_ROOT
from orchestration.snapshots.records import SourceProvenance

EMBEDDED = PROJECT_ROOT / "warehouse" / "snapshots"
POPULATION = EMBEDDED / "worldbank" / "API_SP.POP.TOTL_DS2_en_csv_v2_85.csv"
METADATA = EMBEDDED / "worldbank" / "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
YEARS = list(range(1960, 2024))
# Shares of empty cells in the embedded files (SP.POP.TOTL, NY.GDP.PCAP.CD, IT.CEL.SETS.P2,
# IT.NET.USER.ZS), measured with DuckDB; series take them in turn.
MISSING_SHARES = (0.006, 0.212, 0.244, 0.511)
# The World Bank's aggregation methods, in turn: most WDI series with one are weighted averages.
AGGREGATION_METHODS = ("Weighted average", "Weighted average", "Sum", "", "Median")
SERIES_HEADER = [
    "Series Code",
    "Topic",
    "Indicator Name",
    "Short definition",
    "Long definition",
    "Unit of measure",
    "Periodicity",
    "Base Period",
    "Other notes",
    "Aggregation method",
    "Limitations and exceptions",
    "Notes from original source",
    "General comments",
    "Source",
    "Statistical concept and methodology",
    "Development relevance",
    "Related source links",
    "Other web links",
    "Related indicators",
    "License Type",
]
COUNTRY_HEADER = [
    "Country Code",
    "Short Name",
    "Table Name",
    "Long Name",
    "2-alpha code",
    "Currency Unit",
    "Special Notes",
    "Region",
    "Income Group",
    "WB-2 code",
]


def indicator_code(number: int) -> str:
    return f"SYN.BENCH.{number:04d}"


def _rows(path: Path, skip: int) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row for row in list(csv.reader(handle))[skip:] if row]


def _csv(rows: list[list[str]]) -> bytes:
    """Every field quoted, CRLF, a trailing empty column, and a byte-order mark."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(row + [""] for row in rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _series_name(number: int) -> str:
    return f"SYNTHETIC benchmark series {number:04d}, not real data (% of population)"


def synthetic_values(number: int, economies: int, seed: int) -> list[list[str]]:
    """One series' cells per economy, as the zip writes them; the same for the same number and seed."""
    rng = np.random.default_rng([seed, number])
    values = rng.uniform(0, 100, size=(economies, len(YEARS))).round(6)
    missing = rng.random(size=values.shape) < MISSING_SHARES[number % len(MISSING_SHARES)]
    return [["" if gap else f"{value:g}" for value, gap in zip(row, gaps)] for row, gaps in zip(values, missing)]


def write_zip(target: Path, series: int, seed: int = 20261128, changed: frozenset[int] = frozenset()) -> Path:
    """The whole-database zip with the real population and ``series - 1`` synthetic series. Series
    numbered in ``changed`` take other values, as in a release that revised them."""
    population = _rows(POPULATION, 5)
    economies = [(row[0], row[1]) for row in population]
    header = ["Country Name", "Country Code", "Indicator Name", "Indicator Code", *map(str, YEARS)]
    cells = {
        number: synthetic_values(number, len(economies), seed + (number in changed)) for number in range(1, series)
    }
    data = [header]
    for index, (name, code) in enumerate(economies):
        data.append([name, code, population[index][2], "SP.POP.TOTL", *population[index][4 : 4 + len(YEARS)]])
        data += [
            [name, code, _series_name(number), indicator_code(number), *cells[number][index]]
            for number in range(1, series)
        ]
    metadata = [
        [
            "SP.POP.TOTL",
            "Health: Population: Structure",
            "Population, total",
            *[""] * 6,
            "Sum",
            *[""] * 3,
            "United Nations Population Division (real values)",
            *[""] * 5,
            "CC BY-4.0",
        ]
    ]
    metadata += [
        [
            indicator_code(number),
            "SYNTHETIC benchmark topic",
            _series_name(number),
            *[""] * 3,
            "Annual",
            *[""] * 2,
            AGGREGATION_METHODS[number % len(AGGREGATION_METHODS)],
            *[""] * 3,
            "bench/synthetic_wdi.py (not real data)",
            *[""] * 5,
            "none: synthetic",
        ]
        for number in range(1, series)
    ]
    countries = [
        [code, name, name, name, "", "", notes, region, income, ""]
        for code, region, income, notes, name in (row[:5] for row in _rows(METADATA, 1))
    ]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WDICSV.csv", _csv(data))
        archive.writestr("WDISeries.csv", _csv([SERIES_HEADER, *metadata]))
        archive.writestr("WDICountry.csv", _csv([COUNTRY_HEADER, *countries]))
    return target


def write_snapshot_set(root: Path, series: int, seed: int = 20261128) -> Path:
    """A whole snapshot tree under ``root``: the embedded UN and DataReportal snapshots, and a
    worldbank/ folder holding only the synthetic WDI_CSV.zip. Returns the indicator configuration
    (TOML) to point WAREHOUSE_WORLDBANK_CONFIG at: it requires population alone."""
    for source in ("un_egov", "datareportal"):
        shutil.copytree(EMBEDDED / source, root / source)
    folder = root / "worldbank"
    folder.mkdir(parents=True)
    provenance = SourceProvenance(
        source="worldbank",
        producer="bench/synthetic_wdi.py (SYNTHETIC, not World Bank data; population is real)",
        title="A synthetic whole-WDI zip in the WDI_CSV.zip layout, for benchmarks only",
        upstream_url="none",
        licence="none: generated",
        citation="not citable: synthetic",
    )
    today = date.today().isoformat()
    write_zip(folder / "WDI_CSV.zip", series, seed)
    provenance.record(
        folder / "WDI_CSV.zip", obtained_from="generated", date_accessed=today, vintage=today, notes="SYNTHETIC"
    )
    provenance.save(folder)
    config = root / "worldbank.toml"
    live = (PROJECT_ROOT / "config" / "worldbank.toml").read_text(encoding="utf-8").split("[live]", 1)[1]
    config.write_text(
        '[[indicator]]\ncode = "SP.POP.TOTL"\nunit = "count"\nweighting = "sum"\n\n[live]' + live, encoding="utf-8"
    )
    return config
