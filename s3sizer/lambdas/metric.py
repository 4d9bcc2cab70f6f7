"""The one CloudWatch Embedded Metric Format line per totals write (the tracker's or the fold's)."""

from __future__ import annotations

import json

from . import layout as lay

METRIC_NAMESPACE = "s3sizer"


def metric_line(bucket: str, totals: lay.Totals) -> str:
    """One CloudWatch Embedded Metric Format document: the bucket's totals, high resolution.

    Its timestamp is the totals' ``updated_at``, which every write moves forward by at least
    1 ms, so that a concurrent batch can never make an older total the latest datapoint.
    """
    timestamp = int(lay.parse_iso(totals.updated_at).timestamp() * 1000)
    metrics = [
        {"Name": "BucketSizeBytes", "Unit": "Bytes", "StorageResolution": 1},
        {"Name": "NumberOfObjects", "Unit": "Count", "StorageResolution": 1},
    ]
    document = {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {"Namespace": METRIC_NAMESPACE, "Dimensions": [["Bucket"]], "Metrics": metrics}
            ],
        },
        "Bucket": bucket,
        "BucketSizeBytes": totals.total_size,
        "NumberOfObjects": totals.object_count,
    }
    return json.dumps(document, separators=(",", ":"))
