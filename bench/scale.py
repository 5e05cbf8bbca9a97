"""The whole WDI at scale: a synthetic WDI_CSV.zip through the warehouse's own refresh, beside
DuckDB's bare read_csv of the same WDICSV.csv (the floor) and a plain pandas loop (the naive way),
then a release in which one series changed; then the diff of the two publications that release
made, and the export of the newer as a data package."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.measure import WAREHOUSE, Measured, python, run
from bench.refresh import Refresh, environment, refresh
from bench.synthetic_wdi import YEARS, write_snapshot_set, write_zip
from orchestration.limits import INBOX_SETTLE_S

# The floor: one read_csv of the zip's data file with the layout given (as the warehouse reads it),
# into a table in a database file, as the warehouse writes one.
FLOOR = """
import duckdb, json, sys, time
columns = {name: "VARCHAR" for name in ["Country Name", "Country Code", "Indicator Name", "Indicator Code", *sys.argv[3].split(","), "empty_last"]}
connection = duckdb.connect(sys.argv[2])
connection.execute("set enable_progress_bar = false")
started = time.perf_counter()
connection.execute(f"create table wide as select * from read_csv('{sys.argv[1]}', skip=1, header=false, auto_detect=false, "
                   f"columns={columns!r}, quote='\\"', delim=',')")
print(json.dumps({"seconds": time.perf_counter() - started, "rows": connection.execute("select count(*) from wide").fetchall()[0][0]}))
"""

# What a peer without DuckDB writes: pandas reads the zip's data file, melts it to long, stores it.
PANDAS = """
import duckdb, json, sys, time, zipfile
import pandas as pd
started = time.perf_counter()
with zipfile.ZipFile(sys.argv[1]) as archive, archive.open("WDICSV.csv") as data:
    wide = pd.read_csv(data, encoding="utf-8-sig")
wide = wide.loc[:, ~wide.columns.str.startswith("Unnamed")]
observations = wide.melt(id_vars=["Country Name", "Country Code", "Indicator Name", "Indicator Code"], var_name="year").dropna(subset=["value"])
connection = duckdb.connect(sys.argv[2])
connection.execute("set enable_progress_bar = false")
connection.execute("create table observations as select * from observations")
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(observations)}))
"""


@dataclass(frozen=True)
class Size:
    indicators: int  # series in the zip: population and the synthetic ones
    rows: int  # observations loaded into raw.wdi_observations
    warehouse: list[Refresh]  # whole refreshes from an empty build area
    incremental: Refresh | None  # a refresh of a release in which one series changed, right after
    failure: str | None  # why a refresh at this size failed, if one did
    floor: list[tuple[Measured, float]]  # the process, and the seconds of the read itself
    pandas: list[tuple[Measured, float]]
    diff: list[Measured] = ()  # `warehouse publications diff` of the publications before and after that release
    diff_rows: int = 0  # the rows it found changed
    export: list[Measured] = ()  # `warehouse publications export` of the newer one (Parquet)


def measure(indicators: int, repeats: int) -> Size:
    root = Path(tempfile.mkdtemp(prefix=f"bench-scale-{indicators}-"))
    try:
        config = write_snapshot_set(root / "snapshots", indicators)
        archive = root / "snapshots" / "worldbank" / "WDI_CSV.zip"
        with zipfile.ZipFile(archive) as opened:
            data = Path(opened.extract("WDICSV.csv", root))
        floor = [
            _timed_script(FLOOR, str(data), root / f"floor{n}.duckdb", ",".join(map(str, YEARS)))
            for n in range(repeats)
        ]
        data.unlink()
        naive = [_timed_script(PANDAS, str(archive), root / f"pandas{n}.duckdb") for n in range(repeats)]
        env = environment(
            root / "run", WAREHOUSE_SNAPSHOTS=str(root / "snapshots"), WAREHOUSE_WORLDBANK_CONFIG=str(config)
        )
        runs, incremental, failure = [], None, None
        try:
            for _ in range(repeats):
                shutil.rmtree(root / "run" / "warehouse", ignore_errors=True)
                runs.append(refresh(env))
            rows = _rows(root)
            inbox = root / "run" / "warehouse" / "inbox" / "worldbank"
            inbox.mkdir(parents=True)
            write_zip(inbox / "WDI_CSV.zip", indicators, changed=frozenset({1}))
            time.sleep(INBOX_SETTLE_S.value())  # settled before the clock starts: the refresh takes it without waiting
            incremental = refresh(env)
            diffs, changed, exports = _diff_and_export(env, root, repeats)
        except RuntimeError as error:  # reported, not raised: the other sizes still get measured
            failure, rows, diffs, changed, exports = _failed_step(str(error)), 0, [], 0, []
        return Size(indicators, rows, runs, incremental, failure, floor, naive, diffs, changed, exports)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _diff_and_export(env: dict[str, str], root: Path, repeats: int) -> tuple[list[Measured], int, list[Measured]]:
    """The two newest publications (the last whole refresh, and the release with one series changed)
    compared, and the newer exported, each ``repeats`` times as a user runs them."""
    kept = sorted(path.stem for path in (root / "run" / "warehouse" / "publications").glob("*.json"))
    old, new = kept[-2], kept[-1]
    diffs = [run([WAREHOUSE, "publications", "diff", old, new, "--format", "json"], env) for _ in range(repeats)]
    changed = json.loads(diffs[-1].stdout)["rows"]
    exports = []
    for n in range(repeats):
        exports.append(run([WAREHOUSE, "publications", "export", new, str(root / f"package{n}")], env))
        shutil.rmtree(root / f"package{n}")
    return diffs, changed, exports


def _rows(root: Path) -> int:
    with duckdb.connect(str(root / "run" / "warehouse" / "build" / "build.duckdb"), read_only=True) as build:
        return build.execute("select count(*) from raw.wdi_observations").fetchall()[0][0]


def _failed_step(output: str) -> str:
    """The refresh's own FAILED line and the first error line after it, from its output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    failed = next((i for i, line in enumerate(lines) if line.startswith("FAILED")), None)
    if failed is None:
        return lines[-1] if lines else "failed"
    reason = next((line for line in lines[failed:] if "Error:" in line and "dagster_dbt" not in line), "")
    return f"{lines[failed][:120]} {reason[:200]}".strip()


def _timed_script(script: str, source: str, database: Path, *args: str) -> tuple[Measured, float]:
    measured = python(script, source, str(database), *args)
    database.unlink()
    return measured, json.loads(measured.stdout.strip().splitlines()[-1])["seconds"]
