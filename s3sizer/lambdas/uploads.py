"""The unfinished multipart uploads of tracked buckets, from polling.

S3 sends no event when a multipart upload starts or a part lands, so only listing sees them:
per bucket one ListMultipartUploads per 1,000 open uploads, then one ListParts per 1,000 parts
of each upload, and one PutItem. The requests grow with the open uploads and their parts, never
with the bucket's objects. The figures go into the bucket's ``B#<bucket>`` / ``UPLOADS`` item
(``bytes``, ``uploads``, ``oldest``, ``checked_at``), which `status` and `metrics` read.

The size-tracking function runs a poll of every tracked bucket when EventBridge's schedule
invokes it (`is_scheduled`); `status --refresh-uploads` and `track` run the same poll of one
bucket with the user's session.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from . import layout as lay

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

UPLOADS_SK = "UPLOADS"
# The tracked buckets are listed where the CLI registers them (stack/estate.py): one Query.
REGISTRY_PK, REGISTRY_SK_PREFIX = "STACK", "BUCKET#"
# Buckets polled at once by the scheduled poll, each with up to 8 ListParts at once: every
# request mostly waits on S3 (size_tracking._s3 keeps as many connections).
POLL_WORKERS = 4
# The scheduled poll starts no bucket with less of the invocation left than this (ms), or than
# a quarter of what it had at its start, if less.
RESERVE_MS = 5_000
_BATCH_KEYS = 100  # BatchGetItem takes up to 100 keys


@dataclass(frozen=True)
class Polled:
    """One bucket's unfinished uploads, as one poll found them."""

    bucket: str
    bytes: int
    uploads: int
    oldest: str | None
    checked_at: str
    requests: int  # S3 and DynamoDB requests this poll made, its write included

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "bytes": self.bytes,
            "uploads": self.uploads,
            "oldest": self.oldest,
            "checked_at": self.checked_at,
            "requests": self.requests,
        }


def uploads_address(bucket: str) -> dict:
    return lay.address(lay.bucket_pk(bucket), UPLOADS_SK)


def _is_gone(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "NoSuchUpload"


def poll_bucket(
    s3,
    ddb,
    table: str,
    bucket: str,
    *,
    now=lambda: datetime.now(UTC),
    workers: int = 8,
    while_tracked: bool = False,
) -> Polled:
    """List the bucket's unfinished uploads and their parts (`workers` ListParts at once), and
    write what was found.

    An upload completed or aborted between the listing and its ListParts (NoSuchUpload) is
    no longer unfinished: it is left out. ``checked_at`` is when the listing began; a poll that
    began earlier than the one already written does not overwrite it. ``while_tracked``: the
    write lands only while the bucket's settings item exists (the scheduled poll, which an
    untrack can overtake: its sweep comes after the settings item is deleted).
    """
    checked_at = lay.iso_ms(now())
    listed: list[dict] = []
    requests = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        requests += 1
        listed += page.get("Uploads", [])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda upload: _parts_size(s3, bucket, upload), listed))
    requests += sum(pages for _size, pages in parts)
    held = [
        (upload, size)
        for upload, (size, _pages) in zip(listed, parts, strict=True)
        if size is not None
    ]
    total = sum(size for _upload, size in held)
    oldest = min((upload["Initiated"] for upload, _size in held), default=None)
    item = {
        **uploads_address(bucket),
        "bytes": lay.n(total),
        "uploads": lay.n(len(held)),
        "checked_at": {"S": checked_at},
    }
    if oldest is not None:
        item["oldest"] = {"S": lay.iso_ms(oldest)}
    put = {
        "TableName": table,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(checked_at) OR checked_at <= :at",
        "ExpressionAttributeValues": {":at": {"S": checked_at}},
    }
    try:
        if while_tracked:
            check = {"TableName": table, "Key": lay.settings_address(bucket)}
            check["ConditionExpression"] = "attribute_exists(pk)"
            ddb.transact_write_items(TransactItems=[{"ConditionCheck": check}, {"Put": put}])
        else:
            ddb.put_item(**put)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
        if reasons[:1] == ["ConditionalCheckFailed"]:
            logger.info("uploads of %s: no longer tracked; this poll is dropped", bucket)
        elif code == "TransactionCanceledException" and "ConditionalCheckFailed" not in reasons:
            raise  # a conflict, say: the next poll writes
        else:
            logger.info("uploads of %s: a later poll wrote first; this one is dropped", bucket)
    requests += 1
    found = None if oldest is None else lay.iso_ms(oldest)
    return Polled(bucket, total, len(held), found, checked_at, requests)


def _parts_size(s3, bucket: str, upload: dict) -> tuple[int | None, int]:
    """The bytes of the upload's parts so far (None once it has ended), and the ListParts
    requests it took."""
    size = pages = 0
    paginator = s3.get_paginator("list_parts")
    try:
        for page in paginator.paginate(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        ):
            pages += 1
            size += sum(part["Size"] for part in page.get("Parts", []))
    except ClientError as err:
        if not _is_gone(err):
            raise
        return None, pages + 1
    return size, pages


def tracked_buckets(ddb, table: str) -> list[str]:
    """The buckets the stack tracks: its registry items, one Query (paginated)."""
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :b)",
        "ExpressionAttributeValues": {
            ":pk": {"S": REGISTRY_PK},
            ":b": {"S": REGISTRY_SK_PREFIX},
        },
        "ProjectionExpression": "sk",
        "ConsistentRead": True,
    }
    found: list[str] = []
    while True:
        page = ddb.query(**kwargs)
        found += [item["sk"]["S"][len(REGISTRY_SK_PREFIX) :] for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def least_recently_polled_first(ddb, table: str, buckets: list[str]) -> list[str]:
    """The buckets by their ``UPLOADS`` item's ``checked_at``, never polled first: one
    BatchGetItem per 100. Those an invocation had no time left for are then the first of the
    next, rather than the last of every one in the registry's fixed order. Keys DynamoDB
    leaves unprocessed three times, or a failed read, count as never polled."""
    checked: dict[str, str] = {}
    for start in range(0, len(buckets), _BATCH_KEYS):
        keys = [uploads_address(b) for b in buckets[start : start + _BATCH_KEYS]]
        request = {table: {"Keys": keys, "ProjectionExpression": "pk, checked_at"}}
        try:
            for attempt in range(3):
                got = ddb.batch_get_item(RequestItems=request)
                for item in got.get("Responses", {}).get(table, []):
                    checked[item["pk"]["S"][len("B#") :]] = item.get("checked_at", {}).get("S", "")
                request = got.get("UnprocessedKeys") or {}
                if not request or attempt == 2:
                    break
                time.sleep(0.05 * 2**attempt)
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not read when the buckets were last polled: %s", err)
    return sorted(buckets, key=lambda bucket: checked.get(bucket, ""))


def is_scheduled(event) -> bool:
    """EventBridge's scheduled event, as a scheduled rule sends it to its target."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def poll_stack(s3, ddb, table: str, *, remaining_ms=lambda: None) -> dict:
    """Poll every tracked bucket, a few at once, the least recently polled first. A bucket that
    cannot be listed (gone, not yet granted) is logged and left for the next poll, which its
    older ``checked_at`` shows; none is started once the invocation is about to time out."""
    at_start = remaining_ms()
    # A tracker given a timeout near or under the reserve (`deploy --timeout`) keeps back a
    # quarter of its time instead, rather than never starting a bucket.
    reserve = RESERVE_MS if at_start is None else min(RESERVE_MS, at_start // 4)
    buckets = least_recently_polled_first(ddb, table, tracked_buckets(ddb, table))

    def one(bucket: str) -> dict:
        left = remaining_ms()
        if left is not None and left < reserve:
            return {"bucket": bucket, "skipped": "the invocation is about to time out"}
        try:
            return poll_bucket(s3, ddb, table, bucket, while_tracked=True).as_dict()
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not poll the unfinished uploads of %s: %s", bucket, err)
            return {"bucket": bucket, "error": str(err)}

    with ThreadPoolExecutor(max_workers=POLL_WORKERS) as pool:
        results = list(pool.map(one, buckets))
    polled = [r for r in results if "checked_at" in r]
    logger.info(
        "uploads poll: %d of %d buckets, %d uploads, %d bytes, %d requests",
        len(polled), len(buckets), sum(r["uploads"] for r in polled),
        sum(r["bytes"] for r in polled), sum(r["requests"] for r in polled),
    )  # fmt: skip
    return {"buckets": results}
