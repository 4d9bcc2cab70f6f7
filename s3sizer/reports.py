"""The commands that read and drive a deployed stack: status, history, plot, logs, reconcile."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.errors import AwsError, StackError, UsageError
from s3sizer.stack.model import FUNCTION_NAMES, PLOT_KEY
from s3sizer.stack.state import Stack


def status(aws: Aws) -> dict:
    stack = Stack(aws)
    config = stack.require_config()
    totals = stack.history(config).totals(config.bucket)
    return {
        "bucket": config.bucket,
        "total_size": totals.total_size,
        "object_count": totals.object_count,
        "max_size": totals.max_size,
        "updated_at": totals.updated_at,
    }


def history(aws: Aws, since_seconds: float | None) -> list[dict]:
    if since_seconds is not None and not (math.isfinite(since_seconds) and since_seconds > 0):
        raise UsageError("--since must be more than 0 seconds", "pass e.g. --since 60")
    stack = Stack(aws)
    config = stack.require_config()
    points = stack.history(config).points(config.bucket, since_seconds)
    return [
        {"timestamp": p.ts, "total_size": p.total_size, "object_count": p.object_count}
        for p in points
    ]


def check_window(window: float) -> None:
    if not math.isfinite(window) or window <= 0:
        raise UsageError(
            f"The window must be more than 0 seconds, not {window:g}", "pass e.g. --window 10"
        )


def plot_local(aws: Aws, window: float, out: Path) -> dict:
    """Read the history directly and draw the same plot here; no Lambda involved."""
    check_window(window)
    check_out(out)
    from s3sizer.lambdas.render import render_png

    stack = Stack(aws)
    config = stack.require_config()
    data = stack.history(config).window(config.bucket, window)
    out.write_bytes(render_png(data))
    return {"out": str(out), "points": len(data.points), "max_size": data.totals.max_size}


def invoke(aws: Aws, function: str, payload: dict) -> dict:
    """Invoke a stack function and wait; its error becomes an S3SizerError."""
    stack = Stack(aws)
    stack.require_config()
    name = stack.names.function(function)
    client = stack.client("lambda")
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


def plot_remote(aws: Aws, window: float, out: Path) -> dict:
    check_window(window)
    check_out(out)
    result = invoke(aws, "plotting", {"window_seconds": window})
    stack = Stack(aws)
    key = result.get("key", PLOT_KEY)
    body = stack.client("s3").get_object(Bucket=result.get("bucket"), Key=key)["Body"].read()
    out.write_bytes(body)
    return {**result, "out": str(out)}


def run_driver(aws: Aws, pause: float | None = None) -> dict:
    if pause is not None and not (math.isfinite(pause) and 0 <= pause <= 60):
        raise UsageError("--pause must be between 0 and 60 seconds", "pass e.g. --pause 1.5")
    payload = {} if pause is None else {"pause_seconds": pause}
    return invoke(aws, "driver", payload)


def reconcile(aws: Aws) -> dict:
    stack = Stack(aws)
    config = stack.require_config()
    drift = stack.history(config).reset_from_listing(
        config.bucket, stack.list_objects(config.bucket)
    )
    return {
        "total_size": drift.total_size,
        "object_count": drift.object_count,
        "drift_bytes": drift.drift_bytes,
        "drift_objects": drift.drift_objects,
    }


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    """'90', '90s', '10m', '2h', '1d' as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise UsageError(f"Invalid duration {text!r}", "use a number with s, m, h or d, e.g. 10m")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    seconds = float(match.group(1)) * unit
    if seconds > 10 * 365 * 86400:
        raise UsageError(f"Duration {text!r} is too long", "ask for at most ten years, e.g. 30d")
    return timedelta(seconds=seconds)


def logs(
    aws: Aws,
    function: str,
    since: str,
    *,
    follow: bool = False,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict]:
    """The function's log events, oldest first; with follow, keeps polling until interrupted."""
    if function not in FUNCTION_NAMES:
        raise UsageError(
            f"Unknown function {function!r}", f"choose one of: {', '.join(FUNCTION_NAMES)}"
        )
    start = datetime.now(UTC) - parse_duration(since)
    stack = Stack(aws)
    stack.require_config()
    group, client = stack.names.log_group(function), stack.client("logs")
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


def watch_snapshot(aws: Aws, seconds: float) -> dict:
    """What the live view shows: the totals and the recent points."""
    stack = Stack(aws)
    config = stack.require_config()
    data = stack.history(config).window(config.bucket, seconds)
    sizes = [data.start_size] + [p.total_size for p in data.points]
    return {
        "bucket": config.bucket,
        "total_size": data.totals.total_size,
        "object_count": data.totals.object_count,
        "max_size": data.totals.max_size,
        "updated_at": data.totals.updated_at,
        "sizes": sizes,
    }
