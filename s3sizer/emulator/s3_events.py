"""S3 event notification documents, shaped as AWS documents them.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote_plus

REMOVAL_PREFIXES = ("s3:ObjectRemoved:", "s3:LifecycleExpiration:")
LIFECYCLE_PREFIXES = ("s3:LifecycleExpiration:", "s3:LifecycleTransition")
TRANSITION = "s3:LifecycleTransition"
# Lifecycle's changes are S3's own: its records name S3 as principal, requester and source
# (lifecycle-configure-notification and ev-events show it), with eventVersion 2.3.
S3_ITSELF = "s3.amazonaws.com"
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"  # a delete marker's: the MD5 of no bytes

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
EVENTBRIDGE_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}


@dataclass(frozen=True)
class ObjectChange:
    """One change of one key, captured while S3 applies it, then sent to every matching target."""

    event_name: str  # as configured, with the "s3:" prefix, e.g. "s3:ObjectCreated:Put"
    account_id: str
    region: str
    bucket_name: str
    bucket_arn: str
    key: str  # decoded, as stored
    size: int | None
    etag: str | None
    version_id: str | None  # only for versioned buckets
    sequencer: str
    event_time: str
    source_ip: str
    request_id: str
    host_id: str
    storage_class: str | None = None  # the class a lifecycle transition moved the object to

    @property
    def is_removal(self) -> bool:
        return self.event_name.startswith(REMOVAL_PREFIXES)

    @property
    def by_lifecycle(self) -> bool:
        return self.event_name.startswith(LIFECYCLE_PREFIXES)


class Sequencer:
    """Upper-case hex values that grow with every change.

    One counter for every key is simpler than one per key and still gives each key an increasing
    sequence. It starts from the clock, so values keep growing across emulator restarts, and all
    have 16 digits, so hex strings compare like the numbers they encode.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:016X}"


def event_time(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with millisecond precision and a 'Z', e.g. 2026-11-24T21:06:05.123Z."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


def new_host_id() -> str:
    return base64.b64encode(secrets.token_bytes(57)).decode()


def owner_principal_id(account_id: str) -> str:
    """A stable stand-in for the bucket owner's canonical id, derived from the account."""
    return "A" + hashlib.sha256(account_id.encode()).hexdigest()[:13].upper()


def object_record(change: ObjectChange, configuration_id: str) -> dict:
    # Slashes stay as they are and spaces become '+', as in AWS's events (unquote_plus decodes).
    s3_object: dict = {"key": quote_plus(change.key, safe="/")}
    if not change.is_removal:
        # AWS leaves size and eTag out of removal events.
        s3_object["size"] = change.size
        s3_object["eTag"] = change.etag
    if change.version_id is not None:
        s3_object["versionId"] = change.version_id
    s3_object["sequencer"] = change.sequencer
    lifecycle = change.by_lifecycle
    return {
        "eventVersion": "2.3" if lifecycle else "2.1",
        "eventSource": "aws:s3",
        "awsRegion": change.region,
        "eventTime": change.event_time,
        "eventName": change.event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": S3_ITSELF if lifecycle else f"AWS:{change.account_id}"},
        "requestParameters": {"sourceIPAddress": S3_ITSELF if lifecycle else change.source_ip},
        "responseElements": {
            "x-amz-request-id": change.request_id,
            "x-amz-id-2": change.host_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": change.bucket_name,
                "ownerIdentity": {"principalId": owner_principal_id(change.account_id)},
                "arn": change.bucket_arn,
            },
            "object": s3_object,
        },
    }


def event_document(change: ObjectChange, configuration_id: str) -> dict:
    return {"Records": [object_record(change, configuration_id)]}


def test_event(bucket_name: str) -> dict:
    """The message S3 sends when a notification configuration is written: no Records."""
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": event_time(),
        "Bucket": bucket_name,
        "RequestId": new_request_id(),
        "HostId": new_host_id(),
    }


def eventbridge_event(change: ObjectChange, event_id: str) -> dict | None:
    """The EventBridge event S3 sends for this change, or None if it sends none.

    The key is NOT URL-encoded, unlike in notification records: an event S3 sent to EventBridge
    (a public capture, key "raw/health-check/2023-08-08T14:03:40.532432.zip") keeps ':' as is,
    where a notification record encodes it as %3A. Deletes carry no size; a delete marker's etag
    is the empty object's.
    """
    if change.event_name == TRANSITION:
        return _storage_class_changed(change, event_id)
    reason = EVENTBRIDGE_REASONS.get(change.event_name)
    if reason is None:
        return None
    s3_object: dict = {"key": change.key}
    if not change.is_removal:
        s3_object["size"] = change.size
    etag = EMPTY_ETAG if change.event_name.endswith("DeleteMarkerCreated") else change.etag
    if etag is not None:
        s3_object["etag"] = etag
    if change.version_id is not None:
        s3_object["version-id"] = change.version_id
    s3_object["sequencer"] = change.sequencer
    detail: dict = {
        "version": "0",
        "bucket": {"name": change.bucket_name},
        "object": s3_object,
        "request-id": change.request_id,
        "requester": S3_ITSELF if change.by_lifecycle else change.account_id,
        "source-ip-address": change.source_ip,
        "reason": reason,
    }
    if change.by_lifecycle:
        del detail["source-ip-address"]  # no request caused it
    if change.is_removal:
        marker = change.event_name.endswith("DeleteMarkerCreated")
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Deleted" if change.is_removal else "Object Created",
        "source": "aws.s3",
        "account": change.account_id,
        "time": change.event_time[:19] + "Z",  # EventBridge's time has whole seconds
        "region": change.region,
        "resources": [change.bucket_arn],
        "detail": detail,
    }


def _storage_class_changed(change: ObjectChange, event_id: str) -> dict:
    """ "Object Storage Class Changed" (ev-events): S3 as requester, the class moved to, and no
    sequencer, reason or source address."""
    s3_object: dict = {"key": change.key, "size": change.size, "etag": change.etag}
    if change.version_id is not None:
        s3_object["version-id"] = change.version_id
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Storage Class Changed",
        "source": "aws.s3",
        "account": change.account_id,
        "time": change.event_time[:19] + "Z",
        "region": change.region,
        "resources": [change.bucket_arn],
        "detail": {
            "version": "0",
            "bucket": {"name": change.bucket_name},
            "object": s3_object,
            "request-id": change.request_id,
            "requester": S3_ITSELF,
            "destination-storage-class": change.storage_class,
        },
    }
