"""A small model of one S3 bucket, and the notifications S3 sends for each change to it.

It follows S3's documented semantics (S3 user guide: "Using versioning in S3 buckets",
"Deleting objects from versioning-suspended buckets", "Expiring objects", "Configuring S3
Lifecycle event notifications"; EventBridge: "Using EventBridge", "ev-events"):

- a bucket starts unversioned; once versioning is enabled it is enabled or suspended, never
  unversioned again;
- unversioned: a put replaces the key's only version (``null``), a delete removes it;
- enabled: a put adds a version with a fresh id; a delete without a version id adds a delete
  marker with a fresh id (even over a marker, even for a key that never existed);
- suspended: a put, and a delete without a version id, replace the key's ``null`` version
  (object or marker) with a new ``null`` object or ``null`` delete marker on top;
- a delete of a specific version removes it for good; when it was the current version (a
  delete marker, say), the version under it becomes current;
- lifecycle: expiring a current object removes it (unversioned) or adds a delete marker
  (``null`` when suspended); a noncurrent version expires for good; a delete marker with no
  other version (an expired object delete marker) is removed.

Each change produces one ``Notice``: what S3 sends, rendered as a classic notification record
(key URL-encoded with ``quote_plus``, no size on deletes) or as an EventBridge event (key as
stored, whole-second time). Records name a version only once the bucket has been versioned
(``null`` for null versions). Sequencers increase per key, with varying lengths and trailing
zeros (AWS: right-pad the shorter with zeros, then compare).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

from . import events

UNVERSIONED, ENABLED, SUSPENDED = "unversioned", "enabled", "suspended"
NULL = "null"
# How each kind of create is named: the classic event name's suffix and EventBridge's reason.
CREATES = [
    ("Put", "PutObject"),
    ("Post", "POST Object"),
    ("Copy", "CopyObject"),
    ("CompleteMultipartUpload", "CompleteMultipartUpload"),
]
OPERATIONS = [
    "put",
    "delete",  # DeleteObject without a version id
    "delete-version",  # DeleteObject of one version (object or delete marker)
    "expire-current",  # lifecycle Expiration (Days/Date) of the current version
    "expire-noncurrent",  # lifecycle NoncurrentVersionExpiration
    "expire-marker",  # lifecycle ExpiredObjectDeleteMarker
    "enable",  # PutBucketVersioning Enabled
    "suspend",  # PutBucketVersioning Suspended
    "transition",  # a lifecycle Transition of one object version to a later storage class
]
# The classes a put may ask for, in S3's lifecycle waterfall order: a transition only moves a
# version to a later one (S3 user guide, "Transitioning objects using Amazon S3 Lifecycle").
CLASSES = [
    "STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER",
    "DEEP_ARCHIVE",
]  # fmt: skip
_MIN_SIZE_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")
_SEQ_DIGITS = 20
_SEQ_START = 0x0055AED6DCD9 << 32  # leading zeros are significant: sequencers are hex fractions
_START_MS = int(datetime(2026, 11, 24, 21, 6, 5, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Version:
    vid: str
    marker: bool
    size: int = 0
    cls: str = "STANDARD"


@dataclass(frozen=True)
class Notice:
    """One change as S3 reports it."""

    key: str
    version_id: str | None  # None: the bucket has never been versioned, no version in the record
    what: str  # "created", "marker" (a delete marker was created) or "gone" (deleted for good)
    size: int | None  # only on creates
    name: str  # the classic event name without "s3:", e.g. "LifecycleExpiration:Delete"
    reason: str  # EventBridge's reason
    sequencer: str  # upper-case hex, as in notification records
    time_ms: int
    cls: str | None = None  # a transition's class (EventBridge names it; a record does not)

    def s3_record(self, bucket: str) -> dict:
        when = datetime.fromtimestamp(self.time_ms / 1000, UTC)
        return events.record(
            self.name,
            bucket,
            self.key,
            self.sequencer,
            size=self.size,
            version_id=self.version_id,
            event_time=when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.time_ms % 1000:03d}Z",
        )

    def eventbridge(self, bucket: str) -> dict:
        deletion = {"marker": "Delete Marker Created", "gone": "Permanently Deleted"}
        if self.what == "transition":  # "Object Storage Class Changed": no sequencer
            event = events.eventbridge(
                bucket, self.key, "0", size=self.size, version_id=self.version_id,
                time=datetime.fromtimestamp(self.time_ms // 1000, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            )  # fmt: skip
            del event["detail"]["object"]["sequencer"], event["detail"]["reason"]
            event["detail-type"] = "Object Storage Class Changed"
            event["detail"]["destination-storage-class"] = self.cls
            return event
        return events.eventbridge(
            bucket,
            self.key,
            self.sequencer.lower(),  # AWS's EventBridge example shows lower-case hex
            size=self.size,
            version_id=self.version_id,
            deletion_type=deletion.get(self.what),
            reason=self.reason,
            time=datetime.fromtimestamp(self.time_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


@dataclass(frozen=True)
class Op:
    kind: str  # one of OPERATIONS
    key: str
    size: int = 0
    pick: int = 0  # which version a version delete or noncurrent expiration takes; create kind
    gap_ms: int = 0  # time since the previous operation
    seq_step: int = 1  # how far the key's sequencer moves
    seq_zeros: int = 0  # trailing zeros written after the sequencer's significant digits
    cls_pick: int = 0  # a put's storage class (CLASSES), or how far a transition moves


class ModelBucket:
    def __init__(self):
        self.state = UNVERSIONED
        self.stacks: dict[str, list[Version]] = {}  # each key's versions, oldest first
        self.notices: list[Notice] = []
        self._sequencers: dict[str, int] = {}
        self._ids = count(1)
        self._clock_ms = _START_MS
        # Each version's classes, oldest first, with the notice that made each one.
        self.class_history: dict[tuple[str, str], list[tuple[Notice, str]]] = {}

    def class_of(self, key: str, version_id: str) -> str | None:
        """What HeadObject answers now: the version's class, None when it is gone (or a
        marker: 405)."""
        for version in self.stacks.get(key, []):
            if version.vid == version_id and not version.marker:
                return version.cls
        return None

    def version_ids(self) -> dict[str, set[str]]:
        """Per key, the ids of the versions and delete markers it holds now."""
        return {key: {v.vid for v in stack} for key, stack in self.stacks.items()}

    def class_seen(self, key: str, version_id: str, sent: set, pick) -> str | None:
        """What a HeadObject made at some time after the notices ``sent`` may answer: any class
        the version had since the last of them that changed it (``pick`` chooses); None once
        it is gone."""
        if self.class_of(key, version_id) is None:
            return None
        history = self.class_history[key, version_id]
        since = max((i for i, (notice, _) in enumerate(history) if notice in sent), default=0)
        return pick([cls for _, cls in history[since:]])

    def classes(self) -> dict[str, list[int]]:
        """Per class other than STANDARD, as ListObjectVersions shows it: current bytes,
        noncurrent bytes, current objects, noncurrent versions, and the 128 KB minimum's
        padding of the infrequent-access classes."""
        out: dict[str, list[int]] = {}
        for stack in self.stacks.values():
            for i, v in enumerate(stack):
                if v.marker or v.cls == "STANDARD":
                    continue
                mine = out.setdefault(v.cls, [0] * 5)
                current = i == len(stack) - 1
                mine[0 if current else 1] += v.size
                mine[2 if current else 3] += 1
                if v.cls in _MIN_SIZE_CLASSES:
                    mine[4] += max(128 * 1024 - v.size, 0)
        return out

    def listing(self) -> dict[str, int]:
        """What ListObjectsV2 shows: each key whose current version is an object, its size."""
        return {k: s[-1].size for k, s in self.stacks.items() if s and not s[-1].marker}

    def play(self, op: Op) -> Notice | None:
        self._clock_ms += op.gap_ms
        notice = self._change(op)
        if notice is not None:
            self.notices.append(notice)
        return notice

    def _change(self, op: Op) -> Notice | None:
        stack = self.stacks.setdefault(op.key, [])
        current = stack[-1] if stack else None
        # An expired object delete marker: a delete marker with no other version under it.
        lone_marker = len(stack) == 1 and stack[0].marker
        if op.kind == "enable":
            self.state = ENABLED
        elif op.kind == "suspend" and self.state != UNVERSIONED:
            self.state = SUSPENDED
        elif op.kind == "put":
            suffix, reason = CREATES[op.pick % len(CREATES)]
            cls = CLASSES[op.cls_pick % len(CLASSES)]
            vid = self._push(stack, marker=False, size=op.size, cls=cls)
            notice = self._notice(op, vid, "created", f"ObjectCreated:{suffix}", reason, op.size)
            self.class_history[op.key, vid] = [(notice, cls)]
            return notice
        elif op.kind == "transition":
            # Versions other than "null" only: EventBridge's whole-second time cannot tell a
            # transition of a "null" version from a rewrite of it in the same second.
            objects = [v for v in stack if not v.marker and v.vid != NULL]
            if not objects:
                return None
            moved = objects[op.pick % len(objects)]
            later = CLASSES.index(moved.cls) + 1 + op.cls_pick % 3
            if later >= len(CLASSES):
                return None
            stack[stack.index(moved)] = Version(moved.vid, False, moved.size, CLASSES[later])
            notice = self._notice(
                op, moved.vid, "transition", "LifecycleTransition", "", moved.size
            )
            notice = Notice(**{**vars(notice), "cls": CLASSES[later]})
            self.class_history[op.key, moved.vid].append((notice, CLASSES[later]))
            return notice
        elif op.kind == "delete":
            if self.state == UNVERSIONED:
                stack.clear()  # S3 answers 204 and notifies whether or not the key existed
                return self._notice(op, None, "gone", "ObjectRemoved:Delete", "DeleteObject")
            vid = self._push(stack, marker=True)
            return self._notice(
                op, vid, "marker", "ObjectRemoved:DeleteMarkerCreated", "DeleteObject"
            )
        elif op.kind == "delete-version" and self.state != UNVERSIONED and stack:
            gone = stack.pop(op.pick % len(stack))
            return self._notice(op, gone.vid, "gone", "ObjectRemoved:Delete", "DeleteObject")
        elif op.kind == "expire-current" and current is not None and not current.marker:
            if self.state == UNVERSIONED:
                stack.clear()
                return self._notice(
                    op, None, "gone", "LifecycleExpiration:Delete", "Lifecycle Expiration"
                )
            vid = self._push(stack, marker=True)
            return self._notice(
                op, vid, "marker", "LifecycleExpiration:DeleteMarkerCreated", "Lifecycle Expiration"
            )
        elif op.kind == "expire-noncurrent" and self.state != UNVERSIONED and len(stack) > 1:
            gone = stack.pop(op.pick % (len(stack) - 1))
            return self._notice(
                op, gone.vid, "gone", "LifecycleExpiration:Delete", "Lifecycle Expiration"
            )
        elif op.kind == "expire-marker" and self.state != UNVERSIONED and lone_marker:
            stack.pop()
            return self._notice(
                op, current.vid, "gone", "LifecycleExpiration:Delete", "Lifecycle Expiration"
            )
        return None

    def _push(self, stack: list[Version], *, marker: bool, size: int = 0, cls="STANDARD") -> str:
        """A new current version; unversioned and suspended buckets replace the null version."""
        if self.state == ENABLED:
            vid = f"{'m' if marker else 'v'}{next(self._ids)}.{'x' * 24}"
        else:
            vid = NULL
            stack[:] = [v for v in stack if v.vid != NULL]
        stack.append(Version(vid, marker, size, cls))
        return vid

    def _notice(self, op: Op, vid, what, name, reason, size=None) -> Notice:
        value = self._sequencers.get(op.key, _SEQ_START) + op.seq_step
        self._sequencers[op.key] = value
        digits = f"{value:0{_SEQ_DIGITS}X}".rstrip("0") + "0" * op.seq_zeros
        version = None if self.state == UNVERSIONED else vid
        return Notice(op.key, version, what, size, name, reason, digits, self._clock_ms)
