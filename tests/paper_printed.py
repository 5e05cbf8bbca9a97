"""The study's printed numbers (dbt_project/seeds/paper/, transcribed from PAPER.md) and the rule by
which a recomputed value matches one: within half a unit of its last printed decimal."""

import csv

from tests.conftest import PAPER


def printed(name: str) -> list[dict]:
    with (PAPER / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_status(printed_text: str, value: float, exact: bool = False) -> str:
    decimals = len(printed_text.split(".")[1]) if "." in printed_text else 0
    tolerance = 0 if exact else 0.5 * 10**-decimals + 1e-9
    return "match" if abs(float(printed_text.replace("+", "")) - value) <= tolerance else "mismatch"
