"""How long events waited for the functions that count them, from the metrics Lambda publishes
for each function (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):

- `IteratorAge` of the fold function: the age of the last record of each stream batch it was
  sent, the time its changes took to reach the totals (at least the fold's batching window);
- `AsyncEventAge` of the tracker on the direct route: how long each S3 event waited in Lambda's
  own queue, which no API counts, before the tracker ran with it (longer while it is retried).

`status` shows the greatest of the last five minutes; None when no batch or event came in them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WINDOW_SECONDS = 300
ITERATOR_AGE = "IteratorAge"
ASYNC_EVENT_AGE = "AsyncEventAge"


def longest_wait(stack, function: str, metric: str, seconds: int = WINDOW_SECONDS) -> float | None:
    """The greatest of the function's ``metric`` in the last ``seconds``, in seconds."""
    end = datetime.now(UTC)
    found = stack.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=end - timedelta(seconds=seconds), EndTime=end + timedelta(seconds=1),
        Period=60, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    if not found:
        return None
    return round(max(point["Maximum"] for point in found) / 1000, 1)


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
