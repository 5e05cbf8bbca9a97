"""Country names to ISO3 through each source's reviewed crosswalk, and the UN M49 regions.

A name maps only through a committed crosswalk (name as the upstream prints it, ISO3 code), never
by pattern: fuzzy matching maps "Kazakhstania" to KAZ without a word. country_converter only
suggests a code for a name no crosswalk holds, in the error that stops the load, and provides the
UN M49 region of each country (its ``continent`` column says "America" for the Americas).
"""

from __future__ import annotations

import csv
import logging
from functools import cache
from pathlib import Path

import country_converter as coco
import pandas as pd

_UNMAPPED = "__unmapped__"
_M49_REGION_NAMES = {"America": "Americas"}


class CountryMappingError(ValueError):
    """A country name that maps to no ISO3 code, or to more than one."""


@cache
def _converter() -> coco.CountryConverter:
    # The library logs each unmatched name as a warning; our own error says it better.
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return coco.CountryConverter()


def load_crosswalk(path: Path) -> dict[str, str]:
    """A source's reviewed crosswalk: each country name as the upstream prints it, and its ISO3 code."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["name"]: row["iso3"] for row in csv.DictReader(handle)}


def suggestion(name: str) -> str:
    """country_converter's guess for a name no crosswalk holds: advice for the reviewer, never a decision."""
    codes = _converter().convert([name], to="ISO3", enforce_list=True, not_found=_UNMAPPED)[0]
    if codes == [_UNMAPPED]:
        return "country_converter has no suggestion"
    if len(codes) > 1:
        return f"country_converter finds it ambiguous: {', '.join(map(str, codes))}"
    return f"country_converter suggests {codes[0]}"


def to_iso3(names: list[tuple[int, str]], crosswalk_path: Path, *, where: str) -> list[str]:
    """The ISO3 code of each (line, name) from the crosswalk. A name it lacks, or two names of one
    file with the same code, stop the load, naming ``where``, the lines and the names."""
    crosswalk = load_crosswalk(crosswalk_path)
    problems, first_with_code = [], {}
    for line, name in names:
        code = crosswalk.get(name)
        if code is None:
            problems.append(
                f"line {line}: {name!r} is not in {crosswalk_path} ({suggestion(name)}; "
                f"once checked, add the line {name},<ISO3> to it)"
            )
        elif first_with_code.setdefault(code, (line, name))[1] != name:
            first_line, first_name = first_with_code[code]
            problems.append(f"lines {first_line} and {line}: {first_name!r} and {name!r} are both {code}")
    if problems:
        raise CountryMappingError(f"{where}: country names: {'; '.join(problems)}")
    return [crosswalk[name] for _, name in names]


def reference_table() -> pd.DataFrame:
    """One row per country the library knows: ISO3, names and UN M49 region and subregion."""
    data = _converter().data
    table = pd.DataFrame(
        {
            "iso3": data["ISO3"],
            "name_short": data["name_short"],
            "name_official": data["name_official"],
            "un_region": data["continent"].replace(_M49_REGION_NAMES),
            "un_subregion": data["UNregion"],
            "un_member_since": pd.to_numeric(data["UNmember"], errors="coerce").astype("Int64"),
        }
    )
    return table.sort_values("iso3").reset_index(drop=True)
