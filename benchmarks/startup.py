"""Section 4: how long the CLI takes to start, and what `--help` imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.measure import Section, Table, median, ms, ratio

HEAVY_MODULES = ("boto3", "botocore", "matplotlib", "moto")


def s3sizer_command() -> list[str]:
    """The installed console script, as a user types it; `python -m s3sizer` without one."""
    script = shutil.which("s3sizer")
    return [script] if script else [sys.executable, "-m", "s3sizer"]


def run(repeats: int) -> Section:
    s3sizer = s3sizer_command()
    commands = [
        ("`python -c pass` (the interpreter alone)", [sys.executable, "-c", "pass"]),
        ('`python -c "import typer, rich"` (the floor)', [sys.executable, "-c", "import typer, rich"]),
        ("`s3sizer --help`", [*s3sizer, "--help"]),
        ("`s3sizer status --help`", [*s3sizer, "status", "--help"]),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: nothing shadows the install
        walls = {label: _time(command, repeats, cwd) for label, command in commands}
        heavy = {label: _heavy_imports(command, cwd) for label, command in commands[2:]}
    floor = median(walls[commands[1][0]])
    table = Table(
        [
            "command",
            "median wall time",
            "against the floor",
            "boto3, botocore, matplotlib or moto imported",
        ]
    )
    for label, _ in commands:
        imported = (", ".join(heavy[label]) or "none") if label in heavy else ""
        table.add(label, ms(median(walls[label])), ratio(median(walls[label]), floor), imported)
    section = Section("4. CLI start-up", METHOD.format(repeats=repeats), [table])
    help_label = commands[2][0]
    section.highlights.append(
        f"`s3sizer --help` starts in {ms(median(walls[help_label]))}, "
        f"{ratio(median(walls[help_label]), floor)} the {ms(floor)} of importing typer and rich "
        f"alone; it imports {', '.join(heavy[help_label]) or 'none of boto3, matplotlib and moto'}."
    )
    return section


def _time(command: list[str], repeats: int, cwd: str) -> list[float]:
    subprocess.run(command, cwd=cwd, capture_output=True, check=True)  # warm the disk cache
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
    return walls


def _heavy_imports(command: list[str], cwd: str) -> list[str]:
    """The heavy top-level packages the command imports, from Python's own import log."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=True)
    imported = set()
    for line in done.stderr.splitlines():
        # "import time:       123 |        456 | botocore.session"
        if line.startswith("import time:") and line.count("|") == 2:
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [name for name in HEAVY_MODULES if name in imported]


METHOD = """
Each command runs as a subprocess from an empty directory, once to warm the disk cache, then
{repeats} times; the table gives the median. `s3sizer` is the installed console script. The
imports are read from Python's own import log (`PYTHONPROFILEIMPORTTIME=1`) of one more run.
"""
