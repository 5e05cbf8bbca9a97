"""raw.un_egov_surveys: one row per (survey year, UN member state) of the E-Government Survey."""

import pandas as pd

from expectations.common import CENTRAL_ASIA, Batch, Gate, exact_schema, known_anomaly, why

TABLE = "raw.un_egov_surveys"
INDICES = ["egdi", "epi", "osi", "hci", "tii"]
COLUMNS = {
    "survey_year": "INTEGER",
    "country_name": "VARCHAR",
    "iso3": "VARCHAR",
    "egdi_rank": "INTEGER",
    "egdi": "DOUBLE",
    "epi": "DOUBLE",
    "osi": "DOUBLE",
    "hci": "DOUBLE",
    "tii": "DOUBLE",
    "surveyed": "BOOLEAN",
    "source_line": "INTEGER",
    "source_file": "VARCHAR",
    "source_sha256": "VARCHAR",
    "loaded_at": "TIMESTAMP",
}
# The UN computed EGDI differently in these surveys, so it is not the mean of its components.
EGDI_NOT_A_MEAN = (2008, 2010)
# Values the UN published outside an index's 0-1 range: kept as published (never corrected), listed
# here by exact value so the range check passes them and nothing else.
# (survey_year, iso3, column, value, why)
KNOWN_ANOMALIES = [
    (2003, "FSM", "hci", 1.422, "UN E-Government Survey 2003 publishes a Human Capital Index above 1 for Micronesia"),
    (2003, "TUV", "hci", 1.03, "UN E-Government Survey 2003 publishes a Human Capital Index above 1 for Tuvalu"),
]


def batches(frame: pd.DataFrame, gate: Gate) -> list[Batch]:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py
    from great_expectations.expectations.row_conditions import Column

    frame = frame.assign(
        **{
            f"listed_{index}": known_anomaly(frame, KNOWN_ANOMALIES, ["survey_year", "iso3"], index)
            for index in INDICES
        }
    )
    rows = Batch(
        "rows",
        frame,
        [
            why(
                gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["survey_year", "iso3"]),
                "one row per state and survey: a duplicate would count a state twice in every average",
            ),
            *[
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column=index, min_value=0, max_value=1, row_condition=Column(f"listed_{index}") == False
                    ),
                    f"{index} is an index on a 0-1 scale (KNOWN_ANOMALIES lists the UN's own exceptions)",
                )
                for index in INDICES
            ],
            why(
                gx.expectations.ExpectColumnValuesToBeBetween(column="egdi_rank", min_value=1, max_value=193),
                "ranks run from 1 to the number of UN member states",
            ),
            why(
                gx.expectations.ExpectColumnValuesToNotBeNull(column="egdi", row_condition=Column("surveyed") == True),
                "a surveyed state has an EGDI; only the placeholders of non-members have none",
            ),
            why(
                gx.expectations.ExpectColumnValuesToBeInSet(column="iso3", value_set=sorted(gate.known_iso3)),
                "every state must be a known country, or it joins to nothing in dim_country",
            ),
            why(
                gx.expectations.ExpectColumnDistinctValuesToContainSet(column="iso3", value_set=CENTRAL_ASIA),
                "the five Central Asian republics are the warehouse's focus and must be in every source",
            ),
        ],
    )
    per_year = frame.groupby("survey_year").agg(n_states=("iso3", "nunique")).reset_index()
    mean_rule = frame[frame.surveyed & ~frame.survey_year.isin(EGDI_NOT_A_MEAN) & (frame.egdi != 0)].assign(
        gap=lambda f: (f.egdi - (f.osi + f.hci + f.tii) / 3).abs()
    )
    previous = gate.published.get("survey_years", pd.DataFrame({"survey_year": pd.Series(dtype="int64")}))
    return [
        exact_schema(gate, COLUMNS),
        rows,
        Batch(
            "states_per_survey_year",
            per_year,
            [
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(column="n_states", min_value=193, max_value=193),
                    "every survey lists all 193 UN member states (non-members as placeholders); fewer means a lost row",
                ),
            ],
        ),
        Batch(
            "egdi_is_the_mean",
            mean_rule,
            [
                why(
                    gx.expectations.ExpectColumnValuesToBeBetween(column="gap", min_value=0, max_value=1e-4),
                    "EGDI is the mean of OSI, HCI and TII (5 decimals) except in 2008 and 2010, and except the UN's "
                    "EGDI of 0 for states with no online presence (2003-2012)",
                ),
            ],
        ),
        Batch(
            "published_survey_years",
            previous,
            [
                why(
                    gx.expectations.ExpectColumnValuesToBeInSet(
                        column="survey_year", value_set=sorted(frame.survey_year.unique().tolist())
                    ),
                    "a new snapshot set may add surveys but never drop one the published warehouse has",
                ),
            ],
        ),
    ]
