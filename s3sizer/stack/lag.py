"""How long events waited for the functions that count them, from the metrics Lambda publishes
for each function (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):

- `IteratorAge` of the fold function: for each stream batch it was sent, the age of the batch's
  newest change, so how far the fold runs behind the table's stream (it grows while the fold
  falls behind or fails); a change may wait up to the fold's batching window more;
- `AsyncEventAge` of the tracker on the direct route: how long each asynchronous invocation
  (S3's events, and the scheduled uploads poll) waited in Lambda's own queue, which no API
  counts, before the tracker ran with it, longer while it is retried or throttled.

`status` shows the greatest of the last five minutes, for the stack (one fold, one tracker);
None when no batch or invocation came in them, or when CloudWatch refused the read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WINDOW_SECONDS = 300
ITERATOR_AGE = "IteratorAge"
ASYNC_EVENT_AGE = "AsyncEventAge"


def longest_wait(stack, function: str, metric: str, seconds: int = WINDOW_SECONDS) -> float | None:
    """The greatest of the function's ``metric`` in the last ``seconds``, in seconds."""
    from botocore.exceptions import BotoCoreError, ClientError

    end = datetime.now(UTC)
    try:
        found = _datapoints(stack, function, metric, end - timedelta(seconds=seconds), end)
    except (ClientError, BotoCoreError):  # a missing permission: status answers without it
        return None
    if not found:
        return None
    return round(max(point["Maximum"] for point in found) / 1000, 1)


def _datapoints(stack, function: str, metric: str, start: datetime, end: datetime) -> list:
    return stack.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=start, EndTime=end + timedelta(seconds=1), Period=60, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip


def status_rows(stack, config, route: str | None) -> dict:
    """Status's waits where no queue counts them: the fold's on a fold stack (`fold_lag_s`),
    the tracker's on the direct route (`delivery_lag_s`)."""
    found = {}
    if config.write_path == "fold":
        found["fold_lag_s"] = longest_wait(stack, stack.names.function("fold"), ITERATOR_AGE)
    if route == "direct":
        tracker = stack.names.function("size-tracking")
        found["delivery_lag_s"] = longest_wait(stack, tracker, ASYNC_EVENT_AGE)
    return found


def stopped_mappings(stack, config, rows: list[dict]) -> list[str] | None:
    """The stack's functions whose event source mapping is gone or disabled, so that what they
    apply waits where nothing ages it (no IteratorAge comes): the tracker's, from the queue,
    when a bucket (of status's ``rows``) is on a queue route, and the fold's, from the table's
    stream, on a fold stack. None when Lambda refuses the read. Only once deployed."""
    routes = {row["delivery"] for row in rows if row["delivery"]} if config.delivery else set()
    from botocore.exceptions import BotoCoreError, ClientError

    from s3sizer.stack.fold import stream_arn
    from s3sizer.stack.routes import route
    from s3sizer.stack.routes.queue import RUNNING

    if not routes:
        return []
    try:
        out = []
        if any(route(name).mapping_stopped(stack, config) for name in sorted(routes)):
            out.append("size-tracking")
        if config.write_path == "fold":
            current = stream_arn(stack)
            mappings = stack.event_source_mappings("fold")
            if not any(
                m.get("EventSourceArn") == current and m.get("State") in RUNNING for m in mappings
            ):
                out.append("fold")
        return out
    except (ClientError, BotoCoreError):  # a missing permission: status answers without it
        return None
