"""`s3sizer metrics`: the stack's figures for Prometheus, served until Ctrl-C."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from s3sizer import output
from s3sizer.cli.app import stack_of
from s3sizer.cli.reads import PricesOption, _sigterm_interrupts


def metrics(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback warns.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 9108,
    prices: Annotated[Path | None, PricesOption] = None,
) -> None:
    """Serve the stack's sizes, breakdown, cost and queues as OpenMetrics for Prometheus.

    Each scrape reads the table (never the bucket), at most once every 5 seconds.

    Example: s3sizer metrics --port 9108
    """
    from s3sizer import metrics_server
    from s3sizer.costs import report as money

    stack = stack_of(ctx)
    table = money.load_prices(stack, prices)
    warning = metrics_server.exposure_warning(host)
    if warning:
        output.err.print(warning, markup=False)

    def ready(url: str) -> None:
        output.err.print(f"Serving {url} until Ctrl-C.", markup=False)

    def failed(line: str) -> None:  # the server goes on: Prometheus sees s3sizer_up 0
        output.err.print(line, markup=False, soft_wrap=True)

    with _sigterm_interrupts(), contextlib.suppress(KeyboardInterrupt):
        metrics_server.serve(stack, table, host, port, ready, failed)
