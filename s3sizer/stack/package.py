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
import shutil
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

    An Amazon Linux 2 runtime (glibc 2.26) would take manylinux2014 (glibc 2.17) only; the
    supported runtimes run on Amazon Linux 2023 (glibc 2.34) and take up to manylinux_2_28.
    """
    try:
        family = RUNTIME_WHEEL_PLATFORMS[runtime]
    except KeyError:
        known = ", ".join(RUNTIME_WHEEL_PLATFORMS)
        raise ValueError(f"no wheel platform for runtime {runtime!r} (known: {known})") from None
    ceiling = int(family.rsplit("_", 1)[1])
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
    compile_with: str | None = None,
) -> Layer:
    """The layer zip, from the cache when this recipe was built before.

    ``strip=False`` keeps every file of the wheels (the layer as it was before stripping, which
    the benchmarks compare against). ``compile_with``, an interpreter of the runtime's Python
    version (see `runtime_python`), adds byte code for every module: Lambda's /opt is read-only,
    so without it each cold start compiles matplotlib and numpy from source again.
    """
    recipe = _Recipe(runtime, architecture, requirements, wheel_dir, strip, compile_with)
    target = recipe.cache_path(cache_dir)
    if not target.exists():
        data = recipe.download_and_zip(run)
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
    compile_with: str | None = None,
) -> Layer | None:
    """The layer a build would return, if it is cached; None rather than downloading."""
    recipe = _Recipe(runtime, architecture, requirements, wheel_dir, strip, compile_with)
    target = recipe.cache_path(cache_dir)
    return _layer_at(target) if target.exists() else None


def runtime_python(runtime: str) -> str | None:
    """An interpreter of the runtime's Python version on this machine, or None."""
    version = runtime.removeprefix("python")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found and _python_version(found).startswith(f"{version}."):
        return found
    return None


def _python_version(python: str) -> str:
    """The full version of an interpreter ("3.12.1"), or "" if it does not run."""
    try:
        done = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _layer_at(path: Path) -> Layer:
    data = path.read_bytes()
    return Layer(path=path, sha256=code_sha256(data), size=len(data))


@dataclass(frozen=True)
class _Recipe:
    """Everything a layer's bytes depend on."""

    runtime: str
    architecture: str
    requirements: tuple[str, ...]
    wheel_dir: Path | None
    strip: bool
    compile_with: str | None

    def cache_path(self, cache_dir: Path | None) -> Path:
        """Where the layer of this recipe is cached: named by the hash of what goes into it."""
        recipe = {
            "runtime": self.runtime,
            "architecture": self.architecture,
            "requirements": self.requirements,
            "platforms": pip_platforms(self.runtime, self.architecture),
            "strip_rules": STRIP_RULES_VERSION if self.strip else None,
            "byte_code": self._compiler_version() if self.compile_with else None,
        }
        if self.wheel_dir:
            wheels = sorted(Path(self.wheel_dir).glob("*.whl"))
            recipe["wheels"] = [
                (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in wheels
            ]
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
        return (cache_dir or default_cache_dir()) / "layers" / f"{key}.zip"

    def _compiler_version(self) -> str:
        version = _python_version(self.compile_with)
        wanted = self.runtime.removeprefix("python")
        if not version.startswith(f"{wanted}."):
            raise LayerBuildError(
                f"Cannot compile the layer for {self.runtime} with {self.compile_with} "
                f"(Python {version or 'not found'}): byte code is specific to Python {wanted}",
                f"pass an interpreter of Python {wanted}, or build without byte code",
            )
        return version

    def download_and_zip(self, run) -> bytes:
        with tempfile.TemporaryDirectory(prefix="s3sizer-layer-") as tmp:
            wheels = Path(tmp) / "wheels"
            wheels.mkdir()
            self._download(wheels, run)
            files = []
            for wheel in sorted(wheels.glob("*.whl")):
                with zipfile.ZipFile(wheel) as archive:
                    files += [
                        (f"python/{name}", archive.read(name))
                        for name in archive.namelist()
                        if not name.endswith("/") and not (self.strip and is_dead_weight(name))
                    ]
            if self.compile_with:
                files += self._byte_code(files, Path(tmp) / "site")
            return deterministic_zip(files)

    def _download(self, dest: Path, run) -> None:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest)]
        command += ["--only-binary=:all:", "--implementation", "cp"]
        command += ["--python-version", self.runtime.removeprefix("python")]
        for platform in pip_platforms(self.runtime, self.architecture):
            command += ["--platform", platform]
        if self.wheel_dir:
            command += ["--no-index", "--find-links", str(self.wheel_dir)]
        result = run([*command, *self.requirements], capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or [""]
            raise LayerBuildError(
                f"Could not download the layer's wheels: {last[0]}",
                "check the network, pass --wheel-dir with local wheels, or use --layer-arn",
            )

    def _byte_code(self, files: list[tuple[str, bytes]], site: Path) -> list[tuple[str, bytes]]:
        """The .pyc of every module, as unchecked-hash byte code (PEP 552): Python loads it
        without comparing the source's timestamp, which a zip does not keep anyway."""
        for name, data in files:
            path = site / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        command = [self.compile_with, "-m", "compileall", "-q", "-j", "0"]
        command += ["--invalidation-mode", "unchecked-hash", str(site / "python")]
        # A module this Python cannot compile (a wheel may ship one for another version) cannot
        # be imported either: it stays source only, and the others still get their byte code.
        subprocess.run(command, capture_output=True, text=True)
        return [
            (path.relative_to(site).as_posix(), path.read_bytes())
            for path in sorted(site.rglob("*.pyc"))
        ]
