"""The matplotlib layer as it was and lean: sizes, and the cold import time from each.

    python benchmarks/layer_size.py     # prints section 8 of RESULTS.md (downloads the wheels)

The layers come from the same wheels, downloaded once for python3.12 on x86_64 (the default
runtime and architecture), then zipped by `s3sizer.stack.package.build_layer` with and without
its strip rules, and once more with byte code. Each zip is extracted, and a fresh
`python3.12 -I -B` imports matplotlib from it the way the plotting function does, with a fresh
matplotlib config directory each time: as on a cold Lambda, whose /opt is read-only, no byte
code is written between runs and matplotlib rebuilds its font list.
"""

from __future__ import annotations

import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import Section, Table, median, ms, ratio
from s3sizer.stack.package import (
    LAYER_REQUIREMENTS,
    STRIP_RULES_VERSION,
    Layer,
    build_layer,
    pip_platforms,
)

RUNTIME, ARCHITECTURE = "python3.12", "x86_64"
IMPORT = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); started = time.perf_counter(); "
    "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot; "
    "print(time.perf_counter() - started)"
)
RENDER = (
    "import io, sys; sys.path.insert(0, sys.argv[1]); import matplotlib; matplotlib.use('Agg'); "
    "import matplotlib.pyplot as plt; fig, ax = plt.subplots(); ax.plot([0, 1], [1, 0]); "
    "out = io.BytesIO(); fig.savefig(out, format='png'); "
    "assert out.getvalue().startswith(b'\\x89PNG'); print('ok')"
)


def python_for(runtime: str) -> str | None:
    """An interpreter of the runtime's Python version, which the layer's wheels were built for."""
    version = runtime.removeprefix("python")
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python")))
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "pass"], capture_output=True)
        if done.returncode == 0:
            return candidate
    return None


def download_wheels(into: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(into)]
    command += ["--only-binary=:all:", "--implementation", "cp"]
    command += ["--python-version", RUNTIME.removeprefix("python")]
    for platform in pip_platforms(RUNTIME, ARCHITECTURE):
        command += ["--platform", platform]
    subprocess.run([*command, *LAYER_REQUIREMENTS], check=True, capture_output=True, text=True)


def unzipped(layer: Layer) -> tuple[int, int]:
    """Files, and their total size once extracted."""
    with zipfile.ZipFile(layer.path) as archive:
        infos = archive.infolist()
    return len(infos), sum(info.file_size for info in infos)


def import_seconds(python: str, site: Path) -> tuple[float, float]:
    """The import's wall time, and the CPU time of the whole child process.

    CPU time depends far less than wall time on what else the machine is doing."""
    with tempfile.TemporaryDirectory(prefix="mplconfig-") as config:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": config, "MPLCONFIGDIR": config}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [python, "-I", "-B", "-c", IMPORT, str(site)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(done.stdout.strip().splitlines()[-1]), cpu


def renders(python: str, site: Path) -> bool:
    with tempfile.TemporaryDirectory(prefix="mplconfig-") as config:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": config, "MPLCONFIGDIR": config}
        done = subprocess.run(
            [python, "-I", "-B", "-c", RENDER, str(site)], capture_output=True, text=True, env=env
        )
    return done.returncode == 0 and done.stdout.strip() == "ok"


def mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def section(repeats: int = 9) -> Section:
    title = "8. The matplotlib layer, as it was and lean"
    python = python_for(RUNTIME)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="s3sizer-layer-bench-") as tmp:
        work = Path(tmp)
        wheels = work / "wheels"
        wheels.mkdir()
        try:
            download_wheels(wheels)
        except subprocess.CalledProcessError as err:
            reason = (err.stderr or "").strip().splitlines()[-1:] or ["pip failed"]
            return Section(
                title, f"Not measured: the wheels could not be downloaded ({reason[0]})."
            )
        layers = {
            "as it was (every file of the wheels)": build_layer(
                RUNTIME, ARCHITECTURE, wheel_dir=wheels, cache_dir=work / "cache", strip=False
            ),
            f"lean (strip rules v{STRIP_RULES_VERSION})": build_layer(
                RUNTIME, ARCHITECTURE, wheel_dir=wheels, cache_dir=work / "cache"
            ),
        }
        if python:
            layers["lean, with byte code compiled by the runtime's Python"] = build_layer(
                RUNTIME, ARCHITECTURE, wheel_dir=wheels, cache_dir=work / "cache",
                compile_with=python,
            )  # fmt: skip
        sites, figures = {}, {}
        for name, layer in layers.items():
            site = work / f"site-{len(sites)}"
            with zipfile.ZipFile(layer.path) as archive:
                archive.extractall(site)
            sites[name] = site / "python"
        wall: dict[str, list[float]] = {name: [] for name in layers}
        cpu: dict[str, list[float]] = {name: [] for name in layers}
        if python:
            # Turn about, so that whatever else the machine does weighs on both layers alike;
            # the first round warms the page cache and is not counted.
            for round_ in range(repeats + 1):
                for name in layers:
                    seconds, cpu_seconds = import_seconds(python, sites[name])
                    if round_:
                        wall[name].append(seconds)
                        cpu[name].append(cpu_seconds)
        for name, layer in layers.items():
            ok = renders(python, sites[name]) if python else None
            figures[name] = (
                *unzipped(layer),
                layer.size,
                median(wall[name]),
                median(cpu[name]),
                ok,
            )
    load = (load_before, os.getloadavg()[0])
    return _section(title, figures, python, repeats, load)


def _section(title, figures: dict, python: str | None, repeats: int, load) -> Section:
    (_, (files0, size0, zipped0, import0, cpu0, _)), *_ = figures.items()
    table = Table(["layer", "files", "unzipped", "zipped", "cold import: median wall time",
                   "against as it was", "CPU time of the process: median", "against as it was",
                   "renders a PNG"])  # fmt: skip
    for name, (files, size, zipped, seconds, cpu, ok) in figures.items():
        table.add(name, f"{files:,}", mb(size), mb(zipped), ms(seconds), ratio(seconds, import0),
                  ms(cpu), ratio(cpu, cpu0), {True: "yes", False: "NO", None: "n/a"}[ok])  # fmt: skip
    lean, *with_byte_code = list(figures.values())[1:]
    compiled = ""
    for _files, size, zipped, seconds, cpu, _ok in with_byte_code:
        compiled = (f" With byte code ({mb(size)} unzipped, {mb(zipped)} zipped) it takes "
                    f"{ms(seconds)} ({ms(cpu)} of CPU).")  # fmt: skip
    wheels = ", ".join(sorted(LAYER_REQUIREMENTS))
    return Section(
        title,
        f"The layer of {wheels} and its dependencies for {RUNTIME} on {ARCHITECTURE} (wheel tags "
        f"{', '.join(pip_platforms(RUNTIME, ARCHITECTURE)[:2])} and older), each built from "
        "the same downloaded wheels by `s3sizer.stack.package.build_layer` (`strip=False` for the "
        "layer as it was). The lean layer leaves out what `is_dead_weight` names: test suites, "
        "C/C++ and Cython sources, headers, `.pyi` stubs, static libraries, numpy's examples, "
        "matplotlib's sample data, byte-code caches and the wheels' `*.data` trees. The third "
        "layer is the lean one with byte code for every module (`compile_with`: unchecked-hash "
        "`.pyc` files from a Python of the runtime's version), which Lambda's read-only /opt "
        "otherwise never gets: every cold start compiles from source. Cold import: "
        "`import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot` in a fresh "
        f"`{Path(python).name if python else 'python3.12'} -I -B` with only the extracted layer "
        "added to `sys.path` and an empty matplotlib config directory, as on a cold Lambda (no "
        f"byte code cached, font list rebuilt); median of {repeats} runs, the two layers taking "
        'turns, after one warm-up round. "CPU time" is the user and system time of the whole '
        '`python` process. "Renders a PNG" draws a line and saves it with Agg from that layer. '
        "Wall times vary with the machine's load (1-minute load average "
        f"{load[0]:.2f} before these runs, {load[1]:.2f} after, on {os.cpu_count()} cores), CPU "
        "times much less; the strip rules leave every imported module in place, so they can only "
        "change the time it takes to find them.",
        tables=[table],
        highlights=[
            f"The lean layer is {mb(lean[1])} unzipped ({mb(lean[2])} zipped) against "
            f"{mb(size0)} ({mb(zipped0)}), {files0 - lean[0]:,} fewer files; a cold import of "
            f"matplotlib from it takes {ms(lean[3])} against {ms(import0)} ({ms(lean[4])} of CPU "
            f"against {ms(cpu0)}).{compiled}"
        ],
    )


def main() -> int:
    print(section().markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
