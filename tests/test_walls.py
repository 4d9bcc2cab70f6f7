"""The three walls that keep s3sizer easy to change, read from the source with `ast`.

- `s3sizer/lambdas` ships alone in the functions' zip: it imports nothing else from s3sizer.
- `s3sizer/emulator` is a local AWS, not an s3sizer feature: it imports only itself,
  `s3sizer.errors` and `s3sizer.collector` (the process's pace of garbage collection, which an
  emulator and a baseline in one process share).
- The CLI (`s3sizer/cli/`) parses, calls the library and renders: it makes no AWS call, so it
  imports neither boto3 nor botocore and calls no `client(...)` or `resource(...)`.

Every import counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import s3sizer

ROOT = Path(s3sizer.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute dotted name) for each import; `from a import b` counts as `a.b`."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imports_of(path: Path) -> list[tuple[int, str]]:
    return imported_names(path.read_text(), module_name(path), path.name == "__init__.py")


def test_the_walls_enclose_some_code():
    assert sources("lambdas") and sources("emulator") and sources("cli")


@pytest.mark.parametrize("path", sources("lambdas"), ids=lambda p: p.name)
def test_lambdas_import_nothing_else_from_s3sizer(path):
    crossing = [
        (line, name)
        for line, name in imports_of(path)
        if within(name, "s3sizer") and not within(name, "s3sizer.lambdas")
    ]

    assert crossing == [], f"{path.name} reaches out of s3sizer/lambdas"


@pytest.mark.parametrize("path", sources("emulator"), ids=lambda p: p.name)
def test_the_emulator_imports_only_itself_errors_and_the_collector_s_pace(path):
    crossing = [
        (line, name)
        for line, name in imports_of(path)
        if within(name, "s3sizer")
        and not within(name, "s3sizer.emulator", "s3sizer.errors", "s3sizer.collector")
    ]

    assert crossing == [], (
        f"{path.name} knows of s3sizer beyond the emulator, its errors and the GC pace"
    )


def aws_calls(source: str) -> list[tuple[int, str]]:
    """Calls that build an AWS client or resource: `x.client(...)`, `resource(...)`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in {"client", "resource"}:
                found.append((node.lineno, name))
    return found


@pytest.mark.parametrize("path", sources("cli"), ids=lambda p: p.name)
def test_the_cli_makes_no_aws_call(path):
    aws_imports = [
        (line, name)
        for line, name in imports_of(path)
        if within(name, "boto3", "botocore", "aiobotocore")
    ]

    assert aws_imports == [], f"{path.name} imports an AWS SDK"
    assert aws_calls(path.read_text()) == [], f"{path.name} builds an AWS client"


@pytest.mark.parametrize(
    "source, module, crossing",
    [
        ("from s3sizer.stack import model", "s3sizer.lambdas.driver", "s3sizer.stack.model"),
        ("from .. import aws", "s3sizer.lambdas.driver", "s3sizer.aws"),
        ("import s3sizer.reports", "s3sizer.emulator.server", "s3sizer.reports"),
        ("def f():\n    from ..stack.model import PLOT_KEY", "s3sizer.emulator.x", None),
    ],
)
def test_the_checker_resolves_relative_and_nested_imports(source, module, crossing):
    names = [name for _, name in imported_names(source, module)]

    if crossing:
        assert crossing in names
    else:
        assert names == ["s3sizer.stack.model.PLOT_KEY"]


def test_the_checker_sees_client_calls_anywhere():
    source = "def f(aws):\n    return aws.session.client('s3'), boto3.resource('s3')\n"

    assert [name for _, name in aws_calls(source)] == ["client", "resource"]
