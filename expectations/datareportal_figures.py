"""raw.datareportal_figures: one row per citation of a DataReportal headline figure."""

from datetime import date

import pandas as pd

from expectations.common import CENTRAL_ASIA, Batch, Gate, exact_schema, why

TABLE = "raw.datareportal_figures"
COLUMNS = {
    "iso3": "VARCHAR",
    "country": "VARCHAR",
    "report_year": "INTEGER",
    "metric": "VARCHAR",
    "value": "DOUBLE",
    "unit": "VARCHAR",
    "qualifier": "VARCHAR",
    "report_url": "VARCHAR",
    "quoted_in": "VARCHAR",
    "quoted_url": "VARCHAR",
    "note": "VARCHAR",
    "source_line": "INTEGER",
    "source_kind": "VARCHAR",
    "source_file": "VARCHAR",
    "source_sha256": "VARCHAR",
    "loaded_at": "TIMESTAMP",
}
FACT = ["report_year", "iso3", "metric", "value", "unit", "qualifier"]


def batches(frame: pd.DataFrame, gate: Gate) -> list[Batch]:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py
    from great_expectations.expectations.row_conditions import Column

    facts = frame[FACT].drop_duplicates()
    return [
        exact_schema(gate, COLUMNS),
        Batch(
            "rows",
            frame,
            [
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column="value",
                        min_value=0,
                        max_value=100,
                        row_condition=Column("metric") == "internet_penetration",
                    ),
                    "internet penetration is a share of the population",
                ),
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column="value",
                        min_value=0,
                        max_value=300,
                        row_condition=Column("unit") == "percent_of_population",
                    ),
                    "mobile connections can exceed the population (131% in Kazakhstan) but not threefold",
                ),
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column="value",
                        min_value=0,
                        strict_min=True,
                        row_condition=Column("unit") != "percent_of_population",
                    ),
                    "counts of people and connections are positive",
                ),
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column="report_year", min_value=2011, max_value=date.today().year + 1
                    ),
                    "DataReportal's Digital reports start in 2011, and next year's, out in January, is the latest there can be",
                ),
                why(
                    gx.expectations.ExpectColumnValuesToBeInSet(column="iso3", value_set=sorted(gate.known_iso3)),
                    "every country must be known, or it joins to nothing in dim_country",
                ),
                why(
                    gx.expectations.ExpectColumnDistinctValuesToContainSet(column="iso3", value_set=CENTRAL_ASIA),
                    "the five Central Asian republics are the warehouse's focus and must be in every source",
                ),
                why(
                    gx.expectations.ExpectColumnValuesToNotBeNull(column="quoted_in"),
                    "a figure without a citation cannot be trusted or cited",
                ),
            ],
        ),
        Batch(
            "facts",
            facts,
            [
                why(
                    gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["report_year", "iso3", "metric"]),
                    "one value per country, report and metric; the same value quoted twice is one fact, two values a conflict",
                ),
            ],
        ),
    ]
