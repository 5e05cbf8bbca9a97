"""raw.wdi_observations: every non-empty WDI value, one row per (indicator, code, year)."""

from datetime import date

import great_expectations as gx
import pandas as pd

from expectations.common import CENTRAL_ASIA, Batch, Gate, exact_schema, known_anomaly, not_older, why

TABLE = "raw.wdi_observations"
COLUMNS = {
    "country_code": "VARCHAR", "country_name": "VARCHAR", "indicator_code": "VARCHAR", "indicator_name": "VARCHAR",
    "year": "INTEGER", "value": "DOUBLE", "source_line": "INTEGER", "vintage": "VARCHAR", "source_file": "VARCHAR",
    "source_sha256": "VARCHAR", "is_aggregate": "BOOLEAN", "loaded_at": "TIMESTAMP",
}
# unit (config/worldbank.toml) -> the range a value of it can have, and why
RANGES = {
    "percent": (0, 100, "a share of the population is between 0 and 100 percent"),
    "per_100": (0, 300, "subscriptions per 100 people: above 300 is a unit or decimal error"),
    "count": (0, None, "a population is positive"),
    "usd": (0, None, "GDP per capita is positive"),
}


# Values the World Bank publishes outside those ranges, kept as published and listed by exact value.
# (indicator_code, country_code, year, column, value, why)
_SIM_TOURISM = "Macao SAR and Hong Kong SAR count visitors' SIM cards: above 300 mobile subscriptions per 100 people"
KNOWN_ANOMALIES = [
    ("IT.CEL.SETS.P2", "HKG", 2021, "value", 319.4262706, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2014, "value", 307.2748098, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2015, "value", 308.1886876, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2016, "value", 314.3465329, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2017, "value", 320.5404246, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2018, "value", 335.0574739, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2019, "value", 420.8530977, _SIM_TOURISM),
    ("IT.CEL.SETS.P2", "MAC", 2020, "value", 412.9927856, _SIM_TOURISM),
]


def batches(frame: pd.DataFrame, gate: Gate) -> list[Batch]:
    frame = frame.assign(listed=known_anomaly(frame, KNOWN_ANOMALIES, ["indicator_code", "country_code", "year"], "value"))
    units = gate.published["units"]
    ranges = []
    for unit, (low, high, reason) in RANGES.items():
        codes = units[units.unit == unit].indicator_code.tolist()
        if codes:
            ranges.append(why(gx.expectations.ExpectColumnValuesToBeBetween(
                column="value", min_value=low, max_value=high, strict_min=high is None,
                row_condition=f"indicator_code in {codes} and listed == False", condition_parser="pandas"),
                f"{reason} ({', '.join(codes)}; KNOWN_ANOMALIES lists the World Bank's own exceptions)"))
    rows = Batch("rows", frame, [
        why(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["indicator_code", "country_code", "year"]),
            "one value per indicator, economy and year"),
        why(gx.expectations.ExpectColumnValuesToNotBeNull(column="value"), "empty cells are absent, never loaded as NULL or 0"),
        why(gx.expectations.ExpectColumnValuesToBeBetween(column="year", min_value=1960, max_value=date.today().year),
            "WDI starts in 1960 and has no future years"),
        *ranges,
        why(gx.expectations.ExpectColumnValuesToBeInSet(column="country_code", value_set=sorted(gate.known_iso3),
                                                        row_condition="is_aggregate == False", condition_parser="pandas"),
            "every economy must be a known country, or it joins to nothing in dim_country"),
        why(gx.expectations.ExpectColumnDistinctValuesToContainSet(column="country_code", value_set=CENTRAL_ASIA),
            "the five Central Asian republics are the warehouse's focus and must be in every source"),
    ])
    vintages = frame.groupby("indicator_code").vintage.first().rename("current").reset_index()
    compared = vintages.merge(gate.published.get("vintages", pd.DataFrame(columns=["indicator_code", "previous"])), on="indicator_code")
    compared["not_older"] = [not_older(p, c) for p, c in zip(compared.previous, compared.current)]
    return [
        exact_schema(gate, COLUMNS),
        rows,
        Batch("vintage_against_published", compared, [
            why(gx.expectations.ExpectColumnValuesToBeInSet(column="not_older", value_set=[True]),
                "a new snapshot must not be an older release than the one the published warehouse holds"),
        ]),
    ]
