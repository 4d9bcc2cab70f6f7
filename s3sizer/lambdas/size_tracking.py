"""The size-tracking function: apply each S3 event record to the history table.

S3 delivers at least once, possibly out of order, so each record is applied on its own through
``History.apply``, which uses the key's sequencer to drop duplicates and stale records. Records
nobody can apply are logged and counted, never allowed to fail the batch; DynamoDB errors do
fail it, so that Lambda retries the whole event (applied records then come back as duplicates).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from urllib.parse import unquote_plus

import boto3

from . import history

logger = logging.getLogger(__name__)

DEFAULT_IGNORE_PREFIX = ".s3sizer/"
CREATED, REMOVED = "ObjectCreated", ("ObjectRemoved", "LifecycleExpiration")
# Families S3 may send that never change what a listing shows: counted, never applied.
NO_SIZE_CHANGE = frozenset(
    {
        "ObjectRestore",
        "Replication",
        "LifecycleTransition",
        "IntelligentTiering",
        "ObjectTagging",
        "ObjectAcl",
    }
)
# DynamoDB caps a sort key at 1024 bytes, and the key item's sort key is "K#" + the key.
_MAX_KEY_BYTES = 1024 - len(history.KEY_PREFIX)


@dataclass(frozen=True)
class Change:
    """One record that changes a key: ``size`` is None when the key is gone."""

    bucket: str
    key: str
    sequencer: str
    size: int | None
    event: str
    version_id: str | None


@dataclass(frozen=True)
class Skip:
    outcome: str  # "ignored" or "rejected"
    reason: str


def parse_record(record, *, ignore_prefix: str = DEFAULT_IGNORE_PREFIX) -> Change | Skip:
    """What one S3 event record asks for, or why it is skipped. Never raises."""
    try:
        name = record["eventName"]
        family = name.removeprefix("s3:").split(":", 1)[0]
        if family in NO_SIZE_CHANGE:
            return Skip("ignored", f"{name} does not change the size")
        if family != CREATED and family not in REMOVED:
            return Skip("rejected", f"unknown event family {name!r}")
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
        sequencer = obj["sequencer"]
        version_id = obj.get("versionId")
    except (KeyError, TypeError, AttributeError) as err:
        return Skip("rejected", f"malformed record: missing or invalid {err}")
    if not isinstance(bucket, str) or not bucket:
        return Skip("rejected", f"malformed record: bucket name {bucket!r}")
    if ignore_prefix and key.startswith(ignore_prefix):
        return Skip("ignored", f"{key!r} is under s3sizer's own prefix {ignore_prefix!r}")
    if len(key.encode()) > _MAX_KEY_BYTES:
        return Skip("rejected", f"key of {len(key.encode())} bytes is too long to index")
    if not history.is_sequencer(sequencer):
        return Skip("rejected", f"sequencer {sequencer!r} is not hexadecimal")
    if version_id is not None and not isinstance(version_id, str):
        return Skip("rejected", f"malformed record: versionId {version_id!r}")
    size = None
    if family == CREATED:
        size = obj.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return Skip("rejected", f"{name} of {key!r} carries no valid size ({size!r})")
    return Change(bucket, key, sequencer, size, name, version_id)


def apply_event(history: history.History, event, *, ignore_prefix: str) -> dict:
    """Apply every record of one S3 event; the counts of each outcome."""
    counts = dict.fromkeys(("applied", "duplicate", "stale", "ignored", "rejected"), 0)
    records = event.get("Records", []) if isinstance(event, dict) else None
    if not isinstance(records, list):  # s3:TestEvent has no Records: nothing to do
        logger.warning("rejected event: Records is not a list")
        counts["rejected"] += 1
        return counts
    for record in records:
        change = parse_record(record, ignore_prefix=ignore_prefix)
        if isinstance(change, Skip):
            if change.outcome == "rejected":
                logger.warning("rejected record: %s", change.reason)
            counts[change.outcome] += 1
            continue
        outcome = history.apply(
            change.bucket,
            change.key,
            change.sequencer,
            change.size,
            event=change.event,
            version_id=change.version_id,
        )
        counts[outcome] += 1
    return counts


@functools.cache
def _config() -> tuple[history.History, str]:
    """Built once per warm container: the client and the settings from the environment."""
    table = os.environ.get("TABLE_NAME")
    if not table:
        raise RuntimeError("TABLE_NAME is not set: the size-tracking function needs its table")
    ttl = os.environ.get("HISTORY_TTL_DAYS", "0") or "0"
    try:
        ttl_days = float(ttl)
    except ValueError:
        raise RuntimeError(f"HISTORY_TTL_DAYS must be a number of days, not {ttl!r}") from None
    hist = history.History(table, boto3.client("dynamodb"), ttl_days=ttl_days)
    return hist, os.environ.get("IGNORE_PREFIX", DEFAULT_IGNORE_PREFIX)


def handler(event, context):
    hist, ignore_prefix = _config()
    counts = apply_event(hist, event, ignore_prefix=ignore_prefix)
    logger.info("records: %s", counts)
    return counts
