"""The README's example queries, which the console offers one click each: the README is where they
are written, checked against the raw files (tests/test_readme.py), and read from."""

from __future__ import annotations

import re

from orchestration.settings import PROJECT_ROOT


def readme_examples() -> dict[str, str]:
    """Each query of the README's SQL blocks by its first comment line."""
    readme = PROJECT_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    queries = [query.strip() for block in blocks for query in block.split(";") if query.strip()]
    return {query.splitlines()[0].removeprefix("-- ").strip(): query for query in queries}
