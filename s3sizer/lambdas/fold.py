"""The fold function: the table's stream, folded into each bucket's and prefix's totals rows.

On the fold write path the tracker writes only key items (one conditional PutItem per key,
``f`` = 1). The table's stream (new and old images) brings each change of a key item here, one
batch of one shard at a time; fold_apply.py adds each record's net change to the rows of that
shard (rows.py), exactly once, and writes a history point per step for the bucket (its receipt,
fold_receipts.py, carrying the prefixes it moved: fold_prefixes.py), the row's largest size,
and one metric line per bucket.

Lambda's stream event does not name the shard its records come from: the shard is found by its
sequence-number range (DescribeStream), and, where ranges overlap (a split leaves parent and
children open a while), by reading the batch's first record back from each candidate.

A step that cannot be applied ends the batch: its first record is reported in
``batchItemFailures``, so that Lambda retries from there; what came before is applied, and what
the retry finds counted it skips. A batch Lambda gives up on goes to the on-failure destination,
and ``s3sizer redrive`` brings its records back here with a ``redrive`` member: they are folded
into rows of their own, named by the failed batch, less the steps an attempt had committed
before it crashed (fold_receipts.py).
"""

from __future__ import annotations

import functools
import logging
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import environment, history, rows
from . import fold_apply as fa
from . import fold_compact as fc
from . import fold_receipts as fr
from .metric import metric_line

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

COUNTED = ("folded", "already", "skipped", "ignored", "failed", "compacted")
# DescribeStream allows 10 calls a second per account: a warm container reads it at most once
# a minute, and again only when no shard it knows holds a batch.
SHARDS_FRESH_SECONDS = 60.0
_SHARDS: dict[str, tuple[float, list[dict]]] = {}


def fold_event(h, streams, event: dict) -> dict:
    """Fold one stream batch; ``{"batchItemFailures": [...], "counts": {...}}``."""
    records = event.get("Records") or []
    counts = dict.fromkeys(COUNTED, 0)
    if not records:
        return {"batchItemFailures": [], "counts": counts}
    redrive = event.get("redrive")
    finished: set[str] = set()  # shards read to their end: their rows can be compacted
    if redrive:
        shard = rows.redrive_shard(redrive["shardId"], redrive["startSequenceNumber"])
    else:
        stream_arn = records[0]["eventSourceARN"]
        shard = shard_of(streams, stream_arn, records[0]["dynamodb"]["SequenceNumber"])
        finished = fc.ancestors(_shards(streams, stream_arn, False), shard)
    buckets = {fa.bucket_of(r) for r in records} - {None}
    tracking = fa.tracking(h, buckets)
    try:
        receipts = _receipts(h, redrive, set(tracking)) if redrive else {}
    except (ClientError, BotoCoreError, ValueError) as err:  # nothing folded: tried again
        logger.error("could not read the steps already folded from %s: %s", shard, err)
        counts["failed"] = len(records)
        first = records[0]["dynamodb"]["SequenceNumber"]
        return {"batchItemFailures": [{"itemIdentifier": first}], "counts": counts}
    parsed, numbers = [], {}
    for record in records:
        change = fa.parse(record, tracking)
        if change is None:
            counts["skipped"] += 1
        elif change.bucket not in tracking:  # not tracked (untracked since): never counted
            counts["ignored"] += 1
        elif fr.counted(change.seq, receipts.get(change.bucket, [])):
            counts["already"] += 1  # a step an attempt committed before Lambda gave up
        else:
            parsed.append(change)
            numbers[change.seq] = record["dynamodb"]["SequenceNumber"]
    failures = []
    running = fa.baselines_running(h, {c.bucket for c in parsed})
    steps = fa.steps(parsed)
    for index, step in enumerate(steps):
        try:
            applied = fa.apply_step(h, shard, step)
        except (ClientError, BotoCoreError, RuntimeError) as err:
            first_failed = numbers[step.first]
            logger.error(
                "could not fold %d records of %s from %s; retried from %s: %s",
                len(step.records), step.bucket, shard, first_failed, err,
            )  # fmt: skip
            failures = [{"itemIdentifier": first_failed}]
            counts["failed"] = sum(len(s.records) for s in steps[index:])
            break
        counts["folded"] += applied.folded
        counts["already"] += applied.already
        counts["ignored"] += applied.ignored
        for row in fc.closed_rows(applied.held, finished):
            counts["compacted"] += fc.compact(h, step.bucket, row, applied.held)
        # Totals a baseline has not finished are partial: no datapoint, so no alarm fires.
        if applied.totals is not None and step.bucket not in running:
            print(metric_line(step.bucket, applied.totals), flush=True)
    line = " ".join(f"{name}={counts[name]}" for name in COUNTED)
    logger.info("fold %s: %s", shard, line)
    return {"batchItemFailures": failures, "counts": counts}


def _receipts(h, redrive: dict, buckets: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Per bucket, the steps of the dead-lettered batch that an attempt had committed. A
    redrive request without the batch's time span (an older CLI's) finds none."""
    since, until = redrive.get("firstArrival"), redrive.get("failedAt")
    if not (since and until):
        return {}
    shard = redrive["shardId"]
    return {b: fr.committed_ranges(h, b, shard, since, until) for b in sorted(buckets)}


def shard_of(streams, stream_arn: str, sequence_number: str) -> str:
    """The id of the shard of ``stream_arn`` that holds the record ``sequence_number``."""
    for refresh in (False, True):
        shards = _shards(streams, stream_arn, refresh)
        candidates = [s for s in shards if _in_range(s, sequence_number)]
        if len(candidates) == 1:
            return candidates[0]["ShardId"]
        for shard in candidates:
            if _first_number(streams, stream_arn, shard["ShardId"], sequence_number) == (
                sequence_number
            ):
                return shard["ShardId"]
    raise RuntimeError(f"no shard of {stream_arn} holds sequence number {sequence_number}")


def _in_range(shard: dict, number: str) -> bool:
    span = shard.get("SequenceNumberRange", {})
    start, end = span.get("StartingSequenceNumber"), span.get("EndingSequenceNumber")
    return (start is None or int(start) <= int(number)) and (end is None or int(number) <= int(end))


def _shards(streams, stream_arn: str, refresh: bool) -> list[dict]:
    held = _SHARDS.get(stream_arn)
    if held and not refresh and time.monotonic() - held[0] < SHARDS_FRESH_SECONDS:
        return held[1]
    found, kwargs = [], {"StreamArn": stream_arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        found += description.get("Shards", [])
        last = description.get("LastEvaluatedShardId")
        if not last:
            break
        kwargs["ExclusiveStartShardId"] = last
    _SHARDS[stream_arn] = (time.monotonic(), found)
    return found


def _first_number(streams, stream_arn: str, shard_id: str, number: str) -> str | None:
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=number,
        )["ShardIterator"]  # fmt: skip
        got = streams.get_records(ShardIterator=iterator, Limit=1).get("Records", [])
    except ClientError:
        return None
    return got[0]["dynamodb"]["SequenceNumber"] if got else None


@functools.cache
def _config():
    environment.quiet_library_lines()
    table, ttl_days = environment.table_from_environment("fold")
    hist = history.History(table, boto3.client("dynamodb"), ttl_days=ttl_days)
    return hist, boto3.client("dynamodbstreams")


def handler(event, context):
    hist, streams = _config()
    outcome = fold_event(hist, streams, event)
    return {"batchItemFailures": outcome["batchItemFailures"]}
