"""The emulator's wall: it imports nothing from s3sizer but itself, s3sizer.errors and
s3sizer.collector (the process's pace of garbage collection), and its patches import one
another only one way (no cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EMULATOR = Path(__file__).resolve().parents[2] / "s3sizer" / "emulator"
ALLOWED = ("s3sizer.emulator", "s3sizer.errors", "s3sizer.collector")


def _imports(path: Path) -> list[str]:
    """Absolute names of the s3sizer modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(EMULATOR.parents[1]).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            if node.module is None or module == "s3sizer":  # modules imported from a package
                names += [f"{module}.{alias.name}" for alias in node.names]
            else:
                names.append(module)
    return [name for name in names if name.startswith("s3sizer")]


@pytest.mark.parametrize("path", sorted(EMULATOR.rglob("*.py")), ids=lambda p: p.name)
def test_the_emulator_imports_only_itself_errors_and_the_collector_s_pace(path):
    outside = [name for name in _imports(path) if not name.startswith(ALLOWED)]
    assert outside == [], f"{path.name} imports {outside}"


def test_the_patch_modules_have_no_import_cycle():
    patches = EMULATOR / "patches"
    graph = {
        path.stem: {
            name.rsplit(".", 1)[-1]
            for name in _imports(path)
            if name.startswith("s3sizer.emulator.patches.")
        }
        for path in patches.glob("*.py")
        if path.stem != "__init__"
    }

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n}))
            for n in graph.get(start, ())
        )

    assert [module for module in graph if reaches(module, module)] == []
