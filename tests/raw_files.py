"""The tests' own reading of the embedded snapshot files: pandas and country_converter, nothing
from orchestration/, so a value a test expects never comes from the code under test."""

from __future__ import annotations

import csv
import json
from functools import cache

import country_converter as coco
import pandas as pd

from orchestration.settings import PROJECT_ROOT

SNAPSHOTS = PROJECT_ROOT / "warehouse" / "snapshots"
C5 = ["KAZ", "KGZ", "TJK", "TKM", "UZB"]
# The survey files' placeholder rows, (iso3, year) in order: Montenegro before its independence
# (2006) and South Sudan before its own (2011) are listed with no values.
NOT_YET_MEMBERS = [
    ("MNE", 2003),
    ("MNE", 2004),
    ("MNE", 2005),
    ("SSD", 2003),
    ("SSD", 2004),
    ("SSD", 2005),
    ("SSD", 2008),
    ("SSD", 2010),
]
WDI_FILES = {
    "IT.NET.USER.ZS": "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv",
    "IT.CEL.SETS.P2": "API_IT.CEL.SETS.P2_DS2_en_csv_v2_2987.csv",
    "IT.NET.BBND.P2": "API_IT.NET.BBND.P2_pivoted_from_wdi_r_export.csv",
    "NY.GDP.PCAP.CD": "API_NY.GDP.PCAP.CD_DS2_en_csv_v2_184.csv",
    "SP.POP.TOTL": "API_SP.POP.TOTL_DS2_en_csv_v2_85.csv",
}


def competition_rank(values: pd.Series) -> pd.Series:
    """1 for the highest; ties share a rank and the next rank skips (1, 2, 2, 4)."""
    return values.rank(ascending=False, method="min").astype("Int64")


@cache
def survey(year: int) -> pd.DataFrame:
    """One survey file, indexed by ISO3: name, rank, the five indices, the UN region, whether the
    state was surveyed, and each index's competition rank among the surveyed states."""
    frame = pd.read_csv(SNAPSHOTS / "un_egov" / f"EGOV_DATA_{year}.csv")
    frame.columns = ["year", "name", "rank", "egdi", "epi", "osi", "hci", "tii", *frame.columns[8:]]
    frame["name"] = frame["name"].str.strip()
    frame["iso3"] = coco.convert(list(frame["name"]), to="ISO3")
    frame["region"] = [{"America": "Americas"}.get(c, c) for c in coco.convert(list(frame["name"]), to="continent")]
    frame["surveyed"] = frame["rank"].notna()
    frame = frame.set_index("iso3")
    for index in ("egdi", "epi", "osi", "hci", "tii"):
        frame[f"{index}_rank"] = competition_rank(frame.loc[frame.surveyed, index]).reindex(frame.index)
    return frame


def table_1(iso3: str) -> dict[str, float]:
    """The study's Table 1 for one country, from the 2012 and 2022 survey files, in its column order."""
    old, new = survey(2012).loc[iso3], survey(2022).loc[iso3]
    return {
        "egdi_2022": new.egdi,
        "egdi_2012": old.egdi,
        "dynamics_10y_pct": (new.egdi / old.egdi - 1) * 100,
        "rank_2022": new["rank"],
        "rank_change_since_2012": old["rank"] - new["rank"],
    }


@cache
def wdi(code: str) -> pd.DataFrame:
    """One World Bank bulk file, indexed by country code, one column per year ("1960", ...)."""
    path = SNAPSHOTS / "worldbank" / WDI_FILES[code]
    preamble = path.read_text(encoding="utf-8-sig").startswith('"Data Source"')
    frame = pd.read_csv(path, skiprows=4 if preamble else 0, encoding="utf-8-sig").set_index("Country Code")
    return frame[[column for column in frame.columns if column.isdigit()]]


@cache
def economies() -> pd.DataFrame:
    """The World Bank's economies (aggregates have no region), with Region and IncomeGroup."""
    metadata = pd.read_csv(
        SNAPSHOTS / "worldbank" / "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv", encoding="utf-8-sig"
    )
    return metadata[metadata.Region.notna()].set_index("Country Code")


def datareportal_figures() -> list[dict]:
    with (SNAPSHOTS / "datareportal" / "figures.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def provenance(source: str) -> dict:
    return json.loads((SNAPSHOTS / source / "provenance.json").read_text(encoding="utf-8"))


def provenance_of(source: str, file_name: str) -> dict:
    """The provenance fields of one file: the source's common fields with the file's own over them."""
    record = provenance(source)
    entry = next(entry for entry in record["files"] if entry["file"] == file_name)
    return {**{k: v for k, v in record.items() if k != "files"}, **entry}
