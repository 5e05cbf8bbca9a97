"""The WDI parsers on every real layout in the snapshots, and on bad files."""

import csv
import io

import duckdb
import pandas as pd
import pytest

from orchestration.sources.text_files import InputFileError
from orchestration.sources.worldbank import parser as worldbank
from tests.conftest import SNAPSHOTS

WB = SNAPSHOTS / "worldbank"
ORIGINAL = WB / "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv"
RESAVED = WB / "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
PIVOTED = WB / "API_IT.NET.BBND.P2_pivoted_from_wdi_r_export.csv"
METADATA = WB / "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"


def parse(path):
    relation, vintage = worldbank.read_indicator_csv(duckdb.connect(), path)
    return relation.df(), vintage


def non_empty_cells(path, skip: int) -> set[tuple]:
    """The test's own count of the values in a wide file, with the csv module."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()[skip:]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    header = next(reader)
    cells = set()
    for row in reader:
        for year, text in zip(header[4:], row[4:]):
            if year and text.strip():
                cells.add((row[1], int(year), float(text)))
    return cells


@pytest.mark.parametrize(
    ("path", "skip", "vintage"),
    [(ORIGINAL, 4, "2024-02-21"), (RESAVED, 0, None), (PIVOTED, 0, None)],
    ids=["original-with-preamble", "resaved-crlf-bom", "pivoted-no-preamble"],
)
def test_every_layout_yields_exactly_the_files_values(path, skip, vintage):
    frame, found = parse(path)
    assert found == vintage
    assert set(zip(frame.country_code, frame.year, frame.value)) == non_empty_cells(path, skip)
    assert not frame.duplicated(["country_code", "year"]).any()


def test_the_layout_quirks_are_really_there():
    assert ORIGINAL.read_bytes().startswith(b'\xef\xbb\xbf"Data Source"') and b'",\r\n' in ORIGINAL.read_bytes()[:400]
    assert RESAVED.read_bytes().startswith(b"\xef\xbb\xbfCountry Name,") and b"\r\n" in RESAVED.read_bytes()
    assert PIVOTED.read_bytes().startswith(b'"Country Name"')


def test_known_values_and_their_lines():
    frame, _ = parse(RESAVED)
    kaz = frame[(frame.country_code == "KAZ") & (frame.year == 2022)].iloc[0]
    assert kaz.value == 92.2969 and kaz.indicator_code == "IT.NET.USER.ZS"
    assert RESAVED.read_text(encoding="utf-8-sig").splitlines()[kaz.source_line - 1].startswith("Kazakhstan,KAZ,")
    assert frame[frame.country_code == "TKM"].year.max() == 2017
    original, _ = parse(ORIGINAL)
    line = original[(original.country_code == "KAZ") & (original.year == 2022)].iloc[0].source_line
    assert ORIGINAL.read_text(encoding="utf-8-sig").splitlines()[line - 1].startswith('"Kazakhstan","KAZ"')


def test_files_read_in_one_scan_keep_their_own_lines():
    """Three of the embedded files share a layout and so one DuckDB scan: every value must still
    carry its own file and the line it is on there."""
    connection = duckdb.connect()
    paths = sorted(WB.glob("API_*.csv"))
    worldbank.read_indicator_csvs(connection, paths)
    rows = connection.execute("select source_file, source_line, country_code, year, value from wdi_incoming").fetchall()
    text = {str(path): path.read_text(encoding="utf-8-sig").splitlines() for path in paths}
    for file, line, code, _, _ in rows:
        assert next(csv.reader([text[file][line - 1]]))[1] == code, (file, line)
    found = {(file, code, year, value) for file, _, code, year, value in rows}
    expected = {
        (str(path), *cell)
        for path in paths
        for cell in non_empty_cells(path, 4 if text[str(path)][0].startswith('"Data Source"') else 0)
    }
    assert len(rows) == len(found) and found == expected


def test_country_metadata_with_notes_spanning_lines():
    frame = worldbank.read_country_metadata_csv(METADATA).set_index("country_code")
    assert len(frame) == 265 and frame.is_aggregate.sum() == 48
    assert "\n" in frame.loc["AFG", "special_notes"]
    assert frame.loc["KAZ", ["region", "income_group"]].tolist() == ["Europe & Central Asia", "Upper middle income"]
    assert frame.loc["WLD", "is_aggregate"] and pd.isna(frame.loc["VEN", "income_group"])
    assert "INX" not in frame.index


def write(tmp_path, text, name="API_IT.NET.USER.ZS_DS2_en_csv_v2_1.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = '"Country Name","Country Code","Indicator Name","Indicator Code","2021","2022",\n'
ROW = '"Kazakhstan","KAZ","Individuals using the Internet (% of population)","IT.NET.USER.ZS","90.9","{value}",\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + ROW.format(value="92.3") + ROW.format(value="n.a.").replace("KAZ", "KGZ"),
            r"values that are not numbers: line 3 \(KGZ, 2022\): 'n\.a\.'",
        ),
        (HEADER + ROW.format(value="92.3")[:40], r"line 2: the file ends mid-row \(truncated\)"),
        (HEADER.replace("Country Code", "ISO") + ROW.format(value="1"), r"line 1: unrecognised header"),
        ("", r"the file is empty"),
        (
            HEADER + ROW.format(value="1").replace('IT.NET.USER.ZS"', 'IT.CEL.SETS.P2"'),
            r"named for IT\.NET\.USER\.ZS but holds \['IT\.CEL\.SETS\.P2'\]",
        ),
        (
            '"Data Source","World Development Indicators",\n\n"Last Updated","2024-02-21",\n\n' + HEADER,
            r"line 3: expected \"Last Updated Date\"",
        ),
    ],
    ids=["non-numeric", "truncated", "renamed-column", "empty", "wrong-indicator", "bad-preamble"],
)
def test_bad_files_name_the_file_and_the_reason(tmp_path, text, message):
    with pytest.raises(InputFileError, match=message):
        parse(write(tmp_path, text))


def test_a_latin1_file_names_the_line(tmp_path):
    path = write(tmp_path, HEADER + ROW.format(value="1").replace("Kazakhstan", "Curaçao"), encoding="latin-1")
    with pytest.raises(InputFileError, match=r"API_IT\.NET\.USER\.ZS_DS2_en_csv_v2_1\.csv: line 2: not valid UTF-8"):
        parse(path)


def test_a_row_with_missing_fields_is_refused(tmp_path):
    path = write(tmp_path, HEADER + '"Kazakhstan","KAZ","x","IT.NET.USER.ZS","1"\n')
    with pytest.raises(
        InputFileError, match=r"API_IT\.NET\.USER\.ZS_DS2_en_csv_v2_1\.csv: DuckDB could not read it as CSV"
    ):
        parse(path)


def test_the_config_names_five_distinct_indicators():
    from orchestration.sources.worldbank import Options

    indicators, live = worldbank.load_config(Options().config)
    assert [i.code for i in indicators] == [
        "IT.NET.USER.ZS",
        "IT.CEL.SETS.P2",
        "IT.NET.BBND.P2",
        "SP.POP.TOTL",
        "NY.GDP.PCAP.CD",
    ]
    assert live.per_page > 50 and live.timeout_seconds > 0 and live.retries >= 1
