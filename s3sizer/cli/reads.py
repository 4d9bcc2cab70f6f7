"""The commands that read and drive a deployed stack: each calls one library function."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated

import typer

from s3sizer import output
from s3sizer.cli.app import stack_of
from s3sizer.cli.inputs import Duration, FunctionName
from s3sizer.stack.model import MAX_PREFIX_DEPTH, PLOT_WINDOW_SECONDS, bucket_name_problem
from s3sizer.status_view import status_text

Json = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
PricesOption = typer.Option(
    "--prices",
    exists=True,
    dir_okay=False,
    metavar="FILE",
    help="Your own S3 price table (JSON, as docs/costs.md shows) instead of the packaged one.",
)


def _bucket_name(value: str | None) -> str | None:
    """--bucket: a bucket's name, not an empty or invalid one (a usage error, not a bucket that
    is not tracked)."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty: name a tracked bucket, or leave --bucket out")
    problem = None if value is None else bucket_name_problem(value)
    if problem:
        raise typer.BadParameter(f"{value!r} is not a bucket name: {problem}")
    return value


Bucket = Annotated[
    str | None,
    typer.Option(
        "--bucket", metavar="BUCKET", callback=_bucket_name,
        help="A tracked bucket (default: the first one).",
    ),
]  # fmt: skip


def _duration(help: str, shown: str | bool = True, *, zero_ok=False, at_most=None, envvar=None):
    """An option that takes a Duration: 90, 90s, 10m, 2h or 1d; `shown` is its default, as text."""
    limits = {"zero_ok": zero_ok} | ({"at_most": at_most} if at_most else {})
    return typer.Option(
        parser=Duration(**limits), metavar="DURATION", envvar=envvar, show_default=shown, help=help
    )


def run_driver(
    ctx: typer.Context,
    pause: Annotated[
        float | None,
        _duration("Time between the driver's operations, at most 60s.", zero_ok=True, at_most=60),
    ] = None,
    deadline: Annotated[
        float,
        _duration(
            "How long the driver waits for the tracker to record each operation "
            "(S3 documents that an event can take a minute or longer).",
            "2m",
            at_most=200,
        ),
    ] = 120.0,
    json_out: Json = False,
) -> None:
    """Invoke the driver and wait for it; show what it did and the sizes recorded.

    Example: s3sizer run-driver --pause 1
    """
    from s3sizer import reports

    with output.err.status("Running the driver…") as spinner:

        def progress(totals: dict) -> None:
            spinner.update(
                f"Running the driver… the tracker recorded {output.human_bytes(totals['total_size'])}"
                f" in {output.plural(totals['object_count'], 'object')}"
            )

        result = reports.run_driver(stack_of(ctx), pause, deadline, on_progress=progress)
    output.show(result, json_out, output.driver_table)


def plot(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the PNG.")] = Path(
        "plot.png"
    ),
    window: Annotated[
        float,
        _duration(
            "How much history to plot (the default covers a whole default driver run).",
            "1m",
            envvar="S3SIZER_WINDOW",
        ),
    ] = float(PLOT_WINDOW_SECONDS),
    local: Annotated[
        bool, typer.Option("--local", help="Render here from the history; no Lambda.")
    ] = False,
    by_prefix: Annotated[
        bool, typer.Option("--by-prefix", help="Stack the largest prefixes under the total.")
    ] = False,
    bucket: Bucket = None,
) -> None:
    """Draw the last WINDOW of history into a PNG.

    Example: s3sizer plot --window 30s --out plot.png
    """
    from s3sizer import reports

    stack = stack_of(ctx, bucket)
    if not local and stack.bucket != stack.config.bucket:
        from s3sizer.errors import UsageError

        raise UsageError(
            "The plotting function draws the stack's first bucket", "add --local for another one"
        )
    draw = reports.plot_local if local else reports.plot_remote
    result = draw(stack, window, out, by_prefix=by_prefix)
    output.out.print(
        f"Wrote {result['out']} ({output.plural(result['points'], 'point')} in the last {window:g} s)."
    )


def status(
    ctx: typer.Context,
    by_prefix: Annotated[
        bool, typer.Option("--by-prefix", help="The size of each tracked prefix instead.")
    ] = False,
    depth: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_PREFIX_DEPTH, help="With --by-prefix: prefixes of at most N slashes."
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(min=1, help="With --by-prefix: the K largest (text shows 10 by default)."),
    ] = None,
    prices: Annotated[Path | None, PricesOption] = None,
    refresh_uploads: Annotated[
        bool,
        typer.Option(
            "--refresh-uploads",
            help="Poll the bucket's unfinished multipart uploads now, not at the next schedule.",
        ),
    ] = False,
    bucket: Bucket = None,
    json_out: Json = False,
) -> None:
    """Current total size, object count, largest size ever, time of the last change, how
    events reach the tracker (queued messages, dead letters), what the bucket costs a month
    and how fast it grows.

    Example: s3sizer status --by-prefix --top 5
    """
    from s3sizer import reports

    if by_prefix and refresh_uploads:
        from s3sizer.errors import UsageError

        raise UsageError(
            "--refresh-uploads refreshes the breakdown, which --by-prefix does not show",
            "run `s3sizer status --refresh-uploads` on its own",
        )
    stack = stack_of(ctx, bucket)
    if by_prefix:
        shown = top if top is not None or json_out else output.DEFAULT_TOP
        found = reports.prefixes(stack, depth, shown)
        output.show(found, json_out, lambda rows: output.prefix_table(rows, stack.bucket))
        return
    if depth is not None or top is not None:
        from s3sizer.errors import UsageError

        raise UsageError("--depth and --top go with --by-prefix", "add --by-prefix")
    result = reports.status(stack, prices, refresh_uploads=refresh_uploads)
    output.show(result, json_out, status_text)
    if result["dead_letters"] and not json_out:
        output.warning(
            f"{output.plural(result['dead_letters'], 'event')} "
            f"{_wait(result['dead_letters'])} in the "
            "dead-letter queue; "
            "fix the cause (`s3sizer logs size-tracking`), then run `s3sizer redrive`."
        )
    gone = [q for q, n in (("", "dead_letters"), ("fold's ", "fold_dead_letters"))
            if n in result and result[n] is None]  # fmt: skip
    if gone and not json_out:
        output.warning(
            f"the {' and the '.join(q + 'dead-letter queue' for q in gone)} "
            f"{'is' if len(gone) == 1 else 'are'} gone: what cannot be applied would have "
            "nowhere to wait; run `s3sizer deploy` to make it again."
        )
    unrouted = [row["bucket"] for row in result["buckets"] if row.get("routed") is False]
    if unrouted and not json_out:
        named = ", ".join(repr(b) for b in unrouted[:3])
        more = f" and {len(unrouted) - 3} more" if len(unrouted) > 3 else ""
        one = len(unrouted) == 1
        output.warning(
            f"{'bucket' if one else 'buckets'} {named}{more} no longer "
            f"{'sends its' if one else 'send their'} events to the tracker (s3sizer's "
            "notification entry, the queue's policy or the stack's rule lost them, or the "
            "bucket is gone); run `s3sizer deploy` to route them again and take their "
            "baselines (`untrack` a bucket that is gone)."
        )
    stopped = {
        "size-tracking": "the tracker's mapping from the queue is gone or disabled: events wait "
        "in the queue, unapplied",
        "fold": "the fold's mapping from the table's stream is gone or disabled: the totals "
        "stop moving while the stream holds the changes (24 hours)",
    }
    for name in [] if json_out else result.get("stopped_mappings") or []:
        output.warning(f"{stopped[name]}; run `s3sizer deploy`.")
    if result.get("unfinished_fold_move") and not json_out:
        output.warning(
            "a `deploy --write-path fold` stopped after the tracker moved to the fold write "
            "path and before it stored the choice: the totals shown are the fold's; run "
            "`s3sizer deploy` to finish it."
        )
    for bucket in [] if json_out else result.get("unfinished_untracks") or []:
        output.warning(
            f"the untrack of bucket {bucket!r} stopped before all of its "
            f"items were deleted; run `s3sizer untrack {bucket}` to finish it."
        )
    if result.get("fold_dead_letters") and not json_out:
        batches = output.plural(result["fold_dead_letters"], "stream batch", "stream batches")
        output.warning(
            f"{batches} {_wait(result['fold_dead_letters'])} "
            "in the fold's dead-letter queue; "
            "fix the cause (`s3sizer logs fold`), then run `s3sizer redrive`."
        )


def _wait(count: int) -> str:
    return "waits" if count == 1 else "wait"


def history(
    ctx: typer.Context,
    since: Annotated[float | None, _duration("Only the points of this last stretch.")] = None,
    prefix: Annotated[
        str | None, typer.Option(help="The points of one tracked prefix, e.g. logs/.")
    ] = None,
    bucket: Bucket = None,
    json_out: Json = False,
) -> None:
    """The recorded points, oldest first.

    Example: s3sizer history --since 1h --json
    """
    from s3sizer import reports

    stack = stack_of(ctx, bucket)
    points = reports.history(stack, since, prefix)
    from s3sizer.lambdas.render import duration

    title = f"History of {stack.bucket}" + (f", prefix {prefix}" if prefix is not None else "")
    if since:
        title += f", last {duration(since)}"
    output.show(points, json_out, lambda found: output.history_table(found, title=title))
    if not points and (since or prefix is not None):
        output.err.print(_no_points_hint(stack.bucket, prefix, since), markup=False)


def _no_points_hint(bucket: str, prefix: str | None, since: float | None) -> str:
    """Why `history` shows nothing, for a tracked bucket or prefix: an answer, not an error."""
    from s3sizer.lambdas.render import duration

    during = f" in the last {duration(since)}" if since else ""
    if since:
        what = f"under {prefix!r}" if prefix is not None else f"in {bucket}"
        again = f"`s3sizer history{f' --prefix {prefix}' if prefix is not None else ''}`"
        return (
            f"No points{during}: nothing {what} changed in that stretch ({again} without "
            "--since shows every point kept)."
        )
    return (
        f"No points for {prefix!r}: no object under it has changed since its tracking began "
        "(`s3sizer status --by-prefix` lists the prefixes holding objects)."
    )


def _between_polls(seconds: float) -> None:
    """What `logs --follow` does between reads; Ctrl-C here is how a user stops it."""
    time.sleep(seconds)


def logs(
    ctx: typer.Context,
    function: Annotated[FunctionName, typer.Argument(help="Whose log events to show.")],
    since: Annotated[float, _duration("How far back to start.", "10m")] = 600.0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
) -> None:
    """The function's CloudWatch log events.

    Example: s3sizer logs size-tracking --since 5m
    """
    from s3sizer import reports

    events = reports.logs(stack_of(ctx), function.value, since, follow=follow, sleep=_between_polls)
    with contextlib.suppress(KeyboardInterrupt):  # how a user stops --follow: exit 0
        for event in events:
            output.out.print(output.log_line(event), markup=False)


def _between_refreshes(seconds: float) -> None:
    """What `watch` does between refreshes; Ctrl-C here is how a user leaves the view."""
    time.sleep(seconds)


def watch(
    ctx: typer.Context,
    interval: Annotated[float, _duration("Time between refreshes.", "1s")] = 1.0,
    window: Annotated[float, _duration("How much history the sparkline shows.", "5m")] = 300.0,
    bucket: Bucket = None,
) -> None:
    """A live view: size, count and a sparkline of recent history, until Ctrl-C.

    Into a pipe or a file, one plain line per refresh instead.

    Example: s3sizer watch --interval 2s --window 10m
    """
    from s3sizer import reports

    stack = stack_of(ctx, bucket)  # the config is read once, not on every refresh
    top = output.DEFAULT_TOP if stack.prefix_depth else 0

    def refreshes():
        while True:
            yield reports.watch_snapshot(stack, window, top)
            _between_refreshes(interval)

    # Ctrl-C (or SIGTERM, from a supervisor) is how a user leaves the view: a normal end.
    with _sigterm_interrupts(), contextlib.suppress(KeyboardInterrupt):
        if not output.out.is_terminal:
            for snapshot in refreshes():
                output.print_now(output.watch_line(snapshot))
            return
        from rich.live import Live

        with Live(console=output.out, auto_refresh=False) as live:
            for snapshot in refreshes():
                live.update(output.watch_view(snapshot), refresh=True)


@contextlib.contextmanager
def _sigterm_interrupts():
    """While the view runs, SIGTERM ends it as Ctrl-C does (a clean exit, the terminal restored)."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        before = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


Workers = Annotated[
    int | None,
    typer.Option(min=1, max=256, help="Workers listing the bucket's ranges at once (default 16)."),
]


def reconcile(
    ctx: typer.Context, bucket: Bucket = None, workers: Workers = None, json_out: Json = False
) -> None:
    """Recompute the totals from a full listing, report the drift, and correct it.

    Example: s3sizer reconcile --json
    """
    from s3sizer import reports

    result = reports.reconcile(stack_of(ctx, bucket), workers)
    output.show(result, json_out, output.reconcile_text)
