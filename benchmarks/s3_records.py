"""S3 event notifications shaped as AWS sends them: the minimum of tests/lambdas/events.py.

Copied rather than imported so that the benchmark does not depend on the test suite's layout.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote_plus


def record(bucket: str, key: str, sequencer: str, size: int | None) -> dict:
    """ObjectCreated:Put when ``size`` is given, ObjectRemoved:Delete when it is None."""
    obj: dict = {"key": quote_plus(key, safe="/"), "sequencer": sequencer}
    if size is not None:
        obj["size"] = size
        obj["eTag"] = hashlib.md5(f"{key}{size}".encode(), usedforsecurity=False).hexdigest()
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T21:06:05.123Z",
        "eventName": "ObjectCreated:Put" if size is not None else "ObjectRemoved:Delete",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLEPRINCIPAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3sizer-size-tracking",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def envelope(*records: dict) -> dict:
    return {"Records": list(records)}
