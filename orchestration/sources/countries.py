"""Country names to ISO3, and the UN M49 regions, from a maintained library.

country_converter keeps the regular expressions that recognise the many spellings upstreams use
("Kyrgyzstan" and "Kyrgyz Republic", "Türkiye" and "Turkey") and the UN M49 region of each
country. Its ``continent`` column follows the five M49 regions except that it says "America".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cache

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


def to_iso3(names: Iterable[str], *, where: str) -> dict[str, str]:
    """Map each distinct name to ISO3; ``where`` names the file in the error."""
    distinct = sorted(set(names))
    results = _converter().convert(distinct, to="ISO3", enforce_list=True, not_found=_UNMAPPED)
    problems = []
    mapping = {}
    for name, codes in zip(distinct, results):
        if codes == [_UNMAPPED]:
            problems.append(f"{name!r} matches no country")
        elif len(codes) != 1:
            problems.append(f"{name!r} is ambiguous: {', '.join(map(str, codes))}")
        else:
            mapping[name] = codes[0]
    if problems:
        raise CountryMappingError(f"{where}: unmapped country names: {'; '.join(problems)}")
    return mapping


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
