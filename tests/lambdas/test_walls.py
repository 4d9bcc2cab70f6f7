"""The Lambda modules ship alone, as ``s3sizer_lambdas``: they must import nothing else."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import s3sizer.lambdas

PACKAGE = Path(s3sizer.lambdas.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
ALLOWED = set(sys.stdlib_module_names) | {"boto3", "botocore"}


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(top-level module, relative level, at module level?) for each import in the file."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], 0, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(((node.module or "").split(".")[0], node.level, id(node) in top_level))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_stdlib_boto3_and_each_other(path):
    for module, level, at_top in imports(path):
        if level:
            continue  # a sibling module: it is in the zip too
        if module == "matplotlib":
            assert path.name == "render.py" and not at_top, "matplotlib stays lazy, in render.py"
            continue
        assert module in ALLOWED, f"{path.name} imports {module}, which the zip does not hold"


def test_the_modules_work_under_the_zips_package_name(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "s3sizer_lambdas", ignore=shutil.ignore_patterns("__py*"))
    probe = (
        "import sys; sys.modules.pop('s3sizer', None);"
        "import s3sizer_lambdas.driver, s3sizer_lambdas.size_tracking, s3sizer_lambdas.plotting;"
        "assert not any(m == 's3sizer' or m.startswith('s3sizer.') for m in sys.modules);"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr


def _relative_imports(name: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found
