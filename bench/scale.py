"""Ingestion at full-WDI scale: synthetic bulk files through the warehouse's own refresh, beside
DuckDB's bare read_csv of the same files (the floor) and a plain pandas loop (the naive way)."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.measure import Measured, python
from bench.refresh import Refresh, environment, refresh
from bench.synthetic_wdi import write_snapshot_set

# The floor: one read_csv over every file with the layout given (sniffing each file would add
# ~90 ms a file), into a table in a database file, as the warehouse writes one.
FLOOR = """
import duckdb, glob, json, sys, time
files = sorted(glob.glob(sys.argv[1] + "/API_*.csv"))
columns = {name: "VARCHAR" for name in ["Country Name", "Country Code", "Indicator Name", "Indicator Code",
           *[str(year) for year in range(1960, 2024)], "empty_last"]}
connection = duckdb.connect(sys.argv[2])
connection.execute("set enable_progress_bar = false")
started = time.perf_counter()
connection.execute(f"create table wide as select * from read_csv({files!r}, skip=5, header=false, auto_detect=false, "
                   f"columns={columns!r}, quote='\\"', delim=',')")
print(json.dumps({"seconds": time.perf_counter() - started, "rows": connection.execute("select count(*) from wide").fetchall()[0][0]}))
"""

# What a peer without DuckDB writes: pandas per file, melt to long, concatenate, store.
PANDAS = """
import duckdb, glob, json, sys, time
import pandas as pd
started = time.perf_counter()
frames = []
for path in sorted(glob.glob(sys.argv[1] + "/API_*.csv")):
    wide = pd.read_csv(path, skiprows=4, encoding="utf-8-sig")
    wide = wide.loc[:, ~wide.columns.str.startswith("Unnamed")]
    long = wide.melt(id_vars=["Country Name", "Country Code", "Indicator Name", "Indicator Code"], var_name="year").dropna(subset=["value"])
    frames.append(long)
observations = pd.concat(frames, ignore_index=True)
connection = duckdb.connect(sys.argv[2])
connection.execute("set enable_progress_bar = false")
connection.execute("create table observations as select * from observations")
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(observations)}))
"""


@dataclass(frozen=True)
class Size:
    indicators: int
    rows: int  # observations loaded into raw.wdi_observations
    warehouse: list[Refresh]
    failure: str | None  # why a refresh at this size failed, if one did
    floor: list[tuple[Measured, float]]  # the process, and the seconds of the read itself
    pandas: list[tuple[Measured, float]]


def measure(indicators: int, repeats: int) -> Size:
    root = Path(tempfile.mkdtemp(prefix=f"bench-scale-{indicators}-"))
    try:
        config = write_snapshot_set(root / "snapshots", indicators)
        files = str(root / "snapshots" / "worldbank")
        floor = [_timed_script(FLOOR, files, root / f"floor{n}.duckdb") for n in range(repeats)]
        naive = [_timed_script(PANDAS, files, root / f"pandas{n}.duckdb") for n in range(repeats)]
        env = environment(root / "run", WAREHOUSE_SNAPSHOTS=str(root / "snapshots"), WAREHOUSE_WORLDBANK_CONFIG=str(config))
        runs, failure = [], None
        for _ in range(repeats):
            shutil.rmtree(root / "run" / "warehouse", ignore_errors=True)
            try:
                runs.append(refresh(env))
            except RuntimeError as error:  # reported, not raised: the other sizes still get measured
                failure = _failed_step(str(error))
                break
        with duckdb.connect(str(root / "run" / "warehouse" / "build" / "build.duckdb"), read_only=True) as build:
            rows = build.execute("select count(*) from raw.wdi_observations where indicator_code like 'SYN.%'").fetchall()[0][0]
        return Size(indicators, rows, runs, failure, floor, naive)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _failed_step(output: str) -> str:
    """The refresh's own FAILED line and the first error line after it, from its output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    failed = next((i for i, line in enumerate(lines) if line.startswith("FAILED")), None)
    if failed is None:
        return lines[-1] if lines else "failed"
    reason = next((line for line in lines[failed:] if "Error:" in line and "dagster_dbt" not in line), "")
    return f"{lines[failed][:120]} {reason[:200]}".strip()


def _timed_script(script: str, files: str, database: Path) -> tuple[Measured, float]:
    measured = python(script, files, str(database))
    database.unlink()
    return measured, json.loads(measured.stdout.strip().splitlines()[-1])["seconds"]
