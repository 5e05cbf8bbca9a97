"""The whole-WDI zip (WDI_CSV.zip) as people download it: every layout of it loads the same values,
a bad one is refused naming the file, line and reason, and a zip dropped into the inbox refreshes
green, brings every series it holds with its metadata and supersedes the per-indicator files."""

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.settings import Settings
from orchestration.snapshots.records import SUPERSEDED_DIR, SourceProvenance, sha256_of, verified_files
from orchestration.sources.registry import SOURCES
from orchestration.sources.worldbank import bulk_zip, parser
from tests.conftest import SNAPSHOTS, copy_home, failure_text, materialize

SAMPLE = Path(__file__).parent / "fixtures" / "wdi_bulk" / "WDI_CSV_sample.zip"
# LAYOUT.md, "Numbers to check against": non-empty values per series for the 217 economies.
LAYOUT_COUNTS = {
    "IT.CEL.SETS.P2": 10_218,
    "IT.NET.BBND.P2": 3_955,
    "IT.NET.USER.ZS": 6_711,
    "NY.GDP.PCAP.CD": 10_473,
    "SP.POP.TOTL": 13_641,
}
# A series only in the zip, for the tests: internet users' values under a code no config names.
ZIP_ONLY = "XTEST.ZIP.ONLY"


def sample_members() -> dict[str, list[list[str]]]:
    """The sample's CSV files as rows of fields, read here with the csv module."""
    with zipfile.ZipFile(SAMPLE) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"), newline="")))
            for name in archive.namelist()
        }


def write_zip(
    target: Path,
    *,
    bom: bool = True,
    trailing: bool = True,
    newline: str = "\n",
    data_name: str = "WDICSV.csv",
    zip_only_series: bool = False,
    edit=None,
) -> Path:
    """The sample re-written in one of the layouts seen across releases."""
    members = sample_members()
    if zip_only_series:
        data, series = members["WDICSV.csv"], members["WDISeries.csv"]
        data += [
            [*row[:2], "Test fixture: a series only in the zip (% of population)", ZIP_ONLY, *row[4:]]
            for row in data[1:]
            if row[3] == "IT.NET.USER.ZS"
        ]
        series.append(
            [
                ZIP_ONLY,
                "Test fixture: topic",
                "Test fixture: a series only in the zip (% of population)",
                *[""] * 6,
                "Weighted average",
                *[""] * (len(series[0]) - 10),
            ]
        )
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in members.items():
            rows = [row[:-1] for row in rows] if not trailing and rows[0][-1] == "" else rows
            out = io.StringIO()
            csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=newline).writerows(rows)
            text = edit(name, out.getvalue()) if edit else out.getvalue()
            archive.writestr(data_name if name == "WDICSV.csv" else name, ("\ufeff" if bom else "") + text)
    return target


def values_of(zip_path: Path, folder: Path) -> pd.DataFrame:
    """The (code, series, year, value) rows the parser reads from a zip's data file."""
    data = bulk_zip.extract_data_file(zip_path, folder)
    with duckdb.connect() as connection:
        parser.read_indicator_csvs(connection, [data], frozenset({data}))
        return connection.execute(
            "select country_code, indicator_code, year, value from wdi_incoming order by all"
        ).df()


def economies_of_the_sample() -> set[str]:
    rows = sample_members()["WDICountry.csv"]
    region = rows[0].index("Region")
    return {row[0] for row in rows[1:] if row[region]}


def test_the_sample_loads_the_values_layout_md_counts(tmp_path):
    expected = []
    for row in sample_members()["WDICSV.csv"][1:]:
        expected += [(row[1], row[3], 1960 + offset, float(cell)) for offset, cell in enumerate(row[4:68]) if cell]
    got = values_of(SAMPLE, tmp_path)
    assert sorted(got.itertuples(index=False, name=None)) == sorted(expected)
    economies = got[got.country_code.isin(economies_of_the_sample())]
    assert economies.groupby("indicator_code").size().to_dict() == LAYOUT_COUNTS
    assert len(economies) == 44_998


LAYOUTS = {
    "no BOM, no trailing column, CRLF, WDIData.csv": dict(
        bom=False, trailing=False, newline="\r\n", data_name="WDIData.csv"
    ),
    "BOM, no trailing column, LF": dict(bom=True, trailing=False, newline="\n"),
    "no BOM, trailing column, CRLF": dict(bom=False, trailing=True, newline="\r\n"),
    "BOM, trailing column, CRLF, WDIData.csv": dict(bom=True, trailing=True, newline="\r\n", data_name="WDIData.csv"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_of_the_zip_loads_the_same_values(layout, tmp_path):
    variant = write_zip(tmp_path / "WDI_CSV.zip", **LAYOUTS[layout])
    SOURCES["worldbank"].check_file(variant, Settings(home=tmp_path / "home", snapshots_dir=tmp_path))
    assert values_of(variant, tmp_path / "a").equals(values_of(SAMPLE, tmp_path / "b"))
    assert bulk_zip.read_series(variant).equals(bulk_zip.read_series(SAMPLE))
    assert (
        parser.read_country_metadata_zip(variant)
        .drop(columns="source_line")
        .equals(parser.read_country_metadata_zip(SAMPLE).drop(columns="source_line"))
    )


def rename_header(name: str, text: str) -> str:
    return text.replace('"Country Code"', '"Code"', 1) if name == "WDICSV.csv" else text


def not_a_number(name: str, text: str) -> str:
    if name != "WDICSV.csv":
        return text
    kaz = next(line for line in text.splitlines() if line.startswith('"Kazakhstan","KAZ","Individuals using'))
    return text.replace(kaz, kaz.replace('"92.2969"', '"n/a"'), 1)


def without_data_file(target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("WDISeries.csv", '"Series Code"\n')


@pytest.mark.parametrize(
    "case, make, message",
    [
        (
            "not a zip",
            lambda path: path.write_bytes(b"<html>Service unavailable</html>\n"),
            r"WDI_CSV\.zip: not a readable zip",
        ),
        (
            "no data file",
            without_data_file,
            r"WDI_CSV\.zip: no WDICSV\.csv or WDIData\.csv in the zip \(it holds wdiseries\.csv\)",
        ),
        (
            "renamed header",
            lambda path: write_zip(path, edit=rename_header),
            r"WDI_CSV\.zip!WDICSV\.csv: line 1: unrecognised header",
        ),
    ],
)
def test_a_zip_of_the_wrong_form_is_refused_before_it_is_staged(case, make, message, tmp_path):
    bad = tmp_path / "WDI_CSV.zip"
    make(bad)
    with pytest.raises(ValueError, match=message):
        SOURCES["worldbank"].check_file(bad, Settings(home=tmp_path / "home", snapshots_dir=tmp_path))


def test_a_bad_value_in_the_zip_names_the_zip_its_file_and_line(tmp_path):
    bad = write_zip(tmp_path / "WDI_CSV.zip", edit=not_a_number)
    line = next(
        number
        for number, row in enumerate(sample_members()["WDICSV.csv"], 1)
        if row[1] == "KAZ" and row[3] == "IT.NET.USER.ZS"
    )
    with pytest.raises(
        ValueError, match=rf"WDI_CSV\.zip/WDICSV\.csv: values that are not numbers: line {line} \(KAZ, 2022\): 'n/a'"
    ):
        values_of(bad, tmp_path / "unzipped")


def test_a_truncated_data_file_is_refused_naming_it(tmp_path):
    bad = write_zip(
        tmp_path / "WDI_CSV.zip", edit=lambda name, text: text[: len(text) // 2] if name == "WDICSV.csv" else text
    )
    with pytest.raises(ValueError, match=r"WDI_CSV\.zip/WDICSV\.csv: DuckDB could not read it as CSV"):
        values_of(bad, tmp_path / "unzipped")


def snapshots_with(tmp_path: Path, zip_path: Path) -> Path:
    """A copy of the snapshots whose World Bank set is the given zip alone, recorded."""
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots, ignore=shutil.ignore_patterns("API_*", "Metadata_*"))
    folder = snapshots / "worldbank"
    shutil.copy2(zip_path, folder / "WDI_CSV.zip")
    provenance = SourceProvenance.load(folder)
    provenance.files = []
    provenance.record(folder / "WDI_CSV.zip", obtained_from="test", date_accessed="2026-11-29")
    provenance.save(folder)
    return snapshots


def test_a_series_without_metadata_stops_the_load_naming_it(tmp_path):
    def drop(name: str, text: str) -> str:
        if name != "WDISeries.csv":
            return text
        return "\n".join(line for line in text.split("\n") if not line.startswith(f'"{ZIP_ONLY}"'))

    snapshots = snapshots_with(tmp_path, write_zip(tmp_path / "WDI_CSV.zip", zip_only_series=True, edit=drop))
    result = materialize(
        Settings(home=tmp_path / "home", snapshots_dir=snapshots),
        ["snapshots/worldbank", "raw/wdi_observations", "raw/wdi_countries", "raw/wdi_indicators"],
    )
    assert not result.success
    assert re.search(
        rf"WDI_CSV\.zip!WDISeries\.csv: no row for series of the data file: {re.escape(ZIP_ONLY)}", failure_text(result)
    ), failure_text(result)


def test_a_series_with_a_file_of_its_own_is_read_from_that_file_only(tmp_path):
    """A per-indicator file beside the zip (a later live fetch, say) holds that series: its values
    are loaded once, from it, and the zip's copy is left out."""
    snapshots = snapshots_with(tmp_path, SAMPLE)
    own = "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
    shutil.copy2(SNAPSHOTS / "worldbank" / own, snapshots / "worldbank" / own)
    provenance = SourceProvenance.load(snapshots / "worldbank")
    provenance.record(
        snapshots / "worldbank" / own, obtained_from="test", date_accessed="2026-11-29", vintage="2024-11"
    )
    provenance.save(snapshots / "worldbank")
    settings = Settings(home=tmp_path / "home", snapshots_dir=snapshots)
    result = materialize(
        settings, ["snapshots/worldbank", "raw/wdi_observations", "raw/wdi_countries", "raw/wdi_indicators"]
    )
    assert result.success, failure_text(result)
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        files = dict(connection.execute("select indicator_code, source_file from raw.wdi_indicators").fetchall())
        lines = connection.execute(
            "select count(*), count(distinct (country_code, year)), min(source_line) "
            "from raw.wdi_observations where indicator_code = 'IT.NET.USER.ZS'"
        ).fetchone()
    assert files == {**{code: "WDI_CSV.zip" for code in LAYOUT_COUNTS}, "IT.NET.USER.ZS": own}
    # Every value of the file once: its rows start on line 2 (no preamble), the zip's would too,
    # so the count says it: the file's non-empty cells, economies and aggregates alike.
    expected = (
        pd.read_csv(SNAPSHOTS / "worldbank" / own, encoding="utf-8-sig").filter(regex=r"^\d{4}$").notna().sum().sum()
    )
    assert lines[0] == lines[1] == expected


@pytest.mark.slow
def test_a_zip_dropped_into_the_inbox_refreshes_green_with_every_series_and_supersedes_the_files_it_covers(
    built, tmp_path
):
    """The zip in the older layout (WDIData.csv, no BOM, no trailing column, CRLF) with one series
    no config names: the refresh publishes the same 44,998 economy values, every series with its
    metadata, keeps the zip as a snapshot and moves the per-indicator files it covers aside."""
    home = copy_home(built, tmp_path / "home")
    snapshots = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, snapshots)
    before = {entry.file for entry in SourceProvenance.load(snapshots / "worldbank").files}
    inbox = home / "inbox" / "worldbank"
    inbox.mkdir(parents=True)
    dropped = write_zip(
        inbox / "WDI_CSV.zip", bom=False, trailing=False, newline="\r\n", data_name="WDIData.csv", zip_only_series=True
    )
    dropped_sha256 = sha256_of(dropped)
    settings = Settings(home=home, snapshots_dir=snapshots)

    result = materialize(settings, source="worldbank")

    assert result.success, failure_text(result)
    with duckdb.connect(str(settings.published_db), read_only=True) as db:
        counts = dict(db.execute("select indicator_code, count(*) from marts.wdi_observations group by 1").fetchall())
        indicators = db.execute(
            "select indicator_code, topic, aggregation_method, weighting, source_file, n_economies "
            "from marts.wdi_indicators order by 1"
        ).fetchall()
        # Equal but for the last bits: DuckDB's parallel sums may add the same values in another order.
        same_means = db.execute(
            "select count(*), count(*) filter (where coalesce(abs(z.weighted_mean_value - i.weighted_mean_value) <= 1e-9 * abs(i.weighted_mean_value), "
            "z.weighted_mean_value is null and i.weighted_mean_value is null)) "
            "from marts.wdi_region_summary as z join marts.wdi_region_summary as i using (year, grouping, group_name) "
            "where z.indicator_code = ? and i.indicator_code = 'IT.NET.USER.ZS'",
            [ZIP_ONLY],
        ).fetchone()
    assert {code: counts[code] for code in LAYOUT_COUNTS} == LAYOUT_COUNTS
    assert counts[ZIP_ONLY] == LAYOUT_COUNTS["IT.NET.USER.ZS"]
    series = {row[0]: row for row in sample_members()["WDISeries.csv"][1:]}
    assert indicators == sorted(
        [
            (
                code,
                series[code][1],
                series[code][9],
                "sum" if code == "SP.POP.TOTL" else "population",
                "WDI_CSV.zip",
                economies_reporting(code),
            )
            for code in LAYOUT_COUNTS
        ]
        # The zip-only series holds internet users' values.
        + [
            (
                ZIP_ONLY,
                "Test fixture: topic",
                "Weighted average",
                "population",
                "WDI_CSV.zip",
                economies_reporting("IT.NET.USER.ZS"),
            )
        ]
    )
    assert same_means[0] > 0 and same_means[0] == same_means[1]

    folder = snapshots / "worldbank"
    provenance = SourceProvenance.load(folder)
    assert [(entry.file, entry.sha256) for entry in provenance.files] == [("WDI_CSV.zip", dropped_sha256)]
    assert sha256_of(folder / "WDI_CSV.zip") == dropped_sha256 and not any(inbox.iterdir())
    [archive] = (folder / SUPERSEDED_DIR).iterdir()
    superseded = {path.name for path in archive.iterdir() if path.name != "provenance.json"}
    assert superseded == before and not any(folder.glob("API_*.csv"))
    # The superseded files keep their records beside them, and still verify against them.
    assert {path.name for path, _ in verified_files(archive, "*")[1]} == before


def economies_reporting(code: str) -> int:
    """Economies with at least one value of ``code`` in the sample, counted with the csv module."""
    economies = economies_of_the_sample()
    return len(
        {
            row[1]
            for row in sample_members()["WDICSV.csv"][1:]
            if row[3] == code and any(row[4:]) and row[1] in economies
        }
    )


def test_a_series_fingerprint_changes_when_two_economies_swap_their_latest_values(tmp_path):
    """The fingerprint that says whether a series changed is an XOR over its rows' hashes, each row
    hashed whole once more first: DuckDB's hash of several values XORs the last one in, so two rows
    whose last cells were swapped cancelled out, and such a revision was taken for no change."""
    original = SNAPSHOTS / "worldbank" / "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
    lines = original.read_bytes().split(b"\r\n")
    rows = [i for i, line in enumerate(lines[1:], 1) if line and line.rsplit(b",", 1)[-1] not in (b"", b'""')]
    first, second = rows[0], next(i for i in rows if lines[i].rsplit(b",", 1)[-1] != lines[rows[0]].rsplit(b",", 1)[-1])
    swapped = list(lines)
    for a, b in ((first, second), (second, first)):
        swapped[a] = lines[a].rsplit(b",", 1)[0] + b"," + lines[b].rsplit(b",", 1)[-1]
    revised = tmp_path / original.name
    revised.write_bytes(b"\r\n".join(swapped))

    def fingerprint(path: Path) -> str:
        with duckdb.connect() as connection:
            parser.read_indicator_csvs(connection, [path])
            return connection.execute("select values_hash from wdi_series_incoming").fetchall()[0][0]

    assert fingerprint(revised) != fingerprint(original)
    (tmp_path / "same").mkdir()
    copy = shutil.copy2(original, tmp_path / "same" / original.name)
    assert fingerprint(copy) == fingerprint(original)  # the same bytes, the same fingerprint
