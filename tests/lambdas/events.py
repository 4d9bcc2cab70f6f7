"""Build S3 event records shaped exactly as AWS documents them (notification-content-structure).

Keys are URL-encoded as S3 sends them ("red flower.jpg" arrives as "red+flower.jpg"), removals
carry neither size nor eTag, and sequencers are upper-case hex.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from urllib.parse import quote_plus

REGION = "us-east-1"


def record(
    event_name: str,
    bucket: str,
    key: str,
    sequencer: str,
    *,
    size: int | None = None,
    version_id: str | None = None,
    event_time: str = "2026-11-24T21:06:05.123Z",
) -> dict:
    """One record; ``key`` is the decoded key, encoded here the way S3 encodes it."""
    obj: dict = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
        obj["eTag"] = hashlib.md5(f"{key}{size}".encode()).hexdigest()
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLEPRINCIPAL"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
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


def created(bucket, key, size, sequencer, *, kind="Put", version_id=None, **kw) -> dict:
    return record(
        f"ObjectCreated:{kind}", bucket, key, sequencer, size=size, version_id=version_id, **kw
    )


def removed(bucket, key, sequencer, *, kind="Delete", version_id=None, **kw) -> dict:
    return record(f"ObjectRemoved:{kind}", bucket, key, sequencer, version_id=version_id, **kw)


def envelope(*records: dict) -> dict:
    return {"Records": list(records)}


def test_event(bucket: str) -> dict:
    """What S3 sends once when a notification is configured: no Records at all."""
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-24T21:06:05.123Z",
        "Bucket": bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }


test_event.__test__ = False  # a builder, not a pytest test


def sequencer(n: int, trim: int = 0) -> str:
    """The n-th sequencer of one key: real hex, possibly shortened by up to 4 trailing zeros.

    Every value ends in four zeros, so dropping some of them gives a shorter string that still
    compares right under AWS's rule (right-pad the shorter with zeros, then compare).
    """
    assert 0 <= trim <= 4
    full = f"{0x0055AED6DCD9 + n:012X}0000"
    return full[: len(full) - trim]


def eventbridge(
    bucket: str,
    key: str,
    sequencer: str,
    *,
    size: int | None = None,
    version_id: str | None = None,
    deletion_type: str | None = None,
    reason: str | None = None,
    time: str = "2026-11-24T21:06:05Z",
) -> dict:
    """One EventBridge event from S3, as AWS documents it (ev-events): a create when ``size`` is
    given, else a delete of ``deletion_type``. Keys are URL-encoded as in S3's notifications, and
    ``time`` has whole seconds."""
    obj: dict = {"key": key}  # as stored: EventBridge does not URL-encode it
    if size is not None:
        obj["size"] = size
        obj["etag"] = hashlib.md5(f"{key}{size}".encode()).hexdigest()
    if version_id is not None:
        obj["version-id"] = version_id
    obj["sequencer"] = sequencer
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.7",
    }
    if size is not None:
        detail["reason"] = reason or "PutObject"
        detail_type = "Object Created"
    else:
        detail["reason"] = reason or "DeleteObject"
        detail["deletion-type"] = deletion_type or "Permanently Deleted"
        detail_type = "Object Deleted"
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }


_MESSAGE_IDS = itertools.count(1)


def sqs(*bodies: dict) -> dict:
    """An SQS batch as the event source mapping hands it to the function, one body per message."""
    out = []
    for body in bodies:
        n = next(_MESSAGE_IDS)
        out.append(
            {
                "messageId": f"00000000-0000-4000-8000-{n:012d}",
                "receiptHandle": f"AQEB{n:08d}",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795640765123",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1795640765130",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(json.dumps(body).encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:s3sizer-events",
                "awsRegion": REGION,
            }
        )
    return {"Records": out}


def message_ids(batch: dict) -> list[str]:
    return [m["messageId"] for m in batch["Records"]]
