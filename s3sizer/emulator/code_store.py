"""Function and layer zips, each extracted once per CodeSha256 into a directory the emulator owns.

A layer is used only when it can run on this machine: pure Python, or compiled extensions built
for this interpreter and this CPU. Otherwise it is skipped and the host's site-packages serve
(for example a matplotlib layer built for Lambda's Linux on another Python version).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import io
import os
import re
import shutil
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

# An extension module's tag, e.g. ".cpython-312-aarch64-linux-gnu.so", ".abi3.so", ".cp311-win_amd64.pyd".
_TAGGED_EXTENSION = re.compile(r"\.(cpython-[^.]+|cp\d+[^.]*|pypy[^.]+|abi3)\.(so|pyd)$")
_NATIVE_LIBRARY = re.compile(r"\.(so|pyd)(\.[\d.]+)?$")


class CodeStore:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="s3sizer-emulator-"))
        self._lock = threading.Lock()
        self._extracting: dict[str, threading.Lock] = {}
        self._verdicts: dict[str, str | None] = {}

    def function_dir(self, zip_bytes: bytes, sha256: str | None = None) -> Path:
        return self._extract("code", zip_bytes, sha256)

    def layer_dir(self, zip_bytes: bytes, sha256: str | None = None) -> tuple[Path, str | None]:
        """The extracted layer and, when it cannot run here, the reason why."""
        directory = self._extract("layer", zip_bytes, sha256)
        with self._lock:
            if directory.name not in self._verdicts:
                self._verdicts[directory.name] = why_not_runnable(directory)
            return directory, self._verdicts[directory.name]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _extract(self, kind: str, zip_bytes: bytes, sha256: str | None) -> Path:
        # Named by the bytes' SHA-256, the digest behind CodeSha256: same code, same directory.
        # moto keeps it as a hex digest, which spares hashing a large zip at every invocation.
        if not (sha256 and re.fullmatch(r"[0-9a-f]{64}", sha256)):
            sha256 = hashlib.sha256(zip_bytes).hexdigest()
        target = self.root / kind / sha256
        with self._lock:
            lock = self._extracting.setdefault(str(target), threading.Lock())
        with lock:
            if not target.is_dir():
                staging = Path(tempfile.mkdtemp(dir=self.root))
                with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
                    archive.extractall(staging)  # extractall drops absolute and '..' parts
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging, target)
        return target


def layer_search_paths(layer_dir: Path) -> list[Path]:
    """Where Lambda's Python runtime looks inside /opt for a layer's packages."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [layer_dir / "python" / "lib" / version / "site-packages", layer_dir / "python"]
    return [path for path in candidates if path.is_dir()]


def why_not_runnable(directory: Path) -> str | None:
    """None when every compiled file in the directory can load in this interpreter."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    host_signature = _elf_signature(Path(sys.executable).resolve())
    for path in sorted(directory.rglob("*")):
        if not _NATIVE_LIBRARY.search(path.name) or not path.is_file():
            continue
        relative = path.relative_to(directory)
        tag = _TAGGED_EXTENSION.search(path.name)
        if tag and path.name[tag.start() :] not in suffixes:
            return f"{relative} is built for another Python (this one loads {', '.join(suffixes)})"
        if path.name.endswith(".pyd") and ".pyd" not in suffixes:
            return f"{relative} is a Windows extension"
        signature = _elf_signature(path)
        if signature is not None and signature != host_signature:
            return f"{relative} is built for another operating system or CPU"
    return None


def _elf_signature(path: Path) -> bytes | None:
    """ELF class, byte order and machine, which decide whether a shared object loads here.

    None for a file that is not ELF; on a host whose interpreter is not ELF (macOS), every ELF
    file then differs from the host's None.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if header[:4] != b"\x7fELF":
        return None
    return header[4:6] + header[18:20]
