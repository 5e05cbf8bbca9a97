"""raw.wdi_countries: the World Bank's country and aggregate list with classifications."""

import pandas as pd

from expectations.common import CENTRAL_ASIA, Batch, Gate, exact_schema, why

TABLE = "raw.wdi_countries"
COLUMNS = {
    "country_code": "VARCHAR",
    "country_name": "VARCHAR",
    "region": "VARCHAR",
    "income_group": "VARCHAR",
    "special_notes": "VARCHAR",
    "source_line": "INTEGER",
    "is_aggregate": "BOOLEAN",
    "source_file": "VARCHAR",
    "source_sha256": "VARCHAR",
}


def batches(frame: pd.DataFrame, gate: Gate) -> list[Batch]:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py
    from great_expectations.expectations.row_conditions import Column

    economies = frame[~frame.is_aggregate]
    return [
        exact_schema(gate, COLUMNS),
        Batch(
            "rows",
            frame,
            [
                why(gx.expectations.ExpectColumnValuesToBeUnique(column="country_code"), "one classification per code"),
                why(
                    gx.expectations.ExpectColumnValuesToNotBeNull(
                        column="region", row_condition=Column("is_aggregate") == False
                    ),
                    "an economy has a region; a blank region is what marks an aggregate",
                ),
            ],
        ),
        Batch(
            "economies",
            economies,
            [
                why(
                    gx.expectations.ExpectColumnDistinctValuesToContainSet(
                        column="country_code", value_set=CENTRAL_ASIA
                    ),
                    "the five Central Asian republics must be classified economies",
                ),
                why(
                    gx.expectations.ExpectTableRowCountToBeBetween(min_value=190, max_value=250),
                    "the World Bank lists about 217 economies; far fewer or more means a wrong file",
                ),
            ],
        ),
    ]
