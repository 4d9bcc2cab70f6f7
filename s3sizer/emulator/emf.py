"""CloudWatch Embedded Metric Format: metrics taken from a Lambda function's log lines.

On AWS, CloudWatch Logs turns each log event of a Lambda function that is an EMF document into
metric datapoints. The emulator does the same for the lines its runtime writes, putting them in
moto's CloudWatch backend, so GetMetricData and GetMetricStatistics return them.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("s3sizer.emulator")


def datapoints(message: str) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, PutMetricData datum) for each metric an EMF document declares; [] otherwise."""
    text = message.strip()
    if not (text.startswith("{") and '"_aws"' in text):
        return []
    try:
        document = json.loads(text)
        metadata = document["_aws"]
        moment = datetime.fromtimestamp(int(metadata["Timestamp"]) / 1000, UTC)
        directives = metadata["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for directive in directives:
        namespace = directive.get("Namespace")
        if not namespace:
            continue
        for dimension_set in directive.get("Dimensions") or [[]]:
            if any(name not in document for name in dimension_set):
                continue  # EMF rejects a dimension without a value
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in directive.get("Metrics", []):
                value = document.get(metric.get("Name"))
                values = value if isinstance(value, list) else [value]
                if not values or not all(_is_number(v) for v in values):
                    continue
                datum = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": moment,
                    "Unit": metric.get("Unit", "None"),
                    "StorageResolution": int(metric.get("StorageResolution", 60)),
                }
                if len(values) == 1:
                    datum["Value"] = float(values[0])
                else:
                    datum["Values"] = [float(v) for v in values]
                found.append((namespace, datum))
    return found


def put_metrics(account_id: str, region: str, messages: Iterable[str]) -> None:
    """Put the datapoints of every EMF document among the messages into moto's CloudWatch."""
    for namespace, datum in (point for message in messages for point in datapoints(message)):
        store(account_id, region, namespace, datum)


def store(account_id: str, region: str, namespace: str, datum: dict[str, Any]) -> None:
    """One PutMetricData datum into moto's CloudWatch, as the service would store it."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.utils import utcnow

    if utcnow().tzinfo is None:  # moto compares timestamps as it stores its own
        datum = {**datum, "Timestamp": datum["Timestamp"].replace(tzinfo=None)}
    try:
        cloudwatch_backends[account_id][region].put_metric_data(namespace, [datum])
    except Exception as error:
        logger.warning("a metric could not be stored: %s", error)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
