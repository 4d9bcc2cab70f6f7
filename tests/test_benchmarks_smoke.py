"""The benchmark runs end to end in its smallest mode and writes every table.

Its figures are never checked here: they depend on the machine. Only that it runs, against the
local emulator, and that RESULTS.md gets its machine line and one table per section.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    "## 1. Tracking cost against bucket size",
    "## 2. Delivery by the emulator",
    "## 3. Plotting",
    "## 4. CLI start-up",
    "## 5. Memory",
    "## 6. demo",
    "## 9. A write burst, queue route against direct route",
    "## 10. The baseline against `aws s3 ls`",
    "## 11. DynamoDB request units per event, as billed",
)


# Heavy: over a minute on 2 cores, the largest single test; CI's heavy run still runs it.
@pytest.mark.heavy
@pytest.mark.emulator
def test_the_smoke_run_writes_a_table_for_every_section(tmp_path):
    # GIVEN an output path outside the checkout
    out = tmp_path / "RESULTS.md"

    # WHEN the benchmark runs in its smallest mode
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,  # a hang fails the test instead of the whole suite; not a performance check
    )

    # THEN it succeeds and writes the machine, the summary and every section with a table
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "| cores |" in text and "| Python |" in text
    assert "## Summary" in text
    starts = [text.index(title) for title in SECTIONS]
    assert starts == sorted(starts)
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        assert "\n| --- |" in text[start:end], text[start:end]
