"""Section 5: the peak resident memory of the emulator process and of its warm workers."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.measure import Section, Table, mib

# A worker is an interpreter that has imported boto3 and its handler: this is its floor.
_BOTO3_FLOOR = (
    "import boto3, pathlib; boto3.client('dynamodb', region_name='us-east-1');"
    "print(next(l for l in pathlib.Path('/proc/self/status').read_text().splitlines()"
    " if l.startswith('VmHWM:')).split()[1])"
)


def boto3_floor_kib() -> int | None:
    done = subprocess.run([sys.executable, "-c", _BOTO3_FLOOR], capture_output=True, text=True)
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def section(
    emulator_after_delivery: int | None,
    emulator_after_history: int | None,
    history_points: int,
    tracker_worker: int | None,
    tracker_workers: int,
    plotting_worker: int | None,
) -> Section:
    table = Table(["process", "peak RSS (VmHWM)"])
    table.add(
        "emulator (`python -m s3sizer.emulator`), after section 2", mib(emulator_after_delivery)
    )
    table.add(
        f"the same emulator, after section 3 loaded {history_points:,} history points",
        mib(emulator_after_history),
    )
    table.add(
        f"one warm size-tracking worker (largest of {tracker_workers}), after section 2",
        mib(tracker_worker),
    )
    table.add("one warm plotting worker, after one plot (matplotlib loaded)", mib(plotting_worker))
    table.add("floor: `python -c` that imports boto3 and makes one client", mib(boto3_floor_kib()))
    result = Section("5. Memory", METHOD, [table])
    result.highlights.append(
        f"The emulator peaks at {mib(emulator_after_delivery)} after section 2; a warm "
        f"size-tracking worker at {mib(tracker_worker)}."
    )
    return result


METHOD = """
Peak resident set size (`VmHWM` in `/proc/<pid>/status`) of the emulator child process of
sections 2 and 3, and of its worker processes (found as its children, by the function name in
their environment), read while they run. Each worker is its own Python process.
"""
