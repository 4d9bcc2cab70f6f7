"""`s3sizer demo`, as a learner runs it: one command, a plot, nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image


def test_demo_runs_the_whole_lifecycle_and_writes_the_plot(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PROFILE"] = "no-such-profile"  # the demo needs no account, whatever is configured

    result = subprocess.run(
        [sys.executable, "-m", "s3sizer", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    sizes = [row.split("│")[2].strip() for row in rows]
    assert sizes[-4:] == ["18 B", "27 B", "0 B", "2 B"]
    assert "monthly cost $0.0000 at us-east-1's prices of" in result.stdout  # the breakdown
    for name in ("plot.png", "plot-local.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG"
    assert "teardown" in result.stderr
    # A queue deleted by teardown while the local AWS's poller reads it is no traceback.
    assert "Traceback" not in result.stderr
