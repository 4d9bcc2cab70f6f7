"""Section 6: the whole lifecycle's wall times, and `s3sizer demo` end to end."""

from __future__ import annotations

import subprocess
import tempfile
import time

from benchmarks.measure import Section, Table, ms
from benchmarks.startup import s3sizer_command


def demo_seconds() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [*s3sizer_command(), "demo", "--out", out], cwd=out, capture_output=True, check=True
        )
        return time.perf_counter() - started


def section(emulator_start: float, setup: float, deploy: float, demo: float | None) -> Section:
    table = Table(["step", "wall time"])
    table.add(
        "emulator start-up (`python -m s3sizer.emulator` until it prints its endpoint)",
        ms(emulator_start),
    )
    table.add("`setup` on the emulator (bucket, table, three roles, baseline)", ms(setup))
    table.add(
        "`deploy` on the emulator (three zips, no layer, the queues, the mapping, notification)",
        ms(deploy),
    )
    table.add(
        "`s3sizer demo --out <tmp>` (subprocess, whole lifecycle)",
        "not run (--smoke)" if demo is None else ms(demo),
    )
    result = Section("6. demo", METHOD, [table])
    if demo is not None:
        result.highlights.append(f"`s3sizer demo` runs the whole lifecycle in {ms(demo)}.")
    return result


METHOD = """
Each figure is measured once. Emulator start-up, setup and deploy come from section 2's run
(library calls, as the CLI makes them). The demo is the installed `s3sizer demo` in a
subprocess: its own in-process emulator, setup, deploy, the driver (which pauses 1.5 s between
its operations, as on AWS), both plots, and teardown.
"""
