"""Deterministic zips of the functions, and the matplotlib layer built from manylinux wheels.

The layer keeps only what runs: the wheels' tests, C/C++ and Cython sources, headers, type stubs,
static libraries, examples, sample data, byte-code caches and the wheels' ``*.data`` install trees
are left out (`is_dead_weight`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from s3sizer.errors import S3SizerError
from s3sizer.stack.model import LAMBDA_PACKAGE, RUNTIME_WHEEL_PLATFORMS, FunctionSpec

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip sent in the request itself
LAYER_REQUIREMENTS = ("matplotlib",)
# Bumped whenever the rules below change, so that a cached layer built by other rules is not reused.
STRIP_RULES_VERSION = 1
# What a wheel ships that nothing imports or opens at run time (about 20 MB of matplotlib's and
# numpy's 130 MB). Whole packages stay, even the ones Agg rendering never imports: a layer must
# not break an `import` that works with the wheels installed.
_DEAD_DIRECTORIES = frozenset({"tests", "__pycache__"})
_DEAD_SUFFIXES = (
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp",  # C/C++ sources and headers
    ".pyx", ".pxd", ".pxi",  # Cython sources and declarations
    ".pyi", ".pyc", ".a",  # type stubs, stale byte code, static libraries
)  # fmt: skip
_DEAD_FILES = frozenset({"py.typed"})
_DEAD_TREES = (
    "numpy/_core/include/",  # headers for building C extensions against numpy
    "numpy/_core/lib/pkgconfig/",
    "numpy/random/_examples/",  # Cython and Numba examples
    "matplotlib/mpl-data/sample_data/",  # data for matplotlib's own examples
)


class LayerBuildError(S3SizerError):
    """pip could not fetch the layer's wheels."""


def code_sha256(data: bytes) -> str:
    """The digest Lambda reports as CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def deterministic_zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip whose bytes depend only on the names and contents given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def function_zip(spec: FunctionSpec) -> bytes:
    """The zip of one function: the package directory with only the modules it needs."""
    source = resources.files("s3sizer.lambdas")
    files = [(f"{LAMBDA_PACKAGE}/__init__.py", source.joinpath("__init__.py").read_bytes())]
    files += [
        (f"{LAMBDA_PACKAGE}/{module}.py", source.joinpath(f"{module}.py").read_bytes())
        for module in spec.modules
    ]
    return deterministic_zip(files)


@dataclass(frozen=True)
class Layer:
    path: Path
    sha256: str
    size: int


def default_cache_dir() -> Path:
    base = os.environ.get("S3SIZER_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "s3sizer" if base else Path.home() / ".cache" / "s3sizer"


def is_dead_weight(name: str) -> bool:
    """Whether a file of a wheel (its path inside the wheel) is never needed at run time.

    Package metadata (``*.dist-info``) always stays: importlib.metadata reads it.
    """
    parts = name.split("/")
    if parts[0].endswith(".dist-info"):
        return False
    if parts[0].endswith(".data"):  # scripts, headers and man pages for other install paths
        return True
    if _DEAD_DIRECTORIES.intersection(parts[:-1]) or parts[-1] in _DEAD_FILES:
        return True
    return name.endswith(_DEAD_SUFFIXES) or name.startswith(_DEAD_TREES)


def pip_platforms(runtime: str, architecture: str) -> list[str]:
    """The wheel tags whose glibc the runtime's OS has: every manylinux_2_N up to its ceiling.

    python3.11 runs on Amazon Linux 2 (glibc 2.26), so it takes manylinux2014 (glibc 2.17);
    python3.12 and 3.13 run on Amazon Linux 2023 (glibc 2.34) and take up to manylinux_2_28.
    """
    try:
        family = RUNTIME_WHEEL_PLATFORMS[runtime]
    except KeyError:
        known = ", ".join(RUNTIME_WHEEL_PLATFORMS)
        raise ValueError(f"no wheel platform for runtime {runtime!r} (known: {known})") from None
    ceiling = 17 if family == "manylinux2014" else int(family.rsplit("_", 1)[1])
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(ceiling, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]  # the older name of manylinux_2_17


def build_layer(
    runtime: str,
    architecture: str,
    *,
    requirements: tuple[str, ...] = LAYER_REQUIREMENTS,
    wheel_dir: Path | None = None,
    cache_dir: Path | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    strip: bool = True,
) -> Layer:
    """The layer zip, from the cache when this recipe was built before.

    ``strip=False`` keeps every file of the wheels (the layer as it was before stripping, which
    the benchmarks compare against).
    """
    target = _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir, strip)
    if not target.exists():
        data = _download_and_zip(runtime, architecture, requirements, wheel_dir, run, strip)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    return _layer_at(target)


def cached_layer(
    runtime: str,
    architecture: str,
    *,
    requirements: tuple[str, ...] = LAYER_REQUIREMENTS,
    wheel_dir: Path | None = None,
    cache_dir: Path | None = None,
    strip: bool = True,
) -> Layer | None:
    """The layer a build would return, if it is cached; None rather than downloading."""
    target = _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir, strip)
    return _layer_at(target) if target.exists() else None


def _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir, strip=True) -> Path:
    """Where the layer of this recipe is cached: named by the hash of what goes into it."""
    recipe = {
        "runtime": runtime,
        "architecture": architecture,
        "requirements": requirements,
        "platforms": pip_platforms(runtime, architecture),
        "strip_rules": STRIP_RULES_VERSION if strip else None,
    }
    if wheel_dir:
        wheels = sorted(Path(wheel_dir).glob("*.whl"))
        recipe["wheels"] = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in wheels]
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
    return (cache_dir or default_cache_dir()) / "layers" / f"{key}.zip"


def _layer_at(path: Path) -> Layer:
    data = path.read_bytes()
    return Layer(path=path, sha256=code_sha256(data), size=len(data))


def _download_and_zip(runtime, architecture, requirements, wheel_dir, run, strip) -> bytes:
    version = runtime.removeprefix("python")
    with tempfile.TemporaryDirectory(prefix="s3sizer-layer-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", tmp]
        command += ["--only-binary=:all:", "--implementation", "cp"]
        command += ["--python-version", version]
        for platform in pip_platforms(runtime, architecture):
            command += ["--platform", platform]
        if wheel_dir:
            command += ["--no-index", "--find-links", str(wheel_dir)]
        result = run([*command, *requirements], capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or [""]
            raise LayerBuildError(
                f"Could not download the layer's wheels: {last[0]}",
                "check the network, pass --wheel-dir with local wheels, or use --layer-arn",
            )
        files = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                files += [
                    (f"python/{name}", archive.read(name))
                    for name in archive.namelist()
                    if not name.endswith("/") and not (strip and is_dead_weight(name))
                ]
        return deterministic_zip(files)
