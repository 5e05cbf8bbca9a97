"""What the Spark build reads and how it is checked: the raw layer's Parquet export, row for row;
and the equality check itself, inside DuckDB over a table and the Parquet written for it, which
names the table and column of any difference, counts the rows that differ, and tolerates only
float noise within 1e-9 relative."""

import duckdb
import pytest

from orchestration.settings import Settings
from orchestration.transform.spark import compare_table, export_raw_layer
from tests.conftest import SNAPSHOTS


def test_the_parquet_export_holds_every_gated_raw_table_row_for_row(home):
    """build/parquet/<schema>/<table>/, what the Spark target reads: the same rows as the build database
    (every raw table holds some; the WDI rebuild list is empty after a whole build)."""
    settings = Settings(home=home, snapshots_dir=SNAPSHOTS)
    counts = export_raw_layer(settings)
    with duckdb.connect(str(settings.build_db), read_only=True) as connection:
        for name in counts:
            schema, table = name.split(".")
            exported = f"read_parquet('{settings.parquet_dir}/{schema}/{table}/*.parquet')"
            found = connection.execute(
                f"select (select count(*) from {name}), (select count(*) from {exported}), "
                f"(select count(*) from (select * from {name} except all select * from {exported}))"
            ).fetchall()[0]
            assert found[0] == found[1] == counts[name] and found[2] == 0, (name, found)
            assert found[0] > 0 or name == "build_state.wdi_rebuild", name
    assert {
        "raw.un_egov_surveys",
        "raw.wdi_observations",
        "raw.wdi_countries",
        "raw.datareportal_figures",
        "raw.country_reference",
    } <= set(counts)


DUCKDB = "select * from (values ('KAZ', 2022, 0.8628), ('UZB', 2022, null), ('KGZ', 2022, 0.7)) as t(iso3, year, value)"


@pytest.fixture
def engine(tmp_path):
    """A DuckDB with the build's table, and a way to write what "Spark" wrote as Parquet."""
    connection = duckdb.connect()
    connection.execute(f"create table built as {DUCKDB}")

    def spark(sql: str) -> list[str]:
        path = tmp_path / f"part-{len(list(tmp_path.iterdir()))}.parquet"
        connection.execute(f"copy ({sql}) to '{path}' (format parquet)")
        return [str(path)]

    yield connection, spark
    connection.close()


def test_the_same_rows_in_another_order_with_float_noise_and_nan_for_null_are_equal(engine):
    connection, spark = engine
    files = spark(
        "select * from (values ('KGZ', 2022::bigint, 0.7 * (1 + 1e-12)), ('KAZ', 2022, 0.8628), "
        "('UZB', 2022, 'NaN'::double)) as t(iso3, year, value)"
    )
    compared = compare_table(connection, "marts.t", "built", files)
    assert compared.differences == [] and compared.differing_rows == 0 and compared.rows == 3


def test_a_value_off_by_more_than_the_tolerance_names_table_column_and_row(engine):
    connection, spark = engine
    files = spark(
        "select iso3, year, case when iso3 = 'KAZ' then value * (1 + 1e-7) else value end as value from built"
    )
    compared = compare_table(connection, "marts.egov_scores", "built", files)
    [difference] = compared.differences
    assert difference.line().startswith(
        "marts.egov_scores.value: 1 of 3 rows differ (first: DuckDB 0.8628, Spark 0.86280008"
    )
    assert compared.differing_rows == 1


def test_null_against_a_value_is_a_difference(engine):
    connection, spark = engine
    files = spark("select iso3, year, coalesce(value, 0.0) as value from built")
    compared = compare_table(connection, "marts.t", "built", files)
    assert [d.column for d in compared.differences] == ["value"] and compared.differing_rows == 1


def test_a_missing_table_differing_columns_and_a_missing_row_are_differences(engine):
    connection, spark = engine
    missing = compare_table(connection, "marts.t", "built", [])
    assert missing.differences[0].line() == "marts.t: missing from the Spark build" and missing.differing_rows == 3
    renamed = compare_table(connection, "marts.t", "built", spark("select iso3, year, value as v from built"))
    assert "columns differ" in renamed.differences[0].detail and renamed.differing_rows == 3
    short = compare_table(connection, "marts.t", "built", spark("select * from built where iso3 <> 'UZB'"))
    assert short.differing_rows == 1 and {d.column for d in short.differences} == {"iso3", "year"}
