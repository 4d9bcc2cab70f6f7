"""The whole lifecycle on an in-process local AWS: setup, deploy, driver, both plots, teardown."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from s3sizer import lifecycle, reports
from s3sizer.aws import Aws
from s3sizer.context import open_stack
from s3sizer.settings import resolve

DEMO_STACK = "s3sizer-demo"


def run_demo(
    out_dir: Path,
    *,
    keep: bool = False,
    pause: float = 1.5,
    on_step: Callable[[str], None] = lambda text: None,
    report: Callable[[dict], None] = lambda summary: None,
    hold: Callable[[str], None] = lambda endpoint_url: None,
) -> dict:
    """Run everything against a fresh emulator on a free loopback port; returns a summary."""
    from s3sizer.emulator import Emulator

    # The demo needs no account: a profile named in the environment must not be looked up.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    out_dir.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(host="127.0.0.1", port=0)
    on_step("starting the local AWS")
    emulator.start()
    try:
        settings = resolve(stack=DEMO_STACK, region="us-east-1", endpoint_url=emulator.endpoint_url)
        aws = Aws(settings, placeholder_credentials=True)
        on_step(f"setup on {emulator.endpoint_url}")
        lifecycle.setup(aws, None)
        on_step("deploy (the host's matplotlib serves instead of a layer)")
        lifecycle.deploy(aws, lifecycle.LayerChoice(build=False))
        ctx = open_stack(aws)
        on_step("run-driver")
        driver = reports.run_driver(ctx, pause)
        on_step("plot (the plotting function)")
        plot = out_dir / "plot.png"
        reports.plot_remote(ctx, 10.0 + 4 * pause, plot)
        on_step("plot --local")
        local_plot = out_dir / "plot-local.png"
        reports.plot_local(ctx, 10.0 + 4 * pause, local_plot)
        summary = {
            "bucket": ctx.bucket,
            "driver": driver,
            "history": reports.history(ctx, None),
            "status": reports.status(ctx),
            "metrics": reports.metric_datapoints(ctx),
            "plot": str(plot),
            "local_plot": str(local_plot),
            "endpoint_url": emulator.endpoint_url,
        }
        report(summary)
        if not keep:
            on_step("teardown")
            lifecycle.teardown(aws)
        else:
            # The stack only lives as long as this emulator: keep serving until interrupted.
            hold(emulator.endpoint_url)
        return summary
    finally:
        emulator.stop()
