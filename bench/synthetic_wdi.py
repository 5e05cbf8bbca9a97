"""Synthetic World Bank indicators in the real bulk CSV layout, for the scale benchmark only.

Each file looks like an original WDI download: UTF-8 with BOM, the 4-line preamble with "Last
Updated Date", every field quoted, CRLF, a trailing comma, the 266 real economies (codes and
names copied from the embedded IT.CEL.SETS.P2 file) and 1960-2023. Missing cells come at the
densities measured in the embedded files. The codes (SYN.BENCH.<n>), the names ("SYNTHETIC ...")
and the provenance record say what the data is; it is written to a temporary folder and never published.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from pathlib import Path

import numpy as np

from orchestration.settings import PROJECT_ROOT
from orchestration.sources.snapshots import SourceProvenance

EMBEDDED = PROJECT_ROOT / "warehouse" / "snapshots"
TEMPLATE = EMBEDDED / "worldbank" / "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv"
METADATA = "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
YEARS = list(range(1960, 2024))
# Shares of empty cells in the embedded files (SP.POP.TOTL, NY.GDP.PCAP.CD, IT.CEL.SETS.P2,
# IT.NET.USER.ZS), measured with DuckDB; indicators take them in turn.
MISSING_SHARES = (0.006, 0.212, 0.244, 0.511)


def indicator_code(number: int) -> str:
    return f"SYN.BENCH.{number:04d}"


def _economies() -> list[tuple[str, str]]:
    with TEMPLATE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[5:]
    return [(row[0], row[1]) for row in rows if row]


def write_indicator(folder: Path, number: int, economies: list[tuple[str, str]], rng: np.random.Generator, vintage: str) -> Path:
    code = indicator_code(number)
    values = rng.uniform(0, 100, size=(len(economies), len(YEARS))).round(6)
    missing = rng.random(size=values.shape) < MISSING_SHARES[number % len(MISSING_SHARES)]
    out = io.StringIO()
    out.write(f'"Data Source","World Development Indicators",\r\n\r\n"Last Updated Date","{vintage}",\r\n\r\n')
    out.write('"Country Name","Country Code","Indicator Name","Indicator Code",' + ",".join(f'"{y}"' for y in YEARS) + ",\r\n")
    name = f"SYNTHETIC benchmark indicator {number:04d} (not real data)"
    for (country, iso), row, gaps in zip(economies, values, missing):
        cells = ",".join('""' if gap else f'"{value:g}"' for value, gap in zip(row, gaps))
        out.write(f'"{country}","{iso}","{name}","{code}",{cells},\r\n')
    path = folder / f"API_{code}_DS2_en_csv_v2_synthetic.csv"
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
    return path


def write_snapshot_set(root: Path, indicators: int, seed: int = 20261128) -> Path:
    """A whole snapshot tree under ``root``: the embedded UN and DataReportal snapshots, and a
    worldbank/ folder of ``indicators`` synthetic files with the real country metadata. Returns
    the indicator configuration (TOML) to point WAREHOUSE_WORLDBANK_CONFIG at."""
    for source in ("un_egov", "datareportal"):
        shutil.copytree(EMBEDDED / source, root / source)
    folder = root / "worldbank"
    folder.mkdir(parents=True)
    shutil.copy2(EMBEDDED / "worldbank" / METADATA, folder / METADATA)
    provenance = SourceProvenance(
        source="worldbank", producer="bench/synthetic_wdi.py (SYNTHETIC, not World Bank data)",
        title="Synthetic indicators in the WDI bulk CSV layout, for benchmarks only", upstream_url="none",
        licence="none: generated", citation="not citable: synthetic",
    )
    today = date.today().isoformat()
    provenance.record(folder / METADATA, obtained_from="copy of the embedded snapshot", date_accessed=today)
    rng = np.random.default_rng(seed)
    economies = _economies()
    for number in range(1, indicators + 1):
        path = write_indicator(folder, number, economies, rng, today)
        provenance.record(path, obtained_from="generated", date_accessed=today, vintage=today, notes="SYNTHETIC")
    provenance.save(folder)
    config = root / "worldbank.toml"
    entries = "".join(f'[[indicator]]\ncode = "{indicator_code(n)}"\nunit = "percent"\nweighting = "none"\n\n' for n in range(1, indicators + 1))
    live = (EMBEDDED.parent.parent / "config" / "worldbank.toml").read_text(encoding="utf-8").split("[live]", 1)[1]
    config.write_text(entries + "[live]" + live, encoding="utf-8")
    return config
