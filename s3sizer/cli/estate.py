"""track and untrack: more buckets in one stack, each planned first like setup."""

from __future__ import annotations

from typing import Annotated

import typer

from s3sizer import output
from s3sizer.cli.app import StepProgress, aws_of, show_plan
from s3sizer.cli.lifecycle import AlarmAbove, DryRun, PrefixDepth, StorageClasses
from s3sizer.cli.reads import Workers

Buckets = Annotated[
    list[str], typer.Argument(metavar="BUCKET", help="Bucket names.", show_default=False)
]


def track(
    ctx: typer.Context,
    buckets: Buckets,
    prefix_depth: PrefixDepth = None,
    alarm_above: AlarmAbove = None,
    storage_classes: StorageClasses = None,
    workers: Workers = None,
    dry_run: DryRun = False,
) -> None:
    """Track more existing buckets in this stack (or change a tracked bucket's settings).

    Example: s3sizer track logs-bucket media-bucket --prefix-depth 2
    """
    from s3sizer import lifecycle

    with output.err.status("Tracking…") as spinner:
        progress = StepProgress("Tracking:", spinner)
        plan = lifecycle.track(
            aws_of(ctx),
            buckets,
            prefix_depth=prefix_depth,
            alarm_above=alarm_above,
            storage_classes=storage_classes,
            workers=workers,
            dry_run=dry_run,
            show_plan=show_plan(dry_run),
            on_step=progress,
        )
    progress.done(plan)


SweepWorkers = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, max=32, help="Partitions of the table deleted at once (default 16)."
    ),
]


def untrack(
    ctx: typer.Context, buckets: Buckets, workers: SweepWorkers = None, dry_run: DryRun = False
) -> None:
    """Stop tracking buckets: each notification configuration restored, their history deleted.

    Example: s3sizer untrack logs-bucket
    """
    from s3sizer import lifecycle

    with output.err.status("Untracking…") as spinner:
        progress = StepProgress("Untracking:", spinner)
        plan = lifecycle.untrack(
            aws_of(ctx),
            buckets,
            workers=workers,
            dry_run=dry_run,
            show_plan=show_plan(dry_run),
            on_step=progress,
        )
    progress.done(plan)
