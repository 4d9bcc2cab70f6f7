"""What the size-tracking function receives, turned into changes of keys. Pure: no I/O.

Three shapes arrive (see docs/tracking.md): a direct S3 event, an SQS batch whose bodies are S3
notifications, and an SQS batch whose bodies are EventBridge events from S3. Each record becomes
a ``Change`` or a ``Skip`` (ignored: changes nothing a listing shows; rejected: can never apply).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from . import versions as v
from .own_keys import is_own_object, own_bucket_from_environment

IGNORED, REJECTED = "ignored", "rejected"
_HEX = re.compile(r"[0-9A-Fa-f]+")
_MAX_KEY_BYTES = 1024  # S3's own limit: anything longer did not come from S3
CREATED, REMOVED = "ObjectCreated", ("ObjectRemoved", "LifecycleExpiration")
# A lifecycle transition moves a version to another storage class: it changes no size, only
# the class, which the tracker follows for buckets whose classes it tracks (else: ignored).
TRANSITION = "LifecycleTransition"
EB_CLASS_CHANGED = "Object Storage Class Changed"
# Families that never change what a listing shows: counted, never applied.
NO_SIZE_CHANGE = frozenset(
    {
        "ObjectRestore",
        "Replication",
        "IntelligentTiering",
        "ObjectTagging",
        "ObjectAcl",
    }
)
EB_CREATED, EB_DELETED = "Object Created", "Object Deleted"
EB_MARKER, EB_PERMANENT = "Delete Marker Created", "Permanently Deleted"


@dataclass(frozen=True)
class Change:
    """One record that changes a key's version ``version_id`` ("null" when unversioned)."""

    bucket: str
    key: str
    version_id: str
    kind: str  # versions.OBJECT (created), MARKER (delete marker) or GONE (deleted for good)
    seq: str  # normalised sequencer (versions.normalise)
    size: int  # 0 unless kind is OBJECT
    event: str
    time: float = 0.0  # the event's time (s since the epoch); orders a batch's records
    # A transition's class (EventBridge names it; a notification record does not: None, and
    # the tracker looks the version up).
    cls: str | None = None
    # The record named its version: False only for a bucket never versioned, whose objects are
    # looked up without a version id (S3 knows them as the current object).
    named: bool = True


@dataclass(frozen=True)
class Skip:
    outcome: str  # IGNORED or REJECTED
    reason: str


@dataclass
class Message:
    """The changes of one SQS message (or of a whole direct event: ``id`` None)."""

    id: str | None
    changes: list[Change] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


def is_sequencer(s: object) -> bool:
    return isinstance(s, str) and _HEX.fullmatch(s) is not None


def compare_sequencers(a: str, b: str) -> int:
    """-1, 0 or 1, the way AWS documents it: right-pad the shorter with '0', then compare.

    ``""`` pads to zeros. Anything else that is not hex raises ValueError.
    """
    for s in (a, b):
        if s != "" and not is_sequencer(s):
            raise ValueError(f"sequencer {s!r} is not hexadecimal")
    a, b = v.normalise(a), v.normalise(b)
    return (a > b) - (a < b)


def _epoch(text: object) -> float:
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _checked(
    bucket, key, version_id, sequencer, kind, size, event, time, cls=None
) -> Change | Skip:
    if not isinstance(bucket, str) or not bucket:
        return Skip(REJECTED, f"malformed record: bucket name {bucket!r}")
    if not isinstance(key, str) or not key:
        return Skip(REJECTED, f"malformed record: key {key!r}")
    if is_own_object(bucket, key, own_bucket_from_environment()):
        return Skip(IGNORED, f"{key!r} is written by s3sizer itself")
    if len(key.encode()) > _MAX_KEY_BYTES:
        return Skip(REJECTED, f"key of {len(key.encode())} bytes is longer than S3 allows")
    if kind == v.TRANSIT:
        # EventBridge's transitions carry no sequencer, and a transition's orders nothing
        # against creates and deletes: the class waterfall orders transitions (versions.py).
        sequencer = ""
        if cls is not None and not isinstance(cls, str):
            return Skip(REJECTED, f"malformed record: storage class {cls!r}")
    elif not is_sequencer(sequencer):
        return Skip(REJECTED, f"sequencer {sequencer!r} is not hexadecimal")
    named = version_id is not None  # only a bucket never versioned names no version
    if version_id is None:
        version_id = v.NULL_VERSION
    if not isinstance(version_id, str) or not version_id:
        return Skip(REJECTED, f"malformed record: version id {version_id!r}")
    if kind == v.OBJECT:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return Skip(REJECTED, f"{event} of {key!r} carries no valid size ({size!r})")
    else:
        size = 0
    seq = v.normalise(sequencer)
    return Change(bucket, key, version_id, kind, seq, size, event, time, cls, named)


def parse_s3_record(record) -> Change | Skip:
    """One record of an S3 notification (``eventName``, ``s3.object``...). Never raises."""
    try:
        name = record["eventName"]
        family = name.removeprefix("s3:").split(":", 1)[0]
        if family in NO_SIZE_CHANGE:
            return Skip(IGNORED, f"{name} does not change the size")
        if family != CREATED and family not in REMOVED and family != TRANSITION:
            return Skip(REJECTED, f"unknown event family {name!r}")
        obj = record["s3"]["object"]
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(obj["key"])  # S3 URL-encodes keys: "red flower.jpg" -> "red+flower.jpg"
        sequencer = obj.get("sequencer") if family == TRANSITION else obj["sequencer"]
        version_id = obj.get("versionId")
        size, time = obj.get("size"), _epoch(record.get("eventTime"))
    except (KeyError, TypeError, AttributeError) as err:
        return Skip(REJECTED, f"malformed record: missing or invalid {err}")
    if family == CREATED:
        kind = v.OBJECT
    elif family == TRANSITION:
        kind = v.TRANSIT
    else:
        kind = v.MARKER if name.endswith("DeleteMarkerCreated") else v.GONE
    return _checked(bucket, key, version_id, sequencer, kind, size, name, time)


def parse_eventbridge(event: dict) -> Change | Skip:
    """One EventBridge event from S3 (``detail-type``, ``detail.object``...). Never raises."""
    try:
        detail_type = event["detail-type"]
        if detail_type == EB_CLASS_CHANGED:
            return _class_changed(event)
        if detail_type not in (EB_CREATED, EB_DELETED):
            return Skip(IGNORED, f"{detail_type!r} does not change the size")
        detail = event["detail"]
        obj = detail["object"]
        bucket = detail["bucket"]["name"]
        # URL-encoded as in S3's notifications (docs/tracking.md gives the evidence).
        # Unlike notification records, EventBridge carries the key as stored: a captured event
        # keeps ":" as is where a record has "%3A" (docs/tracking.md gives the evidence).
        key = obj["key"]
        sequencer, version_id = obj["sequencer"], obj.get("version-id")
        size, time = obj.get("size"), _epoch(event.get("time"))
        if detail_type == EB_CREATED:
            kind = v.OBJECT
        elif detail.get("deletion-type") == EB_MARKER:
            kind = v.MARKER
        elif detail.get("deletion-type") == EB_PERMANENT:
            kind = v.GONE
        else:
            return Skip(REJECTED, f"unknown deletion-type {detail.get('deletion-type')!r}")
        name = f"{detail_type}:{detail.get('reason', '?')}"
    except (KeyError, TypeError, AttributeError) as err:
        return Skip(REJECTED, f"malformed EventBridge event: missing or invalid {err}")
    return _checked(bucket, key, version_id, sequencer, kind, size, name, time)


def _class_changed(event: dict) -> Change | Skip:
    """EventBridge's ``Object Storage Class Changed``: ``detail.destination-storage-class``."""
    try:
        detail = event["detail"]
        obj = detail["object"]
        bucket, key = detail["bucket"]["name"], obj["key"]
        cls = detail["destination-storage-class"]
        version_id, size, time = obj.get("version-id"), obj.get("size"), _epoch(event.get("time"))
    except (KeyError, TypeError, AttributeError) as err:
        return Skip(REJECTED, f"malformed EventBridge event: missing or invalid {err}")
    if not isinstance(cls, str) or not cls:
        return Skip(REJECTED, f"malformed EventBridge event: storage class {cls!r}")
    return _checked(bucket, key, version_id, "", v.TRANSIT, size, EB_CLASS_CHANGED, time, cls)


def parse_document(doc) -> list[Change | Skip]:
    """An S3 notification, ``s3:TestEvent`` or EventBridge event, as a message body holds it."""
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return [parse_s3_record(record) for record in doc["Records"]]
    if isinstance(doc, dict) and doc.get("Event") == "s3:TestEvent":
        return [Skip(IGNORED, "s3:TestEvent")]
    if isinstance(doc, dict) and doc.get("source") == "aws.s3" and "detail-type" in doc:
        return [parse_eventbridge(doc)]
    if isinstance(doc, dict) and "requestContext" in doc and "requestPayload" in doc:
        # A direct-route failure record that a redrive moved into the queue: its S3 event.
        return parse_document(doc["requestPayload"])
    return [Skip(REJECTED, "not an S3 notification nor an EventBridge event from S3")]


def is_sqs_batch(event) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def messages(event) -> list[Message]:
    """The messages of an SQS batch, or one message (id None) for any other event."""
    if not is_sqs_batch(event):
        return [_message(None, parse_document(event))]
    out = []
    for record in event["Records"]:
        try:
            doc = json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            doc = None
        out.append(_message(record.get("messageId"), parse_document(doc)))
    return out


def _message(message_id, parsed: list[Change | Skip]) -> Message:
    message = Message(message_id)
    for item in parsed:
        (message.changes if isinstance(item, Change) else message.skips).append(item)
    return message
