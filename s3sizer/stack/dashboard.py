"""The stack's CloudWatch dashboard, named after the stack: made by deploy, removed by teardown.

It charts what CloudWatch already holds, so it adds no metric to pay for: the tracker's
BucketSizeBytes and NumberOfObjects (namespace s3sizer, per second), S3's own daily storage
metrics by storage type beside them (the breakdown as S3 bills it, a day or more late), and the
dead-letter queues (the fold's too, on the fold write path), and Lambda's ages of what no queue
counts (the fold's IteratorAge, the direct route's AsyncEventAge). The top prefixes are not metrics; a text widget names the commands that
show them. The body is the same on every deploy, so a deploy with nothing new changes nothing.
"""

from __future__ import annotations

import json

from s3sizer.stack import steps as st
from s3sizer.stack.model import StackConfig
from s3sizer.stack.state import Stack

# S3's daily BucketSizeBytes storage types (AWS/S3, dimension StorageType) s3sizer's figures
# are set against: what each counts is in the README ("What you pay for").
S3_STORAGE_TYPES = (
    "StandardStorage",
    "IntelligentTieringFAStorage",
    "StandardIAStorage",
    "OneZoneIAStorage",
    "GlacierInstantRetrievalStorage",
    "GlacierStorage",
    "DeepArchiveStorage",
)


def buckets_of(config: StackConfig) -> list[str]:
    return list(getattr(config, "buckets", None) or [config.bucket])


def dead_letter_metrics(stack: Stack, config: StackConfig) -> list:
    """The tracker's DLQ, and on the fold write path the fold's too: both wait for `redrive`."""
    queues = [stack.names.dead_letter_queue]
    if config.write_path == "fold":
        queues.append(stack.names.fold_dead_letter_queue)
    return [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] for q in queues]


def lag_metrics(stack: Stack, config: StackConfig) -> list:
    """Lambda's own ages of what no queue counts (status's lags, stack/lag.py): the fold's
    IteratorAge on the fold write path, the tracker's AsyncEventAge on the direct route."""
    names, found = stack.names, []
    if config.write_path == "fold":
        found.append(["AWS/Lambda", "IteratorAge", "FunctionName", names.function("fold")])
    if config.delivery == "direct":
        tracker = names.function("size-tracking")
        found.append(["AWS/Lambda", "AsyncEventAge", "FunctionName", tracker])
    return found


def body(stack: Stack, config: StackConfig) -> dict:
    region, names = config.region, stack.names
    buckets = buckets_of(config)

    def tracker(metric: str) -> list:
        return [["s3sizer", metric, "Bucket", b] for b in buckets]

    def metric_widget(title: str, metrics: list, x: int, y: int, **extra) -> dict:
        properties = {"title": title, "region": region, "metrics": metrics, "view": "timeSeries"}
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": properties | extra,
        }

    s3_daily = [
        ["AWS/S3", "BucketSizeBytes", "BucketName", b, "StorageType", t]
        for b in buckets
        for t in S3_STORAGE_TYPES
    ]
    top = "\n".join(
        f"* `s3sizer --stack {names.stack} status --by-prefix` (add `--bucket {b}`)"
        if len(buckets) > 1
        else f"* `s3sizer --stack {names.stack} status --by-prefix`"
        for b in buckets
    )
    markdown = (
        f"## s3sizer stack {names.stack}\n"
        f"The largest prefixes, the breakdown (noncurrent versions, delete markers, unfinished "
        f"uploads) and the monthly cost are not CloudWatch metrics:\n{top}\n"
        f"* `s3sizer --stack {names.stack} status` (the breakdown and the cost)\n"
        "* `s3sizer metrics`: the same figures for Prometheus, per prefix and per state"
    )
    widgets = [
        metric_widget(
            "Size (bytes, s3sizer, exact)",
            tracker("BucketSizeBytes"),
            0,
            0,
            stat="Maximum",
            period=60,
        ),
        metric_widget(
            "Objects (s3sizer, exact)", tracker("NumberOfObjects"), 12, 0, stat="Maximum", period=60
        ),
        metric_widget(
            "S3's daily storage by type (bytes, billed)",
            s3_daily,
            0,
            6,
            stat="Average",
            period=86400,
        ),
        metric_widget(
            "Dead letters (events the tracker, and stream batches the fold, could not apply)"
            if config.write_path == "fold"
            else "Dead letters (events the tracker could not apply)",
            dead_letter_metrics(stack, config),
            12,
            6,
            stat="Maximum",
            period=60,
        ),
    ]
    lags = lag_metrics(stack, config)
    if lags:
        title = "Lag (ms, the most a minute): the fold behind the stream; events in Lambda's queue"
        widgets.append(metric_widget(title, lags, 0, 12, stat="Maximum", period=60))
    widgets.append(
        {
            "type": "text",
            "x": 0,
            "y": 18 if lags else 12,
            "width": 24,
            "height": 4,
            "properties": {"markdown": markdown},
        }
    )
    return {"widgets": widgets}


def existing_body(stack: Stack) -> dict | None:
    cloudwatch = stack.client("cloudwatch")
    try:
        got = cloudwatch.get_dashboard(DashboardName=stack.names.dashboard)
    except cloudwatch.exceptions.ResourceNotFound:
        return None
    return json.loads(got.get("DashboardBody") or "{}")


def deploy_steps(stack: Stack, config: StackConfig) -> list[st.Step]:
    wanted = body(stack, config)
    if existing_body(stack) == wanted:
        return []
    return [st.PutDashboard(stack.names.dashboard, json.dumps(wanted, sort_keys=True))]


def teardown_steps(stack: Stack) -> list[st.Step]:
    if existing_body(stack) is None:
        return []
    return [st.DeleteDashboard(stack.names.dashboard)]
