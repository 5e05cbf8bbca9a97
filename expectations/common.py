"""What the suites share: the gate's knowledge of the world, and small builders."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

CENTRAL_ASIA = ["KAZ", "KGZ", "TJK", "TKM", "UZB"]
_VINTAGE_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?")


@dataclass(frozen=True)
class Gate:
    """What a suite may compare a new table with."""

    known_iso3: frozenset[str]
    schema: pd.DataFrame  # column_name, column_type of the raw table in the build database
    published: dict[str, pd.DataFrame] = field(default_factory=dict)  # previous values from the published warehouse


@dataclass
class Batch:
    name: str
    frame: pd.DataFrame
    expectations: list = field(default_factory=list)


def why(expectation, reason: str):
    """The expectation with the reason it exists as its description, which Data Docs render beside
    its result and a failed gate prints."""
    expectation.description = reason
    return expectation


def exact_schema(gate: Gate, columns: dict[str, str]) -> Batch:
    """The raw table has exactly these columns with these DuckDB types."""
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py

    signatures = [f"{name}: {kind}" for name, kind in columns.items()]
    frame = pd.DataFrame({"signature": [f"{n}: {t}" for n, t in zip(gate.schema.column_name, gate.schema.column_type)]})
    return Batch(
        "schema",
        frame,
        [
            why(
                gx.expectations.ExpectColumnValuesToBeInSet(column="signature", value_set=signatures),
                "the models read these columns by name and type; anything else means the parser or the upstream changed",
            ),
            why(gx.expectations.ExpectTableRowCountToEqual(value=len(columns)), "no column may be missing or added"),
        ],
    )


def not_older(previous: str, current: str) -> bool:
    """A vintage ("2024-02-21", "2024-11 (...)") is not older than the one it replaces."""
    old, new = _VINTAGE_DATE.match(str(previous)), _VINTAGE_DATE.match(str(current))
    return bool(old and new and new.group(0) >= old.group(0)) or str(previous) == str(current)


def known_anomaly(frame: pd.DataFrame, anomalies: list[tuple], keys: list[str], column: str) -> pd.Series:
    """True for the cells of ``column`` listed as known upstream anomalies, matched by exact value.

    Exact values, so a different number in the same place (a new release, a damaged file) is
    checked again like any other.
    """
    listed = {(*key, value) for *key, anomaly_column, value, _ in anomalies if anomaly_column == column}
    cells = zip(*(frame[k] for k in keys), frame[column])
    return pd.Series([cell in listed for cell in cells], index=frame.index, dtype=bool)
