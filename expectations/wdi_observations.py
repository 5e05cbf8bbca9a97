"""raw.wdi_observations: every non-empty WDI value, one row per (indicator, code, year); each
series' file, vintage and range rule are in raw.wdi_indicators, each code's kind in raw.wdi_countries.

At full-WDI scale the table holds ~20 million rows, too many for pandas and GX in memory. So the
suite validates one row per series (indicator, economy) that DuckDB aggregates from the table:
the row count against the distinct years (uniqueness), the count of NULL values, the first and
last year, the values that are not finite, and the smallest and largest value outside the listed
anomalies (ranges). Every
row-level rule holds exactly when its aggregate form does, and a failure names the series and
its file. A refresh that is not full aggregates only the series that have not passed in their
present state under the present code; the others' rows are read as they passed (PASSED), and
every row is validated.
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


# Each series' aggregates as they passed this gate, with the series' fingerprint (raw.wdi_indicators:
# its values, lines, name and weighting) and the code's: a later gate reads a series unchanged since
# (same fingerprint, same code) from here rather than aggregating its values again. Only a pass adds
# to it (keep()), so every row here passed; a full refresh aggregates every series anew.
PASSED = "raw.gate_wdi_series"
# What the latest gate aggregated (the series it did not find in PASSED): PASSED's rows if it passes.
CHECKED = "raw.gate_wdi_series_checked"
_AGGREGATES = (
    "indicator_code, country_code, n_rows, n_years, n_null_values, n_not_finite, first_year, last_year, "
    "min_value, max_value"
)
_COLUMNS = (
    "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? order by column_index"
)


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return connection.execute(_COLUMNS, table.split(".")).fetchall()


def load(connection: duckdb.DuckDBPyConnection, code: str, reuse: bool) -> tuple[pd.DataFrame, str]:
    """One row per series, aggregated in DuckDB; listed anomalies are left out of the extremes. With
    ``reuse``, a series that passed before with the same fingerprint and the same ``code`` (the
    code's fingerprint) is read from PASSED, not aggregated again. Returns the rows, and a line
    that says how many series were aggregated."""
    listed = " union all ".join(
        f"select '{indicator}' as indicator_code, '{country}' as country_code, {year} as year, {value!r}::double as value"
        for indicator, country, year, column, value, _ in KNOWN_ANOMALIES
        if column == "value"
    )
    # Only aggregates of this code's columns can be read back: kept by code whose aggregates had other
    # columns (or none kept yet), every series is aggregated again.
    stored = [column for column, _ in _columns(connection, PASSED)]
    reusable = reuse and stored == [*_AGGREGATES.split(", "), "fingerprint", "code_fingerprint"]
    if reusable:
        connection.execute(
            "create or replace temp table gate_reused as "
            f"select distinct p.indicator_code, p.fingerprint from {PASSED} as p join raw.wdi_indicators as i "
            "on p.indicator_code = i.indicator_code and p.fingerprint = i.fingerprint where p.code_fingerprint = $code",
            {"code": code},
        )
    else:
        connection.execute("create or replace temp table gate_reused (indicator_code varchar, fingerprint varchar)")
    connection.execute(
        f"""
        create or replace table {CHECKED} as
        with listed as ({listed}),
        series as (
            select o.indicator_code, o.country_code, count(*) as n_rows, count(distinct o.year) as n_years,
                   count(*) - count(o.value) as n_null_values, count(*) filter (where not isfinite(o.value)) as n_not_finite,
                   min(o.year) as first_year, max(o.year) as last_year,
                   min(o.value) filter (where l.indicator_code is null) as min_value,
                   max(o.value) filter (where l.indicator_code is null) as max_value
            from {TABLE} as o left join listed as l
              on o.indicator_code = l.indicator_code and o.country_code = l.country_code and o.year = l.year and o.value = l.value
            where not exists (select 1 from gate_reused as r where r.indicator_code = o.indicator_code)
            group by all
        )
        select s.*, i.fingerprint, $code::varchar as code_fingerprint
        from series as s left join raw.wdi_indicators as i on s.indicator_code = i.indicator_code
        """,
        {"code": code},
    )
    kept = (
        f"""
        union all
        select {", ".join(f"p.{column}" for column in _AGGREGATES.split(", "))}
        from {PASSED} as p semi join gate_reused as r on p.indicator_code = r.indicator_code and p.fingerprint = r.fingerprint
        where p.code_fingerprint = $code
        """
        if reusable
        else ""
    )
    frame = connection.execute(
        f"""
        with series as (select {_AGGREGATES} from {CHECKED} {kept})
        select s.*, coalesce(c.is_aggregate, true) as is_aggregate, i.source_file, i.vintage
        from series as s
        left join raw.wdi_countries as c on s.country_code = c.country_code
        left join raw.wdi_indicators as i on s.indicator_code = i.indicator_code
        order by s.indicator_code, s.country_code
        """,
        {"code": code} if reusable else None,
    ).df()
    aggregated = connection.execute(f"select count(distinct indicator_code) from {CHECKED}").fetchall()[0][0]
    total = frame.indicator_code.nunique()
    if not reuse:
        rest = "a full refresh aggregates every series"
    elif total > aggregated:
        rest = f"the other {total - aggregated} read as they passed before (same values, same code)"
    else:
        rest = "none passed before with the same values and code"
    return frame, f"{TABLE}: {aggregated} of {total} series aggregated; {rest}"


def keep(connection: duckdb.DuckDBPyConnection, code: str) -> None:
    """After a pass: the series just aggregated join PASSED, replacing their earlier rows; the rows of
    a series since changed or gone, or kept by other code, go."""
    connection.execute("begin transaction")
    if _columns(connection, PASSED) != _columns(connection, CHECKED):
        # None kept yet, or kept by code whose aggregates had other columns.
        connection.execute(f"create or replace table {PASSED} as select * from {CHECKED}")
        connection.execute("commit")
        return
    connection.execute(
        f"""
        delete from {PASSED} as p
        where p.code_fingerprint is distinct from $code
           or exists (select 1 from {CHECKED} as c where c.indicator_code = p.indicator_code)
           or not exists (
               select 1 from raw.wdi_indicators as i where i.indicator_code = p.indicator_code and i.fingerprint = p.fingerprint
           )
        """,
        {"code": code},
    )
    connection.execute(f"insert into {PASSED} select * from {CHECKED}")
    connection.execute("commit")


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
