"""setup, deploy and teardown: each shows its plan, then runs it (or, with --dry-run, stops)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from s3sizer import output
from s3sizer.cli.app import StepProgress, aws_of, show_plan, stack_of
from s3sizer.cli.inputs import (
    Architecture,
    ByteSize,
    Delivery,
    FunctionSetting,
    GrowthRate,
    LayerArn,
    Runtime,
    TopicArn,
    UploadsEvery,
    WritePath,
)
from s3sizer.cli.reads import Workers
from s3sizer.errors import S3SizerError, UsageError
from s3sizer.stack.model import BATCH_SIZE_RANGE, MAX_CONCURRENCY_RANGE, MAX_PREFIX_DEPTH

DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
UploadsEveryOption = Annotated[
    float | None,
    typer.Option(
        parser=UploadsEvery(),
        metavar="DURATION",
        help="Poll the buckets' unfinished multipart uploads this often (default 15m; "
        "at least 1m; 0 turns the schedule off).",
    ),
]
# Per-bucket settings that setup (the first bucket) and track (the others) both take.
PrefixDepth = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=MAX_PREFIX_DEPTH,
        help="Track sizes of prefixes with up to this many slashes (default 1; 0 turns off).",
    ),
]
AlarmAbove = Annotated[
    int | None,
    typer.Option(
        parser=ByteSize(off=True),
        metavar="SIZE",
        help="A CloudWatch alarm when the bucket holds more, e.g. 500GB (10^9) or 500GiB; "
        "off removes it.",
    ),
]
WritePathOption = Annotated[
    WritePath | None,
    typer.Option(
        help="How the tracker writes the totals: in its own transactions (default), or through "
        "the table's stream and a fold function; a deployed fold stack stays on fold.",
    ),
]
StorageClasses = Annotated[
    bool | None,
    typer.Option(
        "--storage-classes/--no-storage-classes",
        help="Track bytes per storage class (one HEAD per object created) and price them.",
        show_default=False,
    ),
]


def setup(
    ctx: typer.Context,
    bucket: Annotated[
        str | None,
        typer.Option(
            envvar="S3SIZER_BUCKET", help="Bucket to track: created if missing, adopted if yours."
        ),
    ] = None,
    history_ttl_days: Annotated[
        int | None,
        typer.Option(min=0, help="Expire history points after this many days (0 keeps them)."),
    ] = None,
    prefix_depth: PrefixDepth = None,
    alarm_above: AlarmAbove = None,
    alarm_topic: Annotated[
        str | None,
        typer.Option(
            parser=TopicArn,
            metavar="ARN",
            help="SNS topic the alarms notify (with --alarm-above or --alarm-growth, or set before).",
        ),
    ] = None,
    alarm_growth: Annotated[
        str | None,  # parsed into (bytes, seconds): a tuple type would make Typer take 2 words
        typer.Option(
            parser=GrowthRate(),
            metavar="SIZE/PERIOD",
            help="A CloudWatch alarm when the bucket grows faster, e.g. 10GB/h or 500MiB/d "
            "(metric math on BucketSizeBytes; off removes it).",
        ),
    ] = None,
    uploads_every: UploadsEveryOption = None,
    storage_classes: StorageClasses = None,
    write_path: WritePathOption = None,
    workers: Workers = None,
    dry_run: DryRun = False,
) -> None:
    """Create or adopt the bucket; create the history table and the IAM roles.

    Example: s3sizer setup --bucket my-bucket
    """
    from s3sizer import lifecycle

    with output.err.status("Setting up…") as spinner:
        progress = StepProgress("Setting up:", spinner)
        plan = lifecycle.setup(
            aws_of(ctx),
            bucket,
            ttl_days=history_ttl_days,
            prefix_depth=prefix_depth,
            alarm_above=alarm_above,
            alarm_topic=alarm_topic,
            alarm_growth=alarm_growth,
            uploads_every=uploads_every,
            storage_classes=storage_classes,
            write_path=write_path.value if write_path else None,
            workers=workers,
            dry_run=dry_run,
            show_plan=show_plan(dry_run),
            on_step=progress,
        )
    progress.done(plan)


def deploy(
    ctx: typer.Context,
    layer_arn: Annotated[
        str | None,
        typer.Option(
            parser=LayerArn,
            metavar="ARN",
            envvar="S3SIZER_LAYER_ARN",
            help="Use this matplotlib layer version instead of building one.",
        ),
    ] = None,
    layer: Annotated[
        bool | None,
        typer.Option(
            "--layer/--no-layer",
            help="Build the matplotlib layer (default: yes, except on a local endpoint).",
        ),
    ] = None,
    wheel_dir: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            envvar="S3SIZER_WHEEL_DIR",
            help="Build the layer from wheels in this directory.",
        ),
    ] = None,
    runtime: Annotated[
        Runtime | None, typer.Option(help="Lambda runtime (default python3.12).")
    ] = None,
    architecture: Annotated[
        Architecture | None, typer.Option(help="CPU architecture (default x86_64).")
    ] = None,
    memory: Annotated[
        list[str] | None,
        typer.Option(
            parser=FunctionSetting(128, 10240),
            metavar="FUNCTION=MB",
            help="A function's memory, 128 to 10240 MB; repeatable.",
        ),
    ] = None,
    timeout: Annotated[
        list[str] | None,
        typer.Option(
            parser=FunctionSetting(1, 900),
            metavar="FUNCTION=SECONDS",
            help="A function's timeout, 1 to 900 seconds; repeatable.",
        ),
    ] = None,
    delivery: Annotated[
        Delivery | None,
        typer.Option(
            help="How events reach the tracker (default: as the last deploy chose; at first, "
            "sqs, or eventbridge when the bucket's events already go elsewhere). auto: that "
            "first choice again for every bucket."
        ),
    ] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option(
            min=MAX_CONCURRENCY_RANGE[0],
            max=MAX_CONCURRENCY_RANGE[1],
            help="Concurrent batches of the queue's event source mapping (default 2; on the "
            "fold write path 30).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=BATCH_SIZE_RANGE[0],
            max=BATCH_SIZE_RANGE[1],
            help="Messages per invocation of the tracker on the queue routes (default 100).",
        ),
    ] = None,
    uploads_every: UploadsEveryOption = None,
    write_path: WritePathOption = None,
    dry_run: DryRun = False,
) -> None:
    """Package the functions (and the layer); create or update them; route the bucket's events.

    Example: s3sizer deploy --dry-run
    """
    from s3sizer import lifecycle

    if layer_arn and layer is not None:
        # By name: Typer's own copy of Click has an enum of its own.
        if getattr(ctx.get_parameter_source("layer_arn"), "name", None) == "COMMANDLINE":
            flag = "--layer" if layer else "--no-layer"
            raise UsageError(f"--layer-arn and {flag} ask for two different layers", "give one")
        layer_arn = None  # the command line's choice over S3SIZER_LAYER_ARN's
    choice = lifecycle.LayerChoice(layer_arn=layer_arn, build=layer, wheel_dir=wheel_dir)
    with output.err.status("Deploying…") as spinner:
        progress = StepProgress("Deploying:", spinner)
        plan = lifecycle.deploy(
            aws_of(ctx),
            choice,
            runtime=runtime.value if runtime else None,
            architecture=architecture.value if architecture else None,
            # The parser turned each FUNCTION=NUMBER into a (function, number) pair.
            memory=dict(memory or []),
            timeout=dict(timeout or []),
            delivery=delivery.value if delivery else None,
            max_concurrency=max_concurrency,
            batch_size=batch_size,
            uploads_every=uploads_every,
            write_path=write_path.value if write_path else None,
            dry_run=dry_run,
            show_plan=show_plan(dry_run),
            on_step=progress,
            on_layer_build=lambda: spinner.update("Building the matplotlib layer from wheels…"),
        )
    progress.done(plan)


def _interactive() -> bool:
    return sys.stdin.isatty()


def teardown(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: DryRun = False,
) -> None:
    """Delete everything that setup and deploy created; an adopted bucket keeps its objects.

    Example: s3sizer teardown --yes
    """
    from s3sizer import lifecycle

    aws = aws_of(ctx)

    def show(plan) -> None:
        if plan.steps:
            output.print_plan(plan, dry_run=dry_run)
        else:
            output.out.print(
                f"Stack {ctx.obj.stack!r} does not exist in {aws.region}; nothing to delete."
            )

    confirm = _confirmation(yes, "Teardown", "Delete these resources?", "nothing was deleted")
    with StepProgress("Deleting:") as progress:
        plan = lifecycle.teardown(
            aws, dry_run=dry_run, show_plan=show, confirm=lambda plan: confirm(), on_step=progress
        )
    if plan.steps and not dry_run:
        output.out.print(f"Stack {ctx.obj.stack!r} is gone.")


def _confirmation(yes: bool, what: str, question: str, declined: str):
    """Ask before a destructive step; a script must say --yes, as it cannot answer."""

    def confirm() -> bool:
        if yes:
            return True
        if not _interactive():
            raise UsageError(f"{what} needs confirmation and stdin is not a terminal", "pass --yes")
        if not typer.confirm(question, err=True):
            raise S3SizerError(f"{what} declined", declined)
        return True

    return confirm


def redrive(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Send the dead-letter queue's events back to the tracker; each applies exactly once.

    Example: s3sizer redrive --yes
    """
    from s3sizer import lifecycle

    ask = _confirmation(yes, "Redrive", "Send the dead letters back?", "nothing was moved")

    def confirm(waiting: int, fold_waiting: int) -> bool:
        # Named as `status` names them: the tracker's dead letters, the fold's stream batches.
        parts = [output.plural(waiting, "dead letter")] if waiting else []
        if fold_waiting:
            parts.append(output.plural(fold_waiting, "fold stream batch", "fold stream batches"))
        verb = "waits" if waiting + fold_waiting == 1 else "wait"
        if not yes and _interactive():  # the question's context; an error stays one line
            output.err.print(f"{' and '.join(parts)} {verb} to be sent back.")
        return ask()

    result = lifecycle.redrive(stack_of(ctx), confirm=confirm)
    output.show(result, json_out, _redriven)


def _redriven(result: dict) -> str:
    moved = f"Moved {output.plural(result['moved'], 'dead letter')} back."
    if result.get("moved_to") == "queue":  # applied later, as the mapping receives them
        moved = (
            f"Moved {output.plural(result['moved'], 'dead letter')} back to the tracker's queue;"
            " one it fails on again returns to the dead-letter queue, which `s3sizer status`"
            " counts."
        )
    if "fold_moved" not in result:
        return moved
    batches = output.plural(result["fold_moved"], "stream batch", "stream batches")
    return f"{moved} Folded {batches} again."
