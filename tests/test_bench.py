"""The benchmark scripts at a tiny size, so they never rot. No timing is asserted."""

import csv
import re

import pytest

from bench import __main__ as bench
from bench.synthetic_wdi import MISSING_SHARES, YEARS, write_snapshot_set
from orchestration.sources.snapshots import verified_files


def test_synthetic_files_are_in_the_bulk_layout_and_say_they_are_synthetic(tmp_path):
    write_snapshot_set(tmp_path, indicators=4)
    provenance, files = verified_files(tmp_path / "worldbank", "API_*")
    assert len(files) == 4 and "SYNTHETIC" in provenance.producer
    raw = files[0][0].read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf"Data Source","World Development Indicators",\r\n\r\n"Last Updated Date","')
    shares = []
    for path, _ in files:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()[5:]))
        assert len(rows) == 266 and all(len(row) == 4 + len(YEARS) + 1 and row[-1] == "" for row in rows)
        assert {row[3] for row in rows} == {re.search(r"API_(.+?)_DS2", path.name).group(1)}
        assert all(row[2].startswith("SYNTHETIC") for row in rows)
        cells = [cell for row in rows for cell in row[4:-1]]
        shares.append(sum(cell == "" for cell in cells) / len(cells))
    # Each file's share of empty cells is near the embedded file's it imitates.
    assert all(abs(share - expected) < 0.02 for share, expected in zip(shares, [MISSING_SHARES[n % 4] for n in range(1, 5)]))


def non_empty_cells(folder) -> int:
    return sum(cell != "" for path in folder.glob("API_*.csv")
               for row in csv.reader(path.read_text(encoding="utf-8-sig").splitlines()[5:]) for cell in row[4:])


@pytest.mark.slow
def test_make_bench_runs_end_to_end_at_a_tiny_size(tmp_path):
    out = tmp_path / "RESULTS.md"
    assert bench.main(["--repeats", "1", "--sizes", "2", "--scale-repeats", "1", "--query-runs", "3", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "refresh failed" not in text, text  # a failed scale refresh must fail the smoke test, wherever it stopped
    for heading in ("## 1. Full refresh", "## 2. No-change refresh", "## 3. Scale", "## 4. Analyst queries"):
        assert heading in text
    # The generator is seeded: the same 2 files again, counted with the csv module.
    write_snapshot_set(tmp_path / "again", indicators=2)
    row = re.search(r"^\| 2 \| ([\d,]+) \|", text, flags=re.M)
    assert row and int(row.group(1).replace(",", "")) == non_empty_cells(tmp_path / "again" / "worldbank"), text
    for query in bench.queries.QUERIES:
        assert re.search(rf"^\| {re.escape(query)} \| \d+\.\d\d \| \d+\.\d\d \|$", text, flags=re.M), query
