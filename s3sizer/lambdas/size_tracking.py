"""The size-tracking function: apply a whole batch of S3 changes to the history table.

It takes a direct S3 event, or an SQS batch whose bodies are S3 notifications or EventBridge
events from S3 (records.py). The changes are cut into chunks of one bucket that fit one
transaction each, and each chunk costs one BatchGetItem and one TransactWriteItems (batch.py).

Records nobody can apply are logged, counted and dropped. A chunk that fails for a passing
reason (a DynamoDB error, throttling) fails only its own messages, which the queue delivers
again (their applied records then come back as duplicates); on a direct event it raises, so
that Lambda retries the event. After each chunk that moved the totals, one CloudWatch Embedded
Metric Format line publishes them, at no API cost. On a fold stack (``WRITE_PATH=fold``) a chunk
writes its key items only, one PutItem each (key_writes.py), and the fold function counts and
publishes them.

Invoked by the stack's scheduled rule instead (an EventBridge "Scheduled Event"), it polls the
tracked buckets' unfinished multipart uploads (uploads.py).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import batch, classes, environment, history, key_writes, late_creates, records, uploads
from . import layout as lay
from .metric import metric_line

logger = logging.getLogger(__name__)
# Lambda's Python runtime leaves the root logger at WARNING unless the function's logging is
# configured: the one line per batch must show either way.
logger.setLevel(logging.INFO)

# Each bucket's prefix depth as this warm container last read it from the bucket's settings
# item; every chunk reads that item again along with its own items, so a stale entry costs one
# more BatchGetItem for that chunk, never a wrong count.
BUCKET_DEPTHS: dict[str, int] = {}
MAX_REPLANS = 3
BUCKETS_NAMED = 3  # in the batch's log line
# "fold" (set by deploy on a fold stack): the key items only, counted by the fold function.
WRITE_PATHS = ("transaction", "fold")
COUNTED = ("applied", "duplicate", "stale", "ignored", "rejected", "retries", "failed")


@dataclass
class Chunk:
    bucket: str
    changes: list = field(default_factory=list)
    keys: set = field(default_factory=set)
    prefixes: set = field(default_factory=set)
    message_ids: set = field(default_factory=set)
    replans: int = 0


def plan_chunks(messages: list[records.Message], depth) -> list[Chunk]:
    """The batch's changes cut into chunks of one bucket whose transaction fits 100 items.

    Without prefix totals, chunks follow event time, so that each starts from the totals the
    earlier events left and the largest size inside the batch is seen across chunks too. With
    them, a chunk takes neighbouring keys instead (in event time per key), so that it touches
    few prefixes: every chunk of a time-ordered batch would touch nearly all of them.
    """
    depth_of = depth if callable(depth) else (lambda bucket: depth)
    done: list[Chunk] = []
    open_chunks: dict[str, Chunk] = {}
    pairs = [(m, c) for m in messages for c in m.changes]

    def order(pair) -> tuple:
        change = pair[1]
        return (0, change.key, change.time) if depth_of(change.bucket) else (1, "", change.time)

    for message, change in sorted(pairs, key=order):
        bucket_depth = depth_of(change.bucket)
        chunk = open_chunks.get(change.bucket) or Chunk(change.bucket)
        keys = chunk.keys | {change.key}
        prefixes = chunk.prefixes | set(lay.prefixes(change.key, bucket_depth))
        if batch.items_needed(keys, prefixes) > batch.TRANSACTION_ITEMS:
            done.append(chunk)
            chunk = Chunk(change.bucket)
            keys, prefixes = {change.key}, set(lay.prefixes(change.key, bucket_depth))
        chunk.changes.append(change)
        chunk.keys, chunk.prefixes = keys, prefixes
        if message.id is not None:
            chunk.message_ids.add(message.id)
        open_chunks[change.bucket] = chunk
    return done + list(open_chunks.values())


def apply_event(hist: history.History, event) -> dict:
    """Apply every change of one invocation's event; the counts and the failed message ids.

    Returns ``{"counts": {...}, "failed": [message ids]}``. On a direct S3 event (no SQS
    messages), a passing failure raises instead.
    """
    messages = records.messages(event)
    direct = not records.is_sqs_batch(event)
    counts = dict.fromkeys(COUNTED, 0)
    # Questions to S3: storage classes (only buckets whose classes are tracked ask them), and
    # late creates' versions (late_creates.py).
    lookups = 0
    for message in messages:
        for skip in message.skips:
            counts[skip.outcome] += 1
            if skip.outcome == records.REJECTED:
                logger.warning("rejected record (message %s): %s", message.id, skip.reason)
    failed: set[str] = set()
    depth_of = _depth_of(hist)
    pending = plan_chunks(messages, depth_of)
    while pending:
        chunk = pending.pop(0)
        at = hist.at_depth(depth_of(chunk.bucket)) if hist.settings_required else hist
        try:
            result = at.apply_changes(chunk.bucket, chunk.changes)
            if result.stale_depth is not None:
                # The bucket's depth changed since this container last read it: plan its
                # changes again at the depth the table holds (a few times at most).
                BUCKET_DEPTHS[chunk.bucket] = result.stale_depth
                if chunk.replans >= MAX_REPLANS:
                    raise RuntimeError(f"the prefix depth of {chunk.bucket} keeps changing")
                again = plan_chunks([records.Message(None, chunk.changes)], depth_of)
                for part in again:
                    part.message_ids, part.replans = set(chunk.message_ids), chunk.replans + 1
                pending[:0] = again
                continue
        except (ClientError, BotoCoreError, RuntimeError) as err:
            if direct:
                raise
            changes, retried = len(chunk.changes), len(chunk.message_ids)
            logger.error(
                "could not apply %d change%s of %s; %d message%s will be retried: %s",
                changes, "" if changes == 1 else "s", chunk.bucket,
                retried, "" if retried == 1 else "s", err,
            )  # fmt: skip
            failed |= chunk.message_ids
            continue
        for outcome, count in result.counts.items():
            counts[outcome] += count
        counts["retries"] += result.retries
        lookups += result.lookups
        # Totals a baseline has not finished are partial: no datapoint, so no alarm fires.
        if result.totals is not None and not result.partial:
            print(metric_line(chunk.bucket, result.totals), flush=True)
    counts["failed"] = len(failed)
    line = " ".join(f"{name}={counts[name]}" for name in COUNTED)
    if lookups:
        line += f" lookups={lookups}"
    named = _bucket_names({c.bucket for m in messages for c in m.changes})
    logger.info("batch: %s%s", line, f" buckets={named}" if named else "")
    return {"counts": counts, "failed": sorted(failed)}


def _bucket_names(buckets: set[str]) -> str:
    """The batch's buckets for its log line: one stack tracks many, and a reader of the log
    wants to know whose events these were. A few names, then how many more."""
    shown = sorted(buckets)[:BUCKETS_NAMED]
    more = len(buckets) - len(shown)
    return ",".join(shown) + (f",+{more} more" if more else "")


def _depth_of(hist: history.History):
    if not hist.settings_required:
        return lambda bucket: hist.prefix_depth
    return lambda bucket: BUCKET_DEPTHS.get(bucket, hist.prefix_depth)


@functools.cache
def _config() -> history.History:
    """Built once per warm container: the client and the settings from the environment."""
    environment.quiet_library_lines()
    table, ttl_days = environment.table_from_environment("size-tracking")
    depth = os.environ.get("PREFIX_DEPTH", "1") or "1"
    if depth not in {str(d) for d in range(history.MAX_PREFIX_DEPTH + 1)}:
        raise RuntimeError(f"PREFIX_DEPTH must be 0 to {history.MAX_PREFIX_DEPTH}, not {depth!r}")
    write_path = os.environ.get("WRITE_PATH", "transaction") or "transaction"
    if write_path not in WRITE_PATHS:
        raise RuntimeError(
            f"WRITE_PATH must be one of {', '.join(WRITE_PATHS)}, not {write_path!r}"
        )
    if write_path == "fold":  # a chunk's key items go out at once, one connection each
        from botocore.config import Config

        client = boto3.client("dynamodb", config=Config(max_pool_connections=key_writes.WRITERS))
    else:
        client = boto3.client("dynamodb")
    found = history.History(table, client, ttl_days=ttl_days, prefix_depth=int(depth))
    found.write_path = write_path
    # Set by deploy: each bucket's settings item says whether it is tracked, and its depth
    # (PREFIX_DEPTH is then only the first guess for a bucket this container has not seen).
    found.settings_required = os.environ.get("BUCKET_SETTINGS") == "table"
    s3 = _s3()
    # Used only for buckets whose TOTALS item says their storage classes are tracked.
    found.class_of = classes.head_class(s3)
    # Used only for a create delivered after the tombstones of its key's versions were capped.
    found.versions_of = late_creates.version_lister(s3)
    return found


@functools.cache
def _s3():
    from botocore.config import Config

    # The uploads poll sends up to 4 buckets x 8 ListParts at once (uploads.py).
    return boto3.client("s3", config=Config(max_pool_connections=32))


def handler(event, context):
    if uploads.is_scheduled(event):  # the uploads poll's schedule (stack/uploads.py)
        hist = _config()
        return uploads.poll_stack(
            _s3(), hist.client, hist.table_name,
            remaining_ms=getattr(context, "get_remaining_time_in_millis", lambda: None),
        )  # fmt: skip
    outcome = apply_event(_config(), event)
    if records.is_sqs_batch(event):
        return {"batchItemFailures": [{"itemIdentifier": i} for i in outcome["failed"]]}
    return outcome["counts"]
