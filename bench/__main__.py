"""`python -m bench`: run every benchmark and write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from bench import queries, refresh, scale
from bench.measure import Spread, percentile
from orchestration.settings import DUCKDB_MEMORY_LIMIT

TARGETS = {"full": 60.0, "no_change_share": 0.20, "ingestion_ratio": 2.0, "rss_mb": 2048.0, "query_p95_ms": 50.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each refresh measurement")
    parser.add_argument("--sizes", default="50,500,1500", help="synthetic indicator counts for the scale runs")
    parser.add_argument("--scale-repeats", type=int, default=2, help="runs per scale size")
    parser.add_argument("--query-runs", type=int, default=200, help="runs of each analyst query")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args(argv)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])

    print(f"refresh: {args.repeats} full + no-change refreshes of the embedded data", flush=True)
    full, unchanged, published = refresh.full_and_no_change(args.repeats)
    print(f"queries: {args.query_runs} runs each", flush=True)
    timings = queries.latencies(published, args.query_runs)
    shutil.rmtree(published.parent.parent, ignore_errors=True)
    sizes = []
    for indicators in (int(size) for size in args.sizes.split(",")):
        print(f"scale: {indicators} synthetic indicators, {args.scale_repeats} runs", flush=True)
        sizes.append(scale.measure(indicators, args.scale_repeats))
    args.out.write_text(_report(command, full, unchanged, timings, sizes), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _machine() -> list[str]:
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return [
        f"- Machine: {os.cpu_count()} cores ({model}), {memory_kb / 1024 / 1024:.1f} GiB memory, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}; DuckDB memory limit of a refresh: {DUCKDB_MEMORY_LIMIT}",
        f"- Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Wall time and peak RSS come from `/usr/bin/time` around "
        "each whole process (for a refresh, the largest of the `warehouse` process and its dbt subprocess).",
        "- Cells show the median, then (min-max) over the runs.",
    ]


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _refresh_section(full: list[refresh.Refresh], unchanged: list[refresh.Refresh]) -> list[str]:
    wall = Spread.of([r.measured.wall_s for r in full])
    same = Spread.of([r.measured.wall_s for r in unchanged])
    rss = Spread.of([r.measured.peak_rss_mb for r in full])
    lines = [
        "## 1. Full refresh of the embedded data, from an empty build area",
        "",
        "`warehouse refresh` with `WAREHOUSE_HOME` and `DAGSTER_HOME` in a new temporary folder.",
        "",
        "| | seconds |",
        "|---|---|",
        f"| **wall time** | {wall.cell()} |",
    ]
    lines += [f"| {phase} | {Spread.of([r.phases.get(phase, 0.0) for r in full]).cell()} |" for phase in refresh.PHASES]
    lines += [
        "",
        f"Peak RSS: {rss.cell(0)} MB. Target under {TARGETS['full']:.0f} s: {_verdict(wall.median < TARGETS['full'])}.",
        "Start-up is process start to run start (imports, definitions, dbt parse); gates are the Great Expectations "
        "checks (dbt's own tests run inside the dbt build); the report draws the analyst report and the dbt docs.",
        "",
        "Slowest steps (median seconds):",
        "",
    ]
    steps = {step: Spread.of([r.steps.get(step, 0.0) for r in full]).median for step in full[0].steps}
    lines += [f"- `{step}`: {seconds:.1f}" for step, seconds in sorted(steps.items(), key=lambda item: -item[1])[:6]]
    share = same.median / wall.median
    lines += [
        "",
        "## 2. No-change refresh, right after",
        "",
        f"`warehouse refresh` again: {same.cell()} s, {share:.0%} of the full refresh. Target under "
        f"{TARGETS['no_change_share']:.0%}: {_verdict(share < TARGETS['no_change_share'])}. It compares snapshot "
        "fingerprints and the code fingerprint with the published file's and launches no run.",
    ]
    return lines


def _scale_section(sizes: list[scale.Size]) -> list[str]:
    lines = [
        "## 3. Scale: synthetic WDI indicators (bench/synthetic_wdi.py)",
        "",
        "Each size is a whole `warehouse refresh` with the UN and DataReportal snapshots plus N synthetic WDI "
        "files in the original bulk layout (BOM, preamble, quoted, CRLF, missing cells at the densities of the "
        "embedded files). Ingestion is the `worldbank_raw` step: verify checksums, read and unpivot the files, "
        "check values, write `raw.wdi_*`. Beside it, in the same run of the benchmark: DuckDB's `read_csv` of the "
        "same files into a wide table with the layout given (the floor), and a pandas loop (read_csv, melt, concat, store).",
        "",
        "| indicators | rows loaded | ingestion s | rows/s | DuckDB floor s | pandas loop s | ingestion / floor | pandas / ingestion | WDI gate s | dbt build s | whole refresh s | peak RSS MB: refresh / floor / pandas |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        if not size.warehouse:
            lines.append(f"| {size.indicators} | {size.rows:,} | refresh failed: {size.failure} |||||||||")
            continue
        ingest = Spread.of([r.steps["worldbank_raw"] for r in size.warehouse])
        floor = Spread.of([seconds for _, seconds in size.floor])
        naive = Spread.of([seconds for _, seconds in size.pandas])
        lines.append(
            f"| {size.indicators} | {size.rows:,} | {ingest.cell()} | {size.rows / ingest.median:,.0f} | {floor.cell()} | "
            f"{naive.cell()} | {ingest.median / floor.median:.2f} | {naive.median / ingest.median:.2f} | "
            f"{Spread.of([r.steps['raw__wdi_observations_great_expectations'] for r in size.warehouse]).cell()} | "
            f"{Spread.of([r.steps['warehouse_dbt_models'] for r in size.warehouse]).cell()} | "
            f"{Spread.of([r.measured.wall_s for r in size.warehouse]).cell()} | "
            f"{Spread.of([r.measured.peak_rss_mb for r in size.warehouse]).median:.0f} / "
            f"{Spread.of([m.peak_rss_mb for m, _ in size.floor]).median:.0f} / {Spread.of([m.peak_rss_mb for m, _ in size.pandas]).median:.0f} |"
        )
    failed = [size for size in sizes if size.failure]
    lines += [""] + [f"**At {size.indicators} indicators a refresh failed**: {size.failure}" for size in failed]
    measured = [size for size in sizes if size.warehouse]
    if not measured:
        return lines
    largest = measured[-1]
    ratio = Spread.of([r.steps["worldbank_raw"] for r in largest.warehouse]).median / Spread.of([s for _, s in largest.floor]).median
    rss = max(r.measured.peak_rss_mb for r in largest.warehouse)
    lines += [
        "",
        f"At {largest.indicators} indicators: ingestion within {TARGETS['ingestion_ratio']:.0f}x of the floor: "
        f"{_verdict(ratio <= TARGETS['ingestion_ratio'])} ({ratio:.2f}x); peak RSS under 2 GB: {_verdict(rss < TARGETS['rss_mb'])} "
        f"({rss:.0f} MB, largest run).",
    ]
    return lines


def _query_section(timings: dict[str, list[float]]) -> list[str]:
    runs = len(next(iter(timings.values())))
    lines = [
        "## 4. Analyst queries on the published warehouse",
        "",
        f"{runs} runs of each (after one warm-up), read-only connection, results fetched in full. SQL in bench/queries.py.",
        "",
        "| query | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    worst = 0.0
    for name, values in timings.items():
        p95 = percentile(values, 0.95)
        worst = max(worst, p95)
        lines.append(f"| {name} | {percentile(values, 0.5):.2f} | {p95:.2f} |")
    lines += ["", f"Target p95 under {TARGETS['query_p95_ms']:.0f} ms: {_verdict(worst < TARGETS['query_p95_ms'])}."]
    return lines


def _report(command: str, full, unchanged, timings, sizes) -> str:
    lines = ["# Benchmark results", "", f"Written by `make bench` (`{command.strip()}`).", "", *_machine(), ""]
    lines += _refresh_section(full, unchanged) + [""] + _scale_section(sizes) + [""] + _query_section(timings)
    notes = Path(__file__).parent / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
