"""Deterministic zips of the functions, and the matplotlib layer built from manylinux wheels."""

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
from s3sizer.stack.model import LAMBDA_PACKAGE, FunctionSpec

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip sent in the request itself
LAYER_REQUIREMENTS = ("matplotlib",)


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


def pip_platforms(architecture: str) -> list[str]:
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    # Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): these tags all load there.
    return [f"manylinux_2_28_{machine}", f"manylinux2014_{machine}", f"manylinux_2_17_{machine}"]


def build_layer(
    runtime: str,
    architecture: str,
    *,
    requirements: tuple[str, ...] = LAYER_REQUIREMENTS,
    wheel_dir: Path | None = None,
    cache_dir: Path | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> Layer:
    """The layer zip, from the cache when this runtime, architecture and list were built before."""
    target = _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir)
    if not target.exists():
        data = _download_and_zip(runtime, architecture, requirements, wheel_dir, run)
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
) -> Layer | None:
    """The layer a build would return, if it is cached; None rather than downloading."""
    target = _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir)
    return _layer_at(target) if target.exists() else None


def _cache_path(runtime, architecture, requirements, wheel_dir, cache_dir) -> Path:
    """Where the layer of this recipe is cached: named by the hash of what goes into it."""
    recipe = {"runtime": runtime, "architecture": architecture, "requirements": requirements}
    if wheel_dir:
        wheels = sorted(Path(wheel_dir).glob("*.whl"))
        recipe["wheels"] = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in wheels]
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
    return (cache_dir or default_cache_dir()) / "layers" / f"{key}.zip"


def _layer_at(path: Path) -> Layer:
    data = path.read_bytes()
    return Layer(path=path, sha256=code_sha256(data), size=len(data))


def _download_and_zip(runtime, architecture, requirements, wheel_dir, run) -> bytes:
    version = runtime.removeprefix("python")
    with tempfile.TemporaryDirectory(prefix="s3sizer-layer-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", tmp]
        command += ["--only-binary=:all:", "--implementation", "cp"]
        command += ["--python-version", version]
        for platform in pip_platforms(architecture):
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
                    if not name.endswith("/")
                ]
        return deterministic_zip(files)
