"""The dbt project on Apache Spark gives the same tables as on DuckDB (`make test-spark`).

The Spark build is also the portability test: a model using a DuckDB-only function without a
dispatch fails it, naming the model."""

import hashlib
import re
from pathlib import Path

import pytest

from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.transform import spark
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


@pytest.mark.spark
def test_the_copied_seed_loader_is_of_the_installed_dbt_spark():
    """dbt_project/macros/spark__load_csv_rows.sql is a changed copy of dbt-spark's macro: the
    installed dbt-spark's must still be the one it was copied from (its sha256 in the copy's header)."""
    import dbt.include.spark

    upstream = Path(dbt.include.spark.__file__).parent / "macros" / "materializations" / "seed.sql"
    macro = re.search(r"{% macro spark__load_csv_rows.*?{% endmacro %}", upstream.read_text(encoding="utf-8"), re.S)
    copy = (DBT_PROJECT_DIR / "macros" / "spark__load_csv_rows.sql").read_text(encoding="utf-8")
    recorded = re.search(r"Upstream macro sha256: ([0-9a-f]{64})", copy).group(1)
    assert hashlib.sha256((macro.group(0) + "\n").encode()).hexdigest() == recorded, upstream
