"""The UN survey parser on the real files, their quirks, and every way a file can be bad."""

import csv
from pathlib import Path

import pytest

from orchestration.sources.countries import CountryMappingError, load_crosswalk
from orchestration.sources.text_files import InputFileError
from orchestration.sources.un_egov.parser import CROSSWALK, parse_file, parse_files
from tests import raw_files
from tests.conftest import SNAPSHOTS

UN = SNAPSHOTS / "un_egov"
HEADER = (
    "Survey Year,Country Name,E-Government Rank,E-Government Index,E-Participation Index,"
    "Online Service Index,Human Capital Index,Telecommunication Infrastructure Index\n"
)


@pytest.fixture(scope="module")
def surveys():
    return parse_files(sorted(UN.glob("EGOV_DATA_*.csv")))


def write(tmp_path: Path, body: str | bytes, name: str = "EGOV_DATA_2022.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def test_every_year_has_193_distinct_states(surveys):
    counts = surveys.groupby("survey_year")["iso3"].nunique()
    assert list(counts.index) == [2003, 2004, 2005, 2008, 2010, 2012, 2014, 2016, 2018, 2020, 2022, 2024]
    assert set(counts) == {193}
    assert not surveys.duplicated(["survey_year", "iso3"]).any()


def test_quoted_names_lose_their_trailing_space(surveys):
    assert b'"Kazakhstan "' in (UN / "EGOV_DATA_2022.csv").read_bytes()
    kaz = surveys[(surveys.survey_year == 2022) & (surveys.iso3 == "KAZ")].iloc[0]
    assert kaz.country_name == "Kazakhstan"
    assert not surveys.country_name.str.endswith(" ").any()


def test_the_renamed_2024_header_with_crlf_reads_like_the_others(surveys):
    raw = (UN / "EGOV_DATA_2024.csv").read_bytes()
    assert raw.startswith(b"Survey Year,Country,Rank,E_Index") and b"\r\n" in raw
    uzb = surveys[(surveys.survey_year == 2024) & (surveys.iso3 == "UZB")].iloc[0]
    line = raw.decode().splitlines()[uzb.source_line - 1].split(",")
    assert line[1].strip() == "Uzbekistan"
    assert uzb.egdi_rank == int(line[2]) and uzb.egdi == float(line[3]) and uzb.tii == float(line[7])


def test_placeholder_rows_of_non_members_are_null_not_zero(surveys):
    placeholders = surveys[~surveys.surveyed]
    assert sorted(zip(placeholders.iso3, placeholders.survey_year)) == raw_files.NOT_YET_MEMBERS
    assert placeholders[["egdi_rank", "egdi", "epi", "osi", "hci", "tii"]].isna().all().all()
    assert surveys[surveys.surveyed][["egdi_rank", "egdi", "epi", "osi", "hci", "tii"]].notna().all().all()


def test_a_published_zero_egdi_stays_zero(surveys):
    # 2003: Iraq was ranked (174) with EGDI 0; that is the UN's value, not a placeholder.
    iraq = surveys[(surveys.survey_year == 2003) & (surveys.iso3 == "IRQ")].iloc[0]
    assert iraq.surveyed and iraq.egdi == 0 and iraq.egdi_rank == 174 and iraq.hci == 0.93


def test_names_that_differ_from_other_sources_map_to_iso3(surveys):
    names = dict(zip(surveys.country_name, surveys.iso3))
    assert names["Kyrgyzstan"] == "KGZ"
    assert names["Türkiye"] == "TUR" and names["Republic of Moldova"] == "MDA"
    assert names["United Kingdom of Great Britain and Northern Ireland"] == "GBR"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", r"EGOV_DATA_2022\.csv: the file is empty"),
        (HEADER, r"EGOV_DATA_2022\.csv: no data rows"),
        (
            HEADER.replace("E-Participation Index", "EPI") + '2022,"Kazakhstan ",28,0.86,0.80,0.93,0.90,0.75\n',
            r"line 1: unrecognised header; missing \['E-Participation Index'\], unexpected \['EPI'\]",
        ),
        (
            HEADER + '2022,"Kazakhstan ",28,0.86,0.80,0.93,0.90,0.75\n2022,"Kyrgyzstan ",81,0.69',
            r"line 3: the file ends mid-row \(truncated\)",
        ),
        (HEADER + '2022,"Kazakhstan ",28,0.86,0.80,0.93,0.90\n', r"line 2: 7 fields where the header has 8"),
        (HEADER + '2022,"Kazakhstan ",28,0.86,n/a,0.93,0.90,0.75\n', r"line 2: column epi: 'n/a' is not a number"),
        (
            HEADER + '2021,"Kazakhstan ",28,0.86,0.80,0.93,0.90,0.75\n',
            r"line 2: survey year 2021 in a file named for 2022",
        ),
        (HEADER + '2022,"Kazakhstan ",,0.86,0.80,0.93,0.90,0.75\n', r"line 2: 'Kazakhstan' has no rank but non-zero"),
        (
            (HEADER + '2022,"Côte d\'Ivoire ",1,0.5,0.5,0.5,0.5,0.5\n').encode("latin-1"),
            r"line 2: not valid UTF-8 \(byte 0xf4",
        ),
    ],
    ids=[
        "empty",
        "header-only",
        "renamed-column",
        "truncated",
        "short-row",
        "non-numeric",
        "wrong-year",
        "blank-rank",
        "latin-1",
    ],
)
def test_bad_files_fail_naming_file_line_and_reason(tmp_path, body, message):
    with pytest.raises(InputFileError, match=message):
        parse_file(write(tmp_path, body))


ROW = '2022,"{name} ",1,0.5,0.5,0.5,0.5,0.5\n'


@pytest.mark.parametrize(
    ("names", "message"),
    [
        # Fuzzy matching maps a misspelling silently; the crosswalk refuses it and passes on the guess.
        (
            ["Kazakhstania"],
            r"line 2: 'Kazakhstania' is not in .*crosswalk\.csv \(country_converter suggests KAZ; "
            r"once checked, add the line Kazakhstania,<ISO3> to it\)",
        ),
        (["Atlantis"], r"line 2: 'Atlantis' is not in .*crosswalk\.csv \(country_converter has no suggestion"),
        (
            ["Niger and Nigeria"],
            r"line 2: 'Niger and Nigeria' is not in .*\(country_converter finds it ambiguous: NER, NGA",
        ),
        # A name pattern matching would take for Korea, and a second name for one code.
        (["Korea"], r"line 2: 'Korea' is not in .*crosswalk\.csv"),
        (["Kazakhstan", "Uzbekistan", "Kyrgyzstan"], None),
    ],
    ids=["misspelt", "unknown", "ambiguous", "too-short", "all-known"],
)
def test_country_names_map_only_through_the_reviewed_crosswalk(tmp_path, names, message):
    path = write(tmp_path, HEADER + "".join(ROW.format(name=name) for name in names))
    if message is None:
        assert list(parse_file(path).iso3) == ["KAZ", "UZB", "KGZ"]
        return
    with pytest.raises(CountryMappingError, match=r"EGOV_DATA_2022\.csv: country names: " + message):
        parse_file(path)


def test_two_names_with_one_code_in_a_file_are_refused(tmp_path, monkeypatch):
    crosswalk = tmp_path / "crosswalk.csv"
    crosswalk.write_text(CROSSWALK.read_text(encoding="utf-8") + "Kazakstan,KAZ\n", encoding="utf-8")
    monkeypatch.setattr("orchestration.sources.un_egov.parser.CROSSWALK", crosswalk)
    path = write(tmp_path, HEADER + ROW.format(name="Kazakhstan") + ROW.format(name="Kazakstan"))
    with pytest.raises(CountryMappingError, match=r"lines 2 and 3: 'Kazakhstan' and 'Kazakstan' are both KAZ"):
        parse_file(path)


def test_the_crosswalk_holds_every_name_of_every_survey_once():
    crosswalk = load_crosswalk(CROSSWALK)
    assert len(crosswalk) == len(set(crosswalk.values())) == 193
    printed = {
        row[1].strip()
        for path in (SNAPSHOTS / "un_egov").glob("EGOV_DATA_*.csv")
        for row in list(csv.reader(path.read_text(encoding="utf-8").splitlines()))[1:]
    }
    assert set(crosswalk) == printed
