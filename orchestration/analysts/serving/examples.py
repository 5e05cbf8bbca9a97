"""The example queries of the README and the docs, which the console offers one click each: the
pages are where they are written, checked against the raw files (tests/test_readme.py), and read from."""

from __future__ import annotations

import re

from orchestration.settings import PROJECT_ROOT

# Where example queries are written, in the order the console lists them.
PAGES = ("README.md", "docs/querying.md", "docs/data.md", "docs/study-audit.md")


def example_queries() -> dict[str, str]:
    """Each query of the pages' SQL blocks by its first comment line."""
    queries = {}
    for page in PAGES:
        path = PROJECT_ROOT / page
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        for block in re.findall(r"```sql\n(.*?)```", text, flags=re.S):
            for query in (query.strip() for query in block.split(";")):
                if query:
                    queries[query.splitlines()[0].removeprefix("-- ").strip()] = query
    return queries
