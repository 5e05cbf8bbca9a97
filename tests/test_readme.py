"""The README's example SQL runs against a freshly built warehouse and returns rows."""

import re

import duckdb
import pytest

from orchestration.settings import PROJECT_ROOT


def readme_queries() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    return [q.strip() for block in blocks for q in block.split(";") if q.strip()]


def test_the_readme_has_at_least_five_examples():
    assert len(readme_queries()) >= 5


@pytest.mark.parametrize("query", readme_queries(), ids=lambda q: q.splitlines()[0][:60])
def test_readme_query_returns_rows(built, query):
    with duckdb.connect(str(built.published_db), read_only=True) as connection:
        assert connection.execute(query).fetchall()
