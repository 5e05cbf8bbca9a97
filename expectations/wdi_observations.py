"""raw.wdi_observations: every non-empty WDI value, one row per (indicator, code, year); each
series' file, vintage and range rule are in raw.wdi_indicators, each code's kind in raw.wdi_countries.

At full-WDI scale the table holds ~20 million rows, too many for pandas and GX in memory. So the
suite validates one row per series (indicator, economy) that DuckDB aggregates from the table:
the row count against the distinct years (uniqueness), the count of NULL values, the first and
last year, the values that are not finite, and the smallest and largest value outside the listed
anomalies (ranges). Every
row-level rule holds exactly when its aggregate form does, and a failure names the series and
its file.
"""

from datetime import date

import duckdb
import pandas as pd

from expectations.common import CENTRAL_ASIA, Batch, Gate, exact_schema, not_older, why

TABLE = "raw.wdi_observations"
COLUMNS = {
    "country_code": "VARCHAR",
    "indicator_code": "VARCHAR",
    "year": "INTEGER",
    "value": "DOUBLE",
    "source_line": "INTEGER",
}
# unit (config/worldbank.toml, or parser.unit_of for the other series) -> the range a value of it
# can have, and why. A series of unit "other" is only checked to be finite.
RANGES = {
    "percent": (0, 100, "a share (of the population, or of a total) is between 0 and 100 percent"),
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


def load(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per series, aggregated in DuckDB; listed anomalies are left out of the extremes."""
    listed = " union all ".join(
        f"select '{code}' as indicator_code, '{country}' as country_code, {year} as year, {value!r}::double as value"
        for code, country, year, column, value, _ in KNOWN_ANOMALIES
        if column == "value"
    )
    return connection.execute(
        f"""
        with listed as ({listed}),
        series as (
            select o.indicator_code, o.country_code, count(*) as n_rows, count(distinct o.year) as n_years,
                   count(*) - count(o.value) as n_null_values, count(*) filter (where not isfinite(o.value)) as n_not_finite,
                   min(o.year) as first_year, max(o.year) as last_year,
                   min(o.value) filter (where l.indicator_code is null) as min_value,
                   max(o.value) filter (where l.indicator_code is null) as max_value
            from {TABLE} as o left join listed as l
              on o.indicator_code = l.indicator_code and o.country_code = l.country_code and o.year = l.year and o.value = l.value
            group by all
        )
        select s.*, coalesce(c.is_aggregate, true) as is_aggregate, i.source_file, i.vintage
        from series as s
        left join raw.wdi_countries as c on s.country_code = c.country_code
        left join raw.wdi_indicators as i on s.indicator_code = i.indicator_code
        order by s.indicator_code, s.country_code
        """
    ).df()


def batches(frame: pd.DataFrame, gate: Gate) -> list[Batch]:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py
    from great_expectations.expectations.row_conditions import Column

    units = gate.published["units"]
    ranges = []
    for unit, (low, high, reason) in RANGES.items():
        codes = units[units.unit == unit].indicator_code.tolist()
        if codes:
            where = Column("indicator_code").is_in(codes)
            because = f"{reason} ({', '.join(codes)}; KNOWN_ANOMALIES lists the World Bank's own exceptions)"
            ranges.append(
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column="min_value", min_value=low, strict_min=high is None, row_condition=where
                    ),
                    because,
                )
            )
            if high is not None:
                ranges.append(
                    why(
                        gx.expectations.ExpectColumnValuesToBeBetween(
                            column="max_value", max_value=high, row_condition=where
                        ),
                        because,
                    )
                )
    series = Batch(
        "series",
        frame,
        [
            why(
                gx.expectations.ExpectColumnPairValuesToBeEqual(column_A="n_rows", column_B="n_years"),
                "one value per indicator, economy and year",
            ),
            why(
                gx.expectations.ExpectColumnValuesToBeInSet(column="n_null_values", value_set=[0]),
                "empty cells are absent, never loaded as NULL or 0",
            ),
            why(
                gx.expectations.ExpectColumnValuesToBeInSet(column="n_not_finite", value_set=[0]),
                "NaN or infinity is not a measurement: the World Bank leaves such a cell empty",
            ),
            why(
                gx.expectations.ExpectColumnValuesToBeBetween(column="first_year", min_value=1960), "WDI starts in 1960"
            ),
            why(
                gx.expectations.ExpectColumnValuesToBeBetween(column="last_year", max_value=date.today().year),
                "WDI has no future years",
            ),
            *ranges,
            why(
                gx.expectations.ExpectColumnValuesToBeInSet(
                    column="country_code",
                    value_set=sorted(gate.known_iso3),
                    row_condition=Column("is_aggregate") == False,
                ),
                "every economy must be a known country, or it joins to nothing in dim_country",
            ),
            why(
                gx.expectations.ExpectColumnDistinctValuesToContainSet(column="country_code", value_set=CENTRAL_ASIA),
                "the five Central Asian republics are the warehouse's focus and must be in every source",
            ),
        ],
    )
    vintages = frame.groupby("indicator_code").vintage.first().rename("current").reset_index()
    compared = vintages.merge(
        gate.published.get("vintages", pd.DataFrame(columns=["indicator_code", "previous"])), on="indicator_code"
    )
    compared["not_older"] = [not_older(p, c) for p, c in zip(compared.previous, compared.current)]
    return [
        exact_schema(gate, COLUMNS),
        series,
        Batch(
            "vintage_against_published",
            compared,
            [
                why(
                    gx.expectations.ExpectColumnValuesToBeInSet(column="not_older", value_set=[True]),
                    "a new snapshot must not be an older release than the one the published warehouse holds",
                ),
            ],
        ),
    ]
