"""The commands that read and drive a deployed stack: status, history, plot, logs, reconcile."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from s3sizer.context import StackContext
from s3sizer.errors import AwsError, StackError, UsageError
from s3sizer.lambdas import layout as lay
from s3sizer.stack.model import MAX_PREFIX_DEPTH, PLOT_KEY


def status(
    ctx: StackContext, prices_file: Path | None = None, *, refresh_uploads: bool = False
) -> dict:
    """The chosen bucket's totals and baseline state at the top level, as one bucket's status
    always was; a row per tracked bucket under `buckets` (two GetItems each, a running
    baseline's ranges one Query more) and, once deployed, whether its events still reach the
    tracker (`routed`: delivery.routes_in_place says what it reads); the delivery's queues
    (one GetQueueAttributes each); how long events waited where no queue counts them (lag.py:
    one GetMetricStatistics each, on a fold stack and the direct route), or wait unseen
    (`stopped_mappings`: one ListEventSourceMappings each), untracks stopped with items left
    (one Query); what the chosen bucket costs and how fast it grows (one BatchGetItem, three
    one-item Queries; docs/costs.md). `refresh_uploads` polls its unfinished uploads first."""
    from s3sizer.costs import report as money
    from s3sizer.stack import lag

    prices = money.load_prices(ctx, prices_file)
    if refresh_uploads:
        from s3sizer.stack.uploads import refresh

        refresh(ctx.stack, [ctx.bucket])
    usage = money.usage_of(ctx)  # its row and its cost from one read: a busy bucket's agree
    rows = [bucket_row(ctx, s, usage if s.bucket == ctx.bucket else None) for s in ctx.buckets]
    if ctx.config.delivery is not None:
        from s3sizer.stack.delivery import routes_in_place

        intact = routes_in_place(ctx.stack, ctx.config, ctx.buckets)
        for row in rows:
            row["routed"] = intact.get(row["bucket"])
    chosen = next(row for row in rows if row["bucket"] == ctx.bucket)
    shown = {k: v for k, v in chosen.items() if k not in ("delivery", "prefix_depth")}
    delivery = delivery_state(ctx, chosen["delivery"])
    return {
        **shown,
        **delivery,
        **lag.status_rows(ctx.stack, ctx.config, delivery["delivery"]),
        "stopped_mappings": lag.stopped_mappings(ctx.stack, ctx.config, rows),
        "unfinished_untracks": ctx.stack.unfinished_untracks,
        **money.status_fields(ctx, prices, usage),
        **({"unfinished_fold_move": True} if ctx.unfinished_fold_move else {}),
        "buckets": rows,
    }


def bucket_row(ctx: StackContext, settings, usage: dict | None = None) -> dict:
    """A bucket's row: its totals (of ``usage``, read already) and baseline, route and depth."""
    from s3sizer.stack.baseline_ranges import baseline_view

    history = ctx.history.history
    totals = lay.totals_from(usage[lay.TOTALS_SK]) if usage else history.totals(settings.bucket)
    baseline, merged_so_far = baseline_view(history, settings.bucket)
    size, count = merged_so_far or (totals.total_size, totals.object_count)
    return {
        "bucket": settings.bucket,
        "total_size": size,
        "object_count": count,
        # While a baseline runs the totals are partial; the largest ever is at least them.
        "max_size": max(totals.max_size, size),
        "updated_at": totals.updated_at,
        "baseline": baseline,
        "delivery": settings.delivery,
        "prefix_depth": settings.prefix_depth,
    }


def delivery_state(ctx: StackContext, bucket_route: str | None = None) -> dict:
    """The route (the chosen bucket's, given its own: a stack's buckets may take different
    ones), the messages waiting in the stack's queue (None on the direct route), and the DLQ."""
    from s3sizer.stack.routes import route

    chosen = ctx.config.delivery
    if chosen is not None and bucket_route:
        chosen = bucket_route
    counts = {}
    for name in (ctx.names.queue, ctx.names.dead_letter_queue):
        url = ctx.stack.queue_url(name)
        counts[name] = None if url is None else ctx.stack.messages_held(url)
    queued, dead = counts[ctx.names.queue], counts[ctx.names.dead_letter_queue]
    if chosen is None:  # no deploy has routed the stack yet: nothing is on its way
        rows = {"queued": None, "dead_letters": dead or 0}
    else:
        rows = route(chosen).status_rows(queued, dead)
        if dead is None:  # deployed, and the queue is gone: not "no dead letters"
            rows["dead_letters"] = None
    if ctx.config.write_path == "fold":  # only then: a transaction stack's status is unchanged
        from s3sizer.stack.fold import dead_letter_count

        letters = dead_letter_count(ctx.stack)
        # Deployed, and the queue is gone: not "no dead letters", as for the tracker's.
        rows["fold_dead_letters"] = letters if letters is not None or chosen is not None else 0
    return {"delivery": chosen, **rows}


def prefixes(ctx: StackContext, depth: int | None, top: int | None) -> list[dict]:
    """The tracked prefixes, largest first: one Query, growing with the prefixes listed."""
    # Exit 1, not 2: the command line is well formed; the bucket's settings refuse it.
    if depth is not None and depth > ctx.prefix_depth:
        raise StackError(
            f"Bucket {ctx.bucket!r} is tracked to prefix depth {ctx.prefix_depth}, not {depth}",
            f"run `{_deeper(ctx, depth)}` first",
        )
    if ctx.prefix_depth == 0:
        raise StackError(
            f"Bucket {ctx.bucket!r} is tracked without prefixes",
            f"run `{_deeper(ctx, 1)}` (or more)",
        )
    from s3sizer.costs import report as money

    # A prefix whose objects are all deleted still bills its older versions: it stays listed.
    found = ctx.history.prefix_totals(depth=depth, top=top, billed=True)
    entries = [
        {"prefix": p.prefix, "total_size": p.total_size, "object_count": p.object_count}
        for p in found
    ]
    return money.prefix_fields(ctx, entries)


def history(
    ctx: StackContext, since_seconds: float | None, prefix: str | None = None
) -> list[dict]:
    if prefix is not None:
        check_tracked_prefix(ctx, prefix)
        points = ctx.history.prefix_points(prefix, since_seconds)
    else:
        points = ctx.history.points(since_seconds)
    return [
        {"timestamp": p.ts, "total_size": p.total_size, "object_count": p.object_count}
        for p in points
    ]


def _deeper(ctx: StackContext, depth: int) -> str:
    """The command that tracks the bucket read's prefixes to ``depth``: setup for the first
    bucket, track for any other (setup changes the first one only)."""
    if ctx.bucket == ctx.config.bucket:
        return f"s3sizer setup --prefix-depth {depth}"
    return f"s3sizer track {ctx.bucket} --prefix-depth {depth}"


def check_tracked_prefix(ctx: StackContext, prefix: str) -> None:
    """A prefix the stack does not track has no history at all, not an empty one: say so.
    Exit 1, as `aws s3 ls` of a missing prefix does: the command line is well formed, but the
    stack holds nothing under that name; the fix is another prefix or a deeper setup."""
    depth = ctx.prefix_depth
    if depth == 0:
        raise StackError(
            f"{prefix!r} is not a tracked prefix: bucket {ctx.bucket!r} is tracked without "
            "prefixes",
            f"run `{_deeper(ctx, 1)}` (or more) to track them",
        )
    if prefix in lay.prefixes(prefix, depth):
        return
    slashes = "slash" if depth == 1 else "slashes"
    if not prefix:
        fix = "name one, e.g. 'logs/' (`s3sizer status --by-prefix` lists them)"
    elif not prefix.endswith("/"):
        fix = f"a tracked prefix ends with '/', e.g. {prefix + '/'!r}"
    elif prefix.count("/") > MAX_PREFIX_DEPTH:
        fix = f"prefixes of more than {MAX_PREFIX_DEPTH} slashes are never tracked: ask for a shorter one"
    else:
        fix = f"run `{_deeper(ctx, prefix.count('/'))}` to track it"
    raise StackError(
        f"{prefix!r} is not a tracked prefix: bucket {ctx.bucket!r} tracks prefixes ending in "
        f"'/' with at most {depth} {slashes}",
        fix,
    )


def plot_local(ctx: StackContext, window: float, out: Path, *, by_prefix: bool = False) -> dict:
    """Read the history directly and draw the same plot here; no Lambda involved."""
    check_out(out)
    from s3sizer.lambdas.plotting import DEFAULT_TOP_PREFIXES, draw

    top = DEFAULT_TOP_PREFIXES if by_prefix and ctx.prefix_depth else 0
    data, png = draw(ctx.history.history, ctx.bucket, window, top)
    out.write_bytes(png)
    return {"out": str(out), "points": len(data.points), "max_size": data.totals.max_size}


def invoke(ctx: StackContext, function: str, payload: dict) -> dict:
    """Invoke a stack function and wait; its error becomes an S3SizerError."""
    name = ctx.names.function(function)
    client = ctx.client("lambda")
    try:
        response = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    except client.exceptions.ResourceNotFoundException:
        raise StackError(f"Function {name} is not deployed", "run `s3sizer deploy` first") from None
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        detail = body.get("errorMessage", body) if isinstance(body, dict) else body
        raise AwsError(f"{name} failed: {detail}", f"see `s3sizer logs {function}`")
    return body


def check_out(out: Path) -> None:
    if not out.parent.is_dir():
        raise UsageError(
            f"Directory {out.parent} does not exist", "create it, or pass another --out"
        )


def plot_remote(ctx: StackContext, window: float, out: Path, *, by_prefix: bool = False) -> dict:
    check_out(out)
    payload = {"window_seconds": window} | ({"by_prefix": True} if by_prefix else {})
    result = invoke(ctx, "plotting", payload)
    # The plot lands in the stack's own bucket, which the config already names.
    got = ctx.client("s3").get_object(Bucket=ctx.bucket, Key=result.get("key", PLOT_KEY))
    out.write_bytes(got["Body"].read())
    return {**result, "out": str(out)}


def run_driver(
    ctx: StackContext,
    pause: float | None = None,
    deadline: float | None = None,
    *,
    on_progress: Callable[[dict], None] | None = None,
    poll: float = 0.5,
) -> dict:
    """Invoke the driver and wait; meanwhile report each change the tracker records.

    The driver waits for the tracker after every operation (up to `deadline` seconds each: S3
    documents that a notification can take a minute or longer), so the wait can be long; the
    progress shows it is not stuck.
    """
    payload = {} if pause is None else {"pause_seconds": pause}
    if deadline is not None:
        payload["deadline_seconds"] = deadline
    if on_progress is None:
        return invoke(ctx, "driver", payload)
    from concurrent.futures import Future, wait

    # A daemon thread, not a pool: Ctrl-C here ends the command at once, where a pool's exit
    # (and the interpreter's) would wait out the synchronous invoke, up to its whole run.
    running: Future = Future()

    def call() -> None:
        try:
            running.set_result(invoke(ctx, "driver", payload))
        except BaseException as error:  # handed to the waiting command
            running.set_exception(error)

    threading.Thread(target=call, name="driver-invoke", daemon=True).start()
    seen = ctx.history.totals().updated_at
    while not wait([running], timeout=poll).done:  # an invoke's own TimeoutError is its result
        totals = ctx.history.totals()
        if totals.updated_at != seen:
            seen = totals.updated_at
            on_progress({"total_size": totals.total_size, "object_count": totals.object_count})
    return running.result()


def reconcile(ctx: StackContext, workers: int | None = None) -> dict:
    from s3sizer.progress import baseline_bar
    from s3sizer.stack.baseline_run import DEFAULT_WORKERS, record
    from s3sizer.stack.fold import unfolded

    stack, config = ctx.stack, ctx.config
    first = ctx.bucket == config.bucket
    versioned = stack.tracked_bucket_versioning(ctx.bucket, first=first) != ""
    with baseline_bar(ctx.bucket) as on_progress:
        drift = record(
            stack,
            ctx.bucket,
            versioned=versioned,
            depth=ctx.prefix_depth,
            ttl_days=config.history_ttl_days,
            live=config.delivery is not None,
            workers=workers or DEFAULT_WORKERS,
            on_progress=on_progress,
            write_path=config.write_path,  # as the tracker runs (context.open_stack)
        )
    out = drift.report()
    if config.write_path == "fold" and config.delivery is not None:
        out |= unfolded(ctx.stack, ctx.history, out["total_size"], out["object_count"])
    return out


def logs(
    ctx: StackContext,
    function: str,
    since_seconds: float,
    *,
    follow: bool = False,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict]:
    """The function's log events, oldest first; with follow, keeps polling until interrupted."""
    if function == "fold" and getattr(ctx.config, "write_path", "transaction") != "fold":
        # An empty answer would read as a fold with nothing to say.
        raise StackError(
            f"Stack {ctx.names.stack!r} is on the transaction write path: it has no fold function",
            "run `s3sizer logs size-tracking`, or move the stack with "
            "`s3sizer deploy --write-path fold`",
        )
    start = datetime.now(UTC) - timedelta(seconds=since_seconds)
    group, client = ctx.names.log_group(function), ctx.client("logs")
    start_ms, seen = int(start.timestamp() * 1000), set()
    while True:
        try:
            pages = client.get_paginator("filter_log_events").paginate(
                logGroupName=group, startTime=start_ms
            )
            events = [event for page in pages for event in page.get("events", [])]
        except client.exceptions.ResourceNotFoundException:
            events = []
        for event in sorted(events, key=lambda e: (e["timestamp"], e.get("eventId", ""))):
            ident = event.get("eventId") or (event["timestamp"], event["message"])
            if ident in seen:
                continue
            seen.add(ident)
            start_ms = max(start_ms, event["timestamp"])
            yield event
        if not follow:
            return
        sleep(poll)


def watch_snapshot(ctx: StackContext, seconds: float, top_prefixes: int = 0) -> dict:
    """What the live view shows: the totals, the recent points, and the largest prefixes.

    One GetItem and one window Query, plus the prefixes' reads and, with prefixes, one more
    window Query of the bucket's points (which carry the fold's steps) and one per prefix
    shown: the cost follows the prefixes shown, never the objects.
    """
    data = ctx.history.window(seconds)
    sizes = [data.start_size] + [p.total_size for p in data.points]
    prefixes = []
    shown = ctx.history.prefix_totals(top=top_prefixes) if top_prefixes else []
    series = ctx.history.prefixes_points([p.prefix for p in shown], seconds) if shown else {}
    for found in shown:
        points = series[found.prefix]
        prefixes.append(
            {
                "prefix": found.prefix,
                "total_size": found.total_size,
                "object_count": found.object_count,
                "sizes": [p.total_size for p in points] or [found.total_size],
            }
        )
    return {
        "bucket": ctx.bucket,
        "total_size": data.totals.total_size,
        "object_count": data.totals.object_count,
        "max_size": data.totals.max_size,
        "updated_at": data.totals.updated_at,
        "sizes": sizes,
        "prefixes": prefixes,
    }


def metric_datapoints(ctx: StackContext, seconds: float = 600) -> list[dict]:
    """The tracker's BucketSizeBytes datapoints of the last `seconds`, at 1 s resolution."""
    end = datetime.now(UTC)
    response = ctx.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "size",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "s3sizer",
                        "MetricName": "BucketSizeBytes",
                        "Dimensions": [{"Name": "Bucket", "Value": ctx.bucket}],
                    },
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=end - timedelta(seconds=seconds),
        EndTime=end + timedelta(seconds=1),
        ScanBy="TimestampAscending",
    )
    result = response["MetricDataResults"][0]
    return [
        {"timestamp": t.isoformat(), "value": v}
        for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
    ]
