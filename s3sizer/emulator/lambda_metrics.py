"""The metrics Lambda itself publishes about how long events wait for a function, in the
emulator's CloudWatch (namespace AWS/Lambda, dimension FunctionName), as its runtime runs them:

- `IteratorAge`, for an event source mapping that reads a stream: the age of the last record
  of each batch sent to the function (the time since the stream received it), in milliseconds;
- `AsyncEventAge`, for an asynchronous invocation: the time between when the event was queued
  and when the function is invoked with it, growing as a failing event is retried.

https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from . import emf

NAMESPACE = "AWS/Lambda"
ITERATOR_AGE = "IteratorAge"
ASYNC_EVENT_AGE = "AsyncEventAge"


def put_age(function_arn: str, metric: str, since: float) -> None:
    """Publish ``metric`` for the function: the milliseconds from ``since`` (time.time()) to now."""
    # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    _, _, _, region, account_id, _, name = function_arn.split(":")[:7]
    now = time.time()
    emf.store(
        account_id, region, NAMESPACE,
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": name}],
            "Timestamp": datetime.fromtimestamp(now, UTC),
            "Value": max(now - since, 0.0) * 1000,
            "Unit": "Milliseconds",
        },
    )  # fmt: skip
