"""The Spark equality check itself, on frames: it names the table and column of any difference,
and tolerates only float noise within 1e-9 relative."""

import pandas as pd

from orchestration.spark import compare_frames

DUCKDB = pd.DataFrame({"iso3": ["KAZ", "UZB", "KGZ"], "year": [2022, 2022, 2022], "value": [0.8628, None, 0.7]})


def test_the_same_rows_in_another_order_with_float_noise_are_equal():
    spark = pd.DataFrame({"iso3": ["KGZ", "KAZ", "UZB"], "year": [2022, 2022, 2022], "value": [0.7 * (1 + 1e-12), 0.8628, float("nan")]})
    assert compare_frames("marts.t", DUCKDB, spark) == []


def test_a_value_off_by_more_than_the_tolerance_names_table_and_column():
    spark = DUCKDB.assign(value=[0.8628 * (1 + 1e-7), None, 0.7])
    [difference] = compare_frames("marts.egov_scores", DUCKDB, spark)
    assert difference.line().startswith("marts.egov_scores.value: 1 of 3 values differ")


def test_null_against_a_value_is_a_difference():
    spark = DUCKDB.assign(value=[0.8628, 0.0, 0.7])
    assert [d.column for d in compare_frames("marts.t", DUCKDB, spark)] == ["value"]


def test_missing_tables_columns_and_rows_are_differences():
    assert compare_frames("marts.t", DUCKDB, None)[0].line() == "marts.t: missing from the Spark build"
    assert "columns differ" in compare_frames("marts.t", DUCKDB, DUCKDB.rename(columns={"value": "v"}))[0].detail
    assert "row count differs: DuckDB 3, Spark 2" in compare_frames("marts.t", DUCKDB, DUCKDB.head(2))[0].detail
