"""The dbt project on Apache Spark gives the same tables as on DuckDB (`make test-spark`).

The Spark build is also the portability test: a model using a DuckDB-only function without a
dispatch fails it, naming the model."""

import pytest

from orchestration import spark
from orchestration.settings import Settings
from tests.conftest import SNAPSHOTS, materialize


@pytest.mark.spark
def test_every_published_table_is_the_same_on_spark(tmp_path):
    settings = Settings(home=tmp_path / "warehouse", snapshots_dir=SNAPSHOTS)
    assert materialize(settings).success
    tables = spark.build(settings)
    assert sorted(p.name for p in tables.iterdir()) == [
        "build_state.db",  # the WDI rebuild list: a dbt source, registered from its Parquet like the raw tables
        "intermediate.db",
        "marts.db",
        "paper.db",
        "raw.db",
        "staging.db",
    ]
    compared = spark.compare(settings)
    assert not compared.differences, "\n".join(d.line() for d in compared.differences)
    assert compared.differing_rows == 0 and compared.tables >= 20 and compared.rows > 50_000
