"""The benchmark scripts at a tiny size, so they never rot. No timing is asserted."""

import csv
import io
import json
import re
import zipfile

import pytest

from bench import __main__ as bench
from bench import spark
from bench.queries import QUERIES
from bench.synthetic_wdi import MISSING_SHARES, YEARS, write_snapshot_set, write_zip
from orchestration.snapshots.records import verified_files
from orchestration.sources.worldbank import parser


def members(path) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"), newline="")))
            for name in archive.namelist()
        }


def test_the_synthetic_zip_is_in_the_real_layout_and_says_it_is_synthetic(tmp_path):
    write_snapshot_set(tmp_path, series=5)
    provenance, files = verified_files(tmp_path / "worldbank", "*")
    assert [path.name for path, _ in files] == ["WDI_CSV.zip"] and "SYNTHETIC" in provenance.producer
    parser.check_bulk_zip(files[0][0])
    with zipfile.ZipFile(files[0][0]) as archive:
        assert archive.read("WDICSV.csv").startswith(
            b'\xef\xbb\xbf"Country Name","Country Code","Indicator Name","Indicator Code","1960"'
        )
    data = members(files[0][0])["WDICSV.csv"]
    assert all(len(row) == 4 + len(YEARS) + 1 and row[-1] == "" for row in data)
    synthetic = [row for row in data[1:] if row[3] != "SP.POP.TOTL"]
    assert {row[3] for row in synthetic} == {f"SYN.BENCH.{n:04d}" for n in range(1, 5)} and all(
        row[2].startswith("SYNTHETIC") for row in synthetic
    )
    assert len(data) - 1 == 266 * 5
    for number in range(1, 5):
        cells = [cell for row in synthetic if row[3] == f"SYN.BENCH.{number:04d}" for cell in row[4:-1]]
        # Each series' share of empty cells is near the embedded file's it imitates.
        assert abs(sum(cell == "" for cell in cells) / len(cells) - MISSING_SHARES[number % 4]) < 0.02


def test_a_release_with_one_series_changed_differs_in_that_series_only(tmp_path):
    first, second = (
        members(write_zip(tmp_path / "a.zip", 4))["WDICSV.csv"],
        members(write_zip(tmp_path / "b.zip", 4, changed=frozenset({2})))["WDICSV.csv"],
    )
    assert {row[3] for row, other in zip(first, second) if row != other} == {"SYN.BENCH.0002"}


@pytest.mark.bench
def test_make_bench_runs_end_to_end_at_a_tiny_size(tmp_path):
    out = tmp_path / "RESULTS.md"
    assert (
        bench.main(
            [
                "--repeats",
                "1",
                "--sizes",
                "2",
                "--scale-repeats",
                "1",
                "--query-runs",
                "3",
                "--load-seconds",
                "1",
                "--soak-seconds",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert "refresh failed" not in text, text  # a failed scale refresh must fail the smoke test, wherever it stopped
    for heading in (
        "## 1. Full refresh",
        "## 2. No-change refresh",
        "### Warm full refresh against commit a94c6c4",
        "## 3. Scale",
        "## 4. Analyst queries",
        "## 6. The served door under load",
    ):
        assert heading in text
    # The generator is seeded: the same zip again, its values counted with the csv module.
    write_snapshot_set(tmp_path / "again", series=2)
    values = sum(
        cell != ""
        for row in members(tmp_path / "again" / "worldbank" / "WDI_CSV.zip")["WDICSV.csv"][1:]
        for cell in row[4:]
    )
    row = re.search(r"^\| 2 \| ([\d,]+) \|", text, flags=re.M)
    assert row and int(row.group(1).replace(",", "")) == values, text
    for query in QUERIES:
        assert re.search(
            rf"^\| {re.escape(query)} \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| [+-]\d+\.\d\d \|$",
            text,
            flags=re.M,
        ), query
    assert re.search(r"Throughput: 8 clients, .* \d+ answers per second", text), text
    results = json.loads(out.with_name("results.json").read_text(encoding="utf-8"))
    warm = results["warm_full"]
    assert (
        warm["commit"] == "a94c6c4"
        and warm["today_s"] > 0
        and warm["baseline_s"] > 0
        and 0 < results["no_change_share"] < 1
    )
    assert set(results["served"]["query_p95_ms"]) == set(QUERIES) and results["served"]["answers_per_second"] > 0
    # The soak runs on until both of its publications (real `warehouse refresh --full`) have returned.
    soaked = results["served_load"]
    assert "failure" not in soaked and [p["error"] for p in soaked["publishes"]] == [None, None], soaked
    assert soaked["unexpected"] == 0 and soaked["kinds"]["small"]["meant"] > 0, soaked
    assert re.search(r"^\| \*\*all\*\* \| [\d,]+ \| [\d,]+ \| [\d,]+ \| 0 \|$", text, flags=re.M), text
    (size,) = results["scale"]
    assert size["indicators"] == 2 and size["rows"] == values and size["incremental_over_full"] > 0
    assert set(size) >= {
        "indicators",
        "rows",
        "ingestion_s",
        "floor_s",
        "ingestion_over_floor",
        "whole_refresh_s",
        "peak_rss_mb",
        "incremental_over_full",
    }
    # The last two publications compared and the newer exported, as `warehouse publications` runs them.
    assert size["diff_s"] > 0 and size["diff_peak_rss_mb"] > 0 and size["export_s"] > 0, size
    assert re.search(r"^\| 2 \| [1-9][\d,]* \| [\d.]+ \([^)]*\) \| [\d.]+% \|", text, flags=re.M), text


@pytest.mark.spark
def test_the_spark_section_builds_both_engines_and_finds_no_difference_at_a_tiny_size():
    run = spark.measure(2)
    assert run.differing_rows == 0 and run.differences == [] and run.tables >= 20 and run.rows > 0
    assert set(run.json()) >= {"indicators", "duckdb_build_s", "spark_build_s", "differing_rows"}
    assert "| 2 | " in "\n".join(bench._spark_section(run))
