"""The commands that need no account: a local AWS, and the whole lifecycle on one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from s3sizer import output


def emulator(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback warns.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, envvar="S3SIZER_EMULATOR_PORT", help="Port (0 picks a free one)."
        ),
    ] = 4566,
) -> None:
    """Run a local AWS (S3, DynamoDB, Lambda, SQS, EventBridge, CloudWatch, IAM, STS, Logs) until Ctrl-C.

    Example: s3sizer emulator --port 4566
    """
    from s3sizer.emulator import serve

    serve(host, port)


def demo(
    out: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, writable=True, help="Directory for plot.png."),
    ] = Path("."),
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the stack and the emulator's data.")
    ] = False,
) -> None:
    """The whole lifecycle on a local AWS: no account, no network.

    Example: s3sizer demo --out /tmp
    """
    from s3sizer.demo import DEMO_STACK, run_demo

    def report(summary: dict) -> None:
        output.out.print(
            output.history_table(summary["history"], title=f"History of {summary['bucket']}")
        )
        output.out.print(
            f"Wrote {summary['plot']} (by the Lambda) and {summary['local_plot']} (plot --local)."
        )
        status = summary.get("status") or {}
        if "storage" in status:  # what the bucket holds, as the bill counts it, and its cost
            from s3sizer.costs.text import money_lines

            output.out.print(money_lines(status["storage"], status["growth"]), markup=False)
        metrics = summary.get("metrics") or []
        if metrics:
            latest = metrics[-1]
            output.out.print(
                f"CloudWatch s3sizer/BucketSizeBytes: {output.plural(len(metrics), 'datapoint')} "
                f"at 1 s, the latest {latest['value']:g} {'byte' if latest['value'] == 1 else 'bytes'}"
                f" at {latest['timestamp']} (from the tracker's log lines)."
            )

    def hold(endpoint_url: str) -> None:
        import threading

        output.out.print(
            f"The stack is kept while this runs. In another shell:\n"
            f"  export AWS_ENDPOINT_URL={endpoint_url} S3SIZER_STACK={DEMO_STACK}\n"
            f"  s3sizer status\nPress Ctrl-C to stop."
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

    run_demo(
        out,
        keep=keep,
        on_step=lambda text: output.err.print(f"[cyan]»[/] {text}"),
        report=report,
        hold=hold,
    )
