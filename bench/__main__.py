"""`python -m bench`: run every benchmark and write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench import load, refresh, scale, served, spark
from bench.measure import Spread, percentile
from orchestration.settings import DUCKDB_MEMORY_LIMIT

TARGETS = {
    "full": 60.0,
    "full_over_baseline": 0.6,
    "no_change_share": 0.10,
    "ingestion_ratio": 2.0,
    "whole_refresh_ratio": 11.0,
    "rss_mb": 2048.0,
    "incremental_share": 0.25,
    "diff_share": 0.25,
    "query_p95_ms": 50.0,
    "served_over_direct_p95_ms": 5.0,
    "load_unexpected": 0,
    "load_growth_share": 0.10,
    "load_end_p95_ms": 50.0,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each refresh measurement")
    parser.add_argument("--sizes", default="50,500,1500", help="series in the synthetic WDI zip of each scale run")
    parser.add_argument("--scale-repeats", type=int, default=2, help="runs per scale size")
    parser.add_argument("--query-runs", type=int, default=200, help="runs of each analyst query, direct and served")
    parser.add_argument(
        "--load-seconds", type=float, default=10.0, help="how long 8 clients query the served door at once"
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=300.0,
        help="how long clients soak the served door with a mix of queries, downloads and refusals, publishing twice",
    )
    parser.add_argument("--soak-clients", type=int, default=8, help="clients of the served door's soak")
    parser.add_argument(
        "--baseline",
        default=refresh.BASELINE,
        help="commit whose warm full refresh today's is compared with ('' to skip)",
    )
    parser.add_argument(
        "--spark", action="store_true", help="also build the models on Spark at --spark-series and compare every table"
    )
    parser.add_argument(
        "--spark-series", type=int, default=500, help="series in the synthetic WDI zip of the Spark comparison"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args(argv)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])

    print(f"refresh: {args.repeats} full + no-change refreshes of the embedded data", flush=True)
    full, unchanged, published = refresh.full_and_no_change(args.repeats)
    against = None
    if args.baseline:
        print(
            f"baseline: {args.repeats} warm full refreshes of this checkout and of {args.baseline}, in turn", flush=True
        )
        against = refresh.warm_full_against(args.baseline, args.repeats)
    print(
        f"queries: {args.query_runs} runs each, direct and served, then 8 clients for {args.load_seconds:g} s",
        flush=True,
    )
    timings, over_http, throughput = served.measure(published, args.query_runs, clients=8, seconds=args.load_seconds)
    print(
        f"served door under load: {args.soak_clients} clients for {args.soak_seconds:g} s, "
        "two `warehouse refresh --full` meanwhile",
        flush=True,
    )
    soaked = load.measure(published.parent.parent, args.soak_seconds, args.soak_clients)
    shutil.rmtree(published.parent.parent, ignore_errors=True)
    sizes = []
    for indicators in (int(size) for size in args.sizes.split(",")):
        print(f"scale: a WDI zip of {indicators} series, {args.scale_repeats} runs", flush=True)
        sizes.append(scale.measure(indicators, args.scale_repeats))
    scaled_out = None
    if args.spark:
        print(
            f"spark: the models on Spark and on DuckDB at {args.spark_series} series, every table compared", flush=True
        )
        scaled_out = spark.measure(args.spark_series)
    measured = Measurements(
        full, unchanged, against, Queried(timings, over_http, throughput), sizes, scaled_out, soaked=soaked
    )
    args.out.write_text(_report(command, measured), encoding="utf-8")
    json_out = args.out.with_name("results.json")
    json_out.write_text(json.dumps(_results(command, measured), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} and {json_out}")
    return 0


def _machine() -> list[str]:
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return [
        f"- Machine: {os.cpu_count()} cores ({model}), {memory_kb / 1024 / 1024:.1f} GiB memory, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}; DuckDB memory limit of a refresh: {DUCKDB_MEMORY_LIMIT}",
        f"- Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Wall time and peak RSS come from `/usr/bin/time` around "
        "each whole process (for a refresh, the largest of the `warehouse` process and its dbt subprocess).",
        "- Cells show the median, then (min-max) over the runs.",
    ]


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _refresh_section(
    full: list[refresh.Refresh], unchanged: list[refresh.Refresh], against: refresh.Against | None
) -> list[str]:
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
        f"{TARGETS['no_change_share']:.0%}: {_verdict(share <= TARGETS['no_change_share'])}. No run starts: the command "
        "decides with the run's own rules (changes.py, `without_a_run`) that nothing is new, and prints the lines the run would log.",
    ]
    if against is not None:
        today, before = Spread.of([m.wall_s for m in against.today]), Spread.of([m.wall_s for m in against.baseline])
        lines += [
            "",
            f"### Warm full refresh against commit {against.commit}",
            "",
            f"`warehouse refresh --full` in a warehouse home refreshed once before, {len(against.today)} runs of each side in turn "
            f"(the other side run from a `git worktree` of {against.commit} with this environment's libraries):",
            "",
            "| | seconds |",
            "|---|---|",
            f"| this checkout | {today.cell()} |",
            f"| {against.commit} | {before.cell()} |",
            "",
            f"This checkout takes {against.ratio:.2f} of {against.commit}'s time. Target at most {TARGETS['full_over_baseline']:.1f}: "
            f"{_verdict(against.ratio <= TARGETS['full_over_baseline'])}.",
        ]
    return lines


@dataclass(frozen=True)
class ScaleMedians:
    """One size's medians, as RESULTS.md and results.json report them."""

    indicators: int
    rows: int
    ingestion_s: float
    floor_s: float
    whole_refresh_s: float
    peak_rss_mb: float  # the largest over the runs, the incremental one included
    incremental_s: float | None
    diff_s: float | None = None
    diff_rss_mb: float | None = None
    export_s: float | None = None
    export_rss_mb: float | None = None

    @classmethod
    def of(cls, size: scale.Size) -> ScaleMedians:
        runs = size.warehouse + ([size.incremental] if size.incremental else [])
        return cls(
            size.indicators,
            size.rows,
            Spread.of([r.steps["worldbank_raw"] for r in size.warehouse]).median,
            Spread.of([seconds for _, seconds in size.floor]).median,
            Spread.of([r.measured.wall_s for r in size.warehouse]).median,
            max(r.measured.peak_rss_mb for r in runs),
            size.incremental.measured.wall_s if size.incremental else None,
            *_median_and_peak(size.diff),
            *_median_and_peak(size.export),
        )

    def json(self) -> dict:
        return {
            "indicators": self.indicators,
            "rows": self.rows,
            "ingestion_s": round(self.ingestion_s, 2),
            "floor_s": round(self.floor_s, 2),
            "ingestion_over_floor": round(self.ingestion_s / self.floor_s, 2),
            "whole_refresh_s": round(self.whole_refresh_s, 1),
            "whole_refresh_over_floor": round(self.whole_refresh_s / self.floor_s, 1),
            "peak_rss_mb": round(self.peak_rss_mb),
            "incremental_s": round(self.incremental_s, 1) if self.incremental_s is not None else None,
            "incremental_over_full": round(self.incremental_s / self.whole_refresh_s, 2)
            if self.incremental_s is not None
            else None,
            "diff_s": _rounded(self.diff_s, 2),
            "diff_over_full": _rounded(self.diff_s and self.diff_s / self.whole_refresh_s, 3),
            "diff_peak_rss_mb": _rounded(self.diff_rss_mb, 0),
            "export_s": _rounded(self.export_s, 2),
            "export_peak_rss_mb": _rounded(self.export_rss_mb, 0),
        }


def _median_and_peak(runs) -> tuple[float | None, float | None]:
    """Seconds (median) and peak RSS (largest) of a command's runs; None for none."""
    if not runs:
        return None, None
    return Spread.of([m.wall_s for m in runs]).median, max(m.peak_rss_mb for m in runs)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _scale_section(sizes: list[scale.Size]) -> list[str]:
    lines = [
        "## 3. Scale: the whole WDI as a synthetic WDI_CSV.zip (bench/synthetic_wdi.py)",
        "",
        "Each size is a whole `warehouse refresh` of the UN and DataReportal snapshots and a whole-database zip in the "
        "real layout (WDICSV.csv with BOM, quoted fields, CRLF and the trailing column; WDISeries.csv; WDICountry.csv) "
        "holding the real population and N-1 synthetic series, with empty cells at the embedded files' densities. "
        "Ingestion is the `worldbank_raw` step: verify the checksum, unzip, read and unpivot, check values, write `raw.wdi_*`. "
        "Beside it, in the same run of the benchmark: DuckDB's `read_csv` of the same WDICSV.csv into a wide table with the "
        "layout given (the floor), and a pandas loop (read_csv from the zip, melt, store). Then a release in which one "
        "series changed is dropped into the inbox and refreshed (incremental).",
        "",
        "| series | rows loaded | ingestion s | DuckDB floor s | ingestion / floor | pandas loop s | WDI gate s | dbt build s "
        "| whole refresh s | whole / floor | one series changed s | changed / full | peak RSS MB: refresh / floor / pandas |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        if not size.warehouse or size.failure:
            lines.append(f"| {size.indicators} | {size.rows:,} | refresh failed: {size.failure} |||||||||||")
            continue
        medians = ScaleMedians.of(size)
        incremental = (
            f"{medians.incremental_s:.1f} | {medians.incremental_s / medians.whole_refresh_s:.2f}"
            if medians.incremental_s is not None
            else "- | -"
        )
        lines.append(
            f"| {size.indicators} | {size.rows:,} | {Spread.of([r.steps['worldbank_raw'] for r in size.warehouse]).cell()} | "
            f"{Spread.of([seconds for _, seconds in size.floor]).cell()} | {medians.ingestion_s / medians.floor_s:.2f} | "
            f"{Spread.of([seconds for _, seconds in size.pandas]).cell()} | "
            f"{Spread.of([r.steps['raw__wdi_observations_great_expectations'] for r in size.warehouse]).cell()} | "
            f"{Spread.of([r.steps['warehouse_dbt_models'] for r in size.warehouse]).cell()} | "
            f"{Spread.of([r.measured.wall_s for r in size.warehouse]).cell()} | {medians.whole_refresh_s / medians.floor_s:.1f} | "
            f"{incremental} | {medians.peak_rss_mb:.0f} / {Spread.of([m.peak_rss_mb for m, _ in size.floor]).median:.0f} / "
            f"{Spread.of([m.peak_rss_mb for m, _ in size.pandas]).median:.0f} |"
        )
    failed = [size for size in sizes if size.failure]
    lines += [""] + [f"**At {size.indicators} series a refresh failed**: {size.failure}" for size in failed]
    measured = [size for size in sizes if size.warehouse and not size.failure]
    if not measured:
        return lines
    largest = ScaleMedians.of(measured[-1])
    lines += ["", f"Targets at {largest.indicators} series, as ratios measured in the same run:", ""]
    lines += [
        f"- ingestion at most {TARGETS['ingestion_ratio']:.1f}x the floor: {_verdict(largest.ingestion_s / largest.floor_s <= TARGETS['ingestion_ratio'])} "
        f"({largest.ingestion_s / largest.floor_s:.2f}x);",
        f"- a whole refresh at most {TARGETS['whole_refresh_ratio']:.0f}x the floor: "
        f"{_verdict(largest.whole_refresh_s / largest.floor_s <= TARGETS['whole_refresh_ratio'])} ({largest.whole_refresh_s / largest.floor_s:.1f}x);",
        f"- peak RSS under 2 GB, dbt included: {_verdict(largest.peak_rss_mb < TARGETS['rss_mb'])} ({largest.peak_rss_mb:.0f} MB, largest run);",
    ]
    if largest.incremental_s is not None:
        share = largest.incremental_s / largest.whole_refresh_s
        lines.append(
            f"- a release with one series changed in at most {TARGETS['incremental_share']:.0%} of a full refresh: "
            f"{_verdict(share <= TARGETS['incremental_share'])} ({share:.0%})."
        )
    if largest.diff_s is not None:
        share = largest.diff_s / largest.whole_refresh_s
        lines.append(
            f"- the diff of the two publications that release made in under {TARGETS['diff_share']:.0%} of a full "
            f"refresh: {_verdict(share < TARGETS['diff_share'])} ({share:.1%})."
        )
    return lines + [""] + _citing_lines(measured)


def _citing_lines(sizes: list[scale.Size]) -> list[str]:
    """The diff and the export of each size's last two publications, as `warehouse publications` runs them."""
    lines = [
        "The last two publications of each size (the whole refresh, then the release with one series changed): "
        "`warehouse publications diff OLD NEW --format json` (the refresh's memory limit, spilling to a temporary "
        "folder beyond it) and `warehouse publications export NEW DIR` (Parquet), each a whole process, as a user runs them.",
        "",
        "| series | rows the diff found changed | diff s | diff / whole refresh | diff peak RSS MB | export s | export peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        if not size.diff:
            continue
        medians = ScaleMedians.of(size)
        lines.append(
            f"| {size.indicators} | {size.diff_rows:,} | {Spread.of([m.wall_s for m in size.diff]).cell(2)} | "
            f"{medians.diff_s / medians.whole_refresh_s:.1%} | {medians.diff_rss_mb:.0f} | "
            f"{Spread.of([m.wall_s for m in size.export]).cell(2)} | {medians.export_rss_mb:.0f} |"
        )
    return lines


@dataclass(frozen=True)
class Queried:
    """The analyst queries' milliseconds, direct and through the served door, and the door under load."""

    direct: dict[str, list[float]]
    served: dict[str, list[float]]
    load: served.Throughput

    def p95(self, name: str) -> tuple[float, float]:
        return percentile(self.direct[name], 0.95), percentile(self.served[name], 0.95)


def _query_section(queried: Queried) -> list[str]:
    runs = len(next(iter(queried.direct.values())))
    lines = [
        "## 4. Analyst queries on the published warehouse, direct and served",
        "",
        f"{runs} runs of each (after one warm-up), one direct and one served in turn. Direct: one read-only DuckDB "
        "connection, rows fetched in full. Served: `warehouse serve` on 127.0.0.1, one client (Python's http.client) on a "
        "kept-alive connection, `POST /api/query`, the JSON answer read and parsed. SQL in bench/queries.py.",
        "",
        "| query | direct p50 ms | direct p95 ms | served p50 ms | served p95 ms | served - direct p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    worst, worst_served, worst_gap = 0.0, 0.0, 0.0
    for name in queried.direct:
        direct, over_http = queried.p95(name)
        worst, worst_served, worst_gap = (
            max(worst, direct),
            max(worst_served, over_http),
            max(worst_gap, over_http - direct),
        )
        lines.append(
            f"| {name} | {percentile(queried.direct[name], 0.5):.2f} | {direct:.2f} | "
            f"{percentile(queried.served[name], 0.5):.2f} | {over_http:.2f} | {over_http - direct:+.2f} |"
        )
    load = queried.load
    lines += [
        "",
        f"Targets: p95 under {TARGETS['query_p95_ms']:.0f} ms direct: {_verdict(worst < TARGETS['query_p95_ms'])}; "
        f"served: {_verdict(worst_served < TARGETS['query_p95_ms'])}, and at most {TARGETS['served_over_direct_p95_ms']:.0f} ms "
        f"above direct: {_verdict(worst_gap <= TARGETS['served_over_direct_p95_ms'])} (largest gap {worst_gap:.2f} ms).",
        "",
        f"Throughput: {load.clients} clients, each on its own connection, asking the five queries in turn for "
        f"{load.seconds:.0f} s: {load.per_second:.0f} answers per second, p50 {percentile(load.latencies_ms, 0.5):.1f} ms, "
        f"p95 {percentile(load.latencies_ms, 0.95):.1f} ms per answer, no failed request.",
    ]
    return lines


@dataclass(frozen=True)
class Measurements:
    full: list[refresh.Refresh]
    unchanged: list[refresh.Refresh]
    against: refresh.Against | None
    queried: Queried
    sizes: list[scale.Size]
    spark: spark.SparkRun | None
    soaked: load.LoadRun | None = None


def _spark_section(run: spark.SparkRun) -> list[str]:
    return [
        "## 5. The scale-out path: the same models on Apache Spark",
        "",
        f"A warehouse refreshed from a synthetic WDI zip of {run.indicators} series, then every model, seed and test built "
        "by `dbt build` on each engine from the same raw layer (DuckDB: the build database; Spark: dbt-spark's session "
        "method, PySpark in local mode on 2 cores, reading the raw layer's Parquet export), each as a process of its own. "
        "Every table of the published schemas is then compared inside DuckDB over the Parquet Spark wrote "
        "(orchestration/transform/spark.py): column names, then the rows paired in one order, floats within 1e-9 relative.",
        "",
        "| series | tables | rows compared | DuckDB `dbt build` s | Spark `dbt build` s | Spark / DuckDB | differing rows | compare s | compare peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {run.indicators} | {run.tables} | {run.rows:,} | {run.duckdb_build.wall_s:.1f} | {run.spark_build.wall_s:.1f} | "
        f"{run.spark_build.wall_s / run.duckdb_build.wall_s:.1f} | {run.differing_rows:,} | {run.compare.wall_s:.1f} | "
        f"{run.compare.peak_rss_mb:.0f} |",
        "",
        *([f"- {line}" for line in run.differences[:20]] or ["Every table is the same on both engines."]),
    ]


KIND_NAMES = {
    "small": "small query (`POST /api/query`)",
    "csv": "CSV download, read whole",
    "parquet": "Parquet download, read whole",
    "abandoned": "download abandoned after its first bytes",
    "disconnect": "client gone before the first byte",
    "refused": "`COPY` (403 refused, as meant)",
    "two_statements": "two statements (400 invalid, as meant)",
    "runaway": "runaway query (400 timeout, as meant)",
}


def _soak_section(run: load.LoadRun) -> list[str]:
    lines = ["## 6. The served door under load", ""]
    if run.soaked is None:
        return lines + [f"**The soak failed**: {run.failure}"]
    soaked = run.soaked
    start, end = soaked.start, soaked.end
    first, last = soaked.percentiles(first=True), soaked.percentiles(first=False)
    publishes = "; ".join(
        f"at {p.started_at:.0f} s, taking {p.seconds:.0f} s (to {p.started_at + p.seconds:.0f} s)"
        + (f" (**failed**: {p.error})" if p.error else "")
        for p in soaked.publishes
    )
    lines += [
        f"`warehouse serve` on section 1's published warehouse, with `WAREHOUSE_QUERY_TIMEOUT_S={run.time_limit_s:g}` "
        "and the other limits at their defaults (4 queries at once, a 10 s wait for a place). "
        f"{soaked.clients} clients on 127.0.0.1 for {soaked.seconds:.0f} s, each looping over a mix (bench/load.py): "
        "small queries, CSV and Parquet downloads of a few thousand rows read whole, large downloads abandoned after "
        "their first bytes, clients gone before the first byte of a slow query, refused SQL, and runaway queries "
        f"(each client at most one every {load.EVERY_S['runaway']:g} s). Meanwhile two `warehouse refresh --full` "
        f"publish, keeping one publication (`WAREHOUSE_KEEP_PUBLICATIONS=1`, so each removes the file before): {publishes}. "
        "Every request has a client-side timeout; one that times out counts as unexpected.",
        "",
        "| request | sent | as meant | 503 busy | unexpected |",
        "|---|---|---|---|---|",
    ]
    for kind, tally in soaked.tallies.items():
        lines.append(
            f"| {KIND_NAMES.get(kind, kind)} | {tally.requests:,} | {tally.meant:,} | {tally.busy:,} | {tally.unexpected:,} |"
        )
    lines += [
        f"| **all** | {soaked.requests:,} | {soaked.requests - soaked.busy - soaked.unexpected:,} | {soaked.busy:,} | "
        f"{soaked.unexpected:,} |",
        "",
        f"Throughput: {soaked.per_second:.0f} requests per second. The small query (`{load.SMALL_SQL}`), in ms:",
        "",
        "| | answers | p50 | p95 | p99 |",
        "|---|---|---|---|---|",
        f"| first 20 % of the run | {first['n']:,} | {first['p50']:.1f} | {first['p95']:.1f} | {first['p99']:.1f} |",
        f"| last 20 % of the run | {last['n']:,} | {last['p50']:.1f} | {last['p95']:.1f} | {last['p99']:.1f} |",
        "",
        "The service, from /proc, after a warm-up and once settled at the end (no query running, then 2.5 s):",
        "",
        "| | start | end |",
        "|---|---|---|",
        f"| RSS MB | {start.rss_mb:.0f} | {end.rss_mb:.0f} |",
        f"| open descriptors | {start.fds} | {end.fds} |",
        f"| threads | {start.threads} | {end.threads} |",
        f"| deleted files held open | {len(start.deleted)} | {len(end.deleted)} |",
        f"| publication files held open (of them gone) | {len(start.publication_files)} ({len(start.gone_publications)}) "
        f"| {len(end.publication_files)} ({len(end.gone_publications)}) |",
        "",
    ]
    during = soaked.during()
    if during:
        lines += [
            f"During the run (sampled every {load.SAMPLE_EVERY_S:g} s): RSS up to {during['max_rss_mb']:.0f} MB, up to "
            f"{during['max_fds']} descriptors, up to {during['max_waiting']:.0f} queries waiting for a place.",
            "",
        ]
    answered = soaked.metric("warehouse_serve_query_seconds_count", kind="answer")
    quick = soaked.metric("warehouse_serve_query_seconds_bucket", kind="answer", le="0.025")
    if answered and quick is not None:
        lines += [
            f"The service's own view (/metrics, from a query's admission to its answer): {quick / answered:.1%} of its "
            "JSON answers took under 25 ms. The rest of what the clients measure passes before a query's admission "
            "(waiting for a place) or outside DuckDB (HTTP, the event loop), on two cores shared by the service, the "
            "clients and the refreshes.",
            "",
        ]
    errors, cut = soaked.server_errors, soaked.metric("warehouse_serve_downloads_cut_total")
    lines.append(
        f"The service logged {sum(errors.values())} error(s) during the run{':' if errors else '.'}"
        + (f" /metrics counts {cut:.0f} download(s) cut off after their first byte since it started." if cut else "")
    )
    if errors:
        lines += [""] + [f"- {count} x `{error}`" for error, count in list(errors.items())[:10]]
    lines.append("")
    failed = soaked.unexpected + sum(1 for p in soaked.publishes if p.error)
    rss_growth, fd_growth = end.rss_kb / start.rss_kb - 1, end.fds / start.fds - 1
    share = TARGETS["load_growth_share"]
    lines += [
        "Targets:",
        "",
        f"- no failed request but the refusals meant: {_verdict(failed <= TARGETS['load_unexpected'])} "
        f"({soaked.unexpected} unexpected, {soaked.client_timeouts} of them client timeouts; {soaked.busy} answered "
        "503 busy, which is admission at work);",
        f"- RSS and open descriptors back within {share:.0%} of the start: "
        f"{_verdict(rss_growth <= share and fd_growth <= share)} (RSS {rss_growth:+.0%}, descriptors {fd_growth:+.0%});",
        f"- the small query's p95 under {TARGETS['load_end_p95_ms']:.0f} ms at the end: "
        f"{_verdict(last['p95'] < TARGETS['load_end_p95_ms'])} ({last['p95']:.1f} ms).",
    ]
    if soaked.examples():
        lines += ["", "The first unexpected answers:", ""] + [f"- `{e}`" for e in soaked.examples()[:10]]
    return lines


def _soak_json(run: load.LoadRun) -> dict:
    if run.soaked is None:
        return {"failure": run.failure}
    return {"time_limit_s": run.time_limit_s, **run.soaked.json()}


def _report(command: str, measured: Measurements) -> str:
    lines = ["# Benchmark results", "", f"Written by `make bench` (`{command.strip()}`).", "", *_machine(), ""]
    lines += (
        _refresh_section(measured.full, measured.unchanged, measured.against)
        + [""]
        + _scale_section(measured.sizes)
        + [""]
        + _query_section(measured.queried)
    )
    if measured.spark is not None:
        lines += [""] + _spark_section(measured.spark)
    if measured.soaked is not None:
        lines += [""] + _soak_section(measured.soaked)
    notes = Path(__file__).parent / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def _results(command: str, measured: Measurements) -> dict:
    """What RESULTS.md reports, for scripts: medians in seconds and megabytes."""
    full, unchanged, queried, sizes, against = (
        measured.full,
        measured.unchanged,
        measured.queried,
        measured.sizes,
        measured.against,
    )
    return {
        "command": command.strip(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "full_refresh_s": round(Spread.of([r.measured.wall_s for r in full]).median, 1),
        "no_change_refresh_s": round(Spread.of([r.measured.wall_s for r in unchanged]).median, 1),
        "no_change_share": round(
            Spread.of([r.measured.wall_s for r in unchanged]).median
            / Spread.of([r.measured.wall_s for r in full]).median,
            3,
        ),
        **(
            {
                "warm_full": {
                    "commit": against.commit,
                    "today_s": round(Spread.of([m.wall_s for m in against.today]).median, 1),
                    "baseline_s": round(Spread.of([m.wall_s for m in against.baseline]).median, 1),
                    "today_over_baseline": round(against.ratio, 2),
                }
            }
            if against
            else {}
        ),
        "query_p95_ms": {name: round(percentile(values, 0.95), 2) for name, values in queried.direct.items()},
        "served": {
            "query_p95_ms": {name: round(percentile(values, 0.95), 2) for name, values in queried.served.items()},
            "clients": queried.load.clients,
            "answers_per_second": round(queried.load.per_second, 1),
            "p95_under_load_ms": round(percentile(queried.load.latencies_ms, 0.95), 2),
        },
        "targets": TARGETS,
        "scale": [ScaleMedians.of(size).json() for size in sizes if size.warehouse and not size.failure],
        "scale_failures": {str(size.indicators): size.failure for size in sizes if size.failure},
        **({"spark": measured.spark.json()} if measured.spark else {}),
        **({"served_load": _soak_json(measured.soaked)} if measured.soaked else {}),
    }


if __name__ == "__main__":
    raise SystemExit(main())
