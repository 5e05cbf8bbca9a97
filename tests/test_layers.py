"""The code location's folders follow the path data takes, and imports only run down it: a folder
imports the foundation (the modules at the top of orchestration/), itself and the folders before
it, never one after it. Private members of the libraries are used in one module only."""

import ast
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_ROOT

CODE = PROJECT_ROOT / "orchestration"
# In the order data travels: in, kept, built, checked, published, read; operations drive them all.
LAYERS = ["sources", "snapshots", "transform", "gates", "publishing", "analysts", "operations"]
FOUNDATION = [
    "settings",
    "durable",
    "failpoints",
    "limits",
    "run_context",
    "warehouse",
    "publications",
    "sql",
    "library_adapters",
]
# The code location's wiring (orchestration/definitions.py), part of operations: the CLI runs its jobs.
WIRING = "definitions"


def imports(path: Path) -> set[str]:
    """Every orchestration module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orchestration"):
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("orchestration")}
    return found


def place(module: str) -> str | None:
    """The layer, foundation module or wiring a dotted name belongs to; None for the package itself."""
    parts = module.split(".")[1:]
    return parts[0] if parts else None


def rank(part: str) -> int:
    if part in FOUNDATION:
        return -1
    return LAYERS.index("operations" if part == WIRING else part)


def modules() -> list[Path]:
    return sorted(CODE.rglob("*.py"))


def test_every_module_has_a_place():
    for path in modules():
        part = path.relative_to(CODE).parts[0].removesuffix(".py")
        assert part == "__init__" or part in FOUNDATION + LAYERS + [WIRING], f"{path}: in no layer"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(CODE)))
def test_imports_run_down_the_data_path(path):
    own = path.relative_to(CODE).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    upward = sorted(
        module for module in imports(path) if place(module) not in (None, own) and rank(place(module)) > rank(own)
    )
    assert not upward, f"{path.relative_to(CODE)} imports a later layer: {upward}"


def test_a_source_package_imports_only_the_foundation_and_the_sources():
    for path in (CODE / "sources").rglob("*.py"):
        outside = {place(module) for module in imports(path)} - {None, "sources"} - set(FOUNDATION)
        assert not outside, f"{path.relative_to(CODE)} imports {outside}"


def test_private_library_members_are_used_in_one_module():
    """dagster._core, a private attribute of dagster, dagster-dbt or dbt: only library_adapters.py."""
    private = ("dagster._", "dagster_dbt.core", "._cli_version", "_initialize_dbt_core_adapter", "_prepare_manifest")
    users = {
        str(path.relative_to(PROJECT_ROOT))
        for root in ("orchestration", "tests", "bench", "expectations")
        for path in (PROJECT_ROOT / root).rglob("*.py")
        if path.name != "test_layers.py"
        and any(name in path.read_text(encoding="utf-8") for name in (*private, "event_log_storage"))
    }
    assert users <= {"orchestration/library_adapters.py", "tests/test_library_adapters.py"}, users


def test_no_test_module_imports_another():
    tests = {path.stem for path in (PROJECT_ROOT / "tests").glob("test_*.py")}
    for path in (PROJECT_ROOT / "tests").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = {
            part
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom | ast.Import)
            for module in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
            for part in module.split(".")
        }
        named |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert not (named & tests - {path.stem}), f"{path.name} imports {named & tests}"
