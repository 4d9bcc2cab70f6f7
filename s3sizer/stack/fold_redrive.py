"""Redrive of the fold's dead letters: each letter is Lambda's on-failure record of a stream
batch (`DDBStreamBatchInfo`), without the records. They are read back from the stream
(GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords past the batch's last one) and given to
the fold function in one synchronous invocation with a `redrive` member, which folds them into
rows of their own (lambdas/rows.py), leaving out the steps an attempt had committed. A letter
is deleted only once that invocation succeeded."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from s3sizer.errors import StackError
from s3sizer.output import plural, still_waiting
from s3sizer.stack.fold import dead_letter_count
from s3sizer.stack.model import FOLD_FUNCTION
from s3sizer.stack.routes.letters import function_error, release
from s3sizer.stack.state import error_code

if TYPE_CHECKING:
    from s3sizer.context import StackContext

# GetRecords may answer empty pages on an open shard before the records: this many in a row
# means the batch's records are not there to read.
MAX_EMPTY_PAGES = 20
# A letter this process holds: reading its batch back, and one invocation of the fold.
HOLD_SECONDS = 60
# Records a stream no longer holds (it keeps them 24 hours), or a stream turned off since.
GONE = ("TrimmedDataAccessException", "ResourceNotFoundException")


def redrive(ctx: StackContext, dlq_url: str) -> int:
    """Every letter folded again and deleted, or a StackError saying what is left and why.

    A letter whose records the stream no longer holds stays (held a while, so this run goes on
    with the others), and is counted in the error at the end."""
    sqs, streams, functions = ctx.client("sqs"), ctx.client("dynamodbstreams"), ctx.client("lambda")
    hold = ctx.config.timeout_of(FOLD_FUNCTION) + HOLD_SECONDS
    moved, trimmed = 0, 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=hold
        ).get("Messages", [])
        if not messages:
            break
        for index, message in enumerate(messages):
            try:
                letter = json.loads(message["Body"])
                info = letter["DDBStreamBatchInfo"]
                records = batch_records(streams, info)
                failed = "" if records is None else _fold_again(ctx, functions, letter, records)
            except BaseException:
                release(sqs, dlq_url, messages[index:])
                raise
            if records is None:
                trimmed += 1  # stays held until this run ends: not received again by it
                continue
            if failed:
                release(sqs, dlq_url, messages[index:])
                left = dead_letter_count(ctx.stack) or 0
                raise StackError(
                    f"The fold failed again on a dead letter ({failed}) after redriving {moved}; "
                    f"{still_waiting(left, 'fold dead letter')}",
                    "see `s3sizer logs fold`, fix the cause (`s3sizer deploy` puts the functions "
                    "back), then run redrive again",
                )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    if trimmed:
        name = ctx.names.fold_dead_letter_queue
        raise StackError(
            f"Redrove {plural(moved, 'fold dead letter')}; {trimmed} cannot be redriven: their "
            "records are no longer in the table's stream (it keeps them 24 hours), so they stay "
            f"in {name}",
            "the key items are right but the totals lack those batches' changes (`s3sizer "
            "reconcile` shows by how much); once noted, remove the letters with "
            f"`aws sqs purge-queue --queue-url {dlq_url}`, then untrack and track the bucket "
            "(the first bucket: teardown and setup) to take its totals anew",
        )
    return moved


def batch_records(streams, info: dict) -> list[dict] | None:
    """The batch's records as Lambda delivered them, or None when the stream no longer has
    them."""
    stream_arn, end = info["streamArn"], int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except ClientError as exc:
        if error_code(exc) in GONE:
            return None
        raise
    records, empty = [], 0
    while iterator and empty < MAX_EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        got = page.get("Records", [])
        for record in got:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            records.append(lambda_record(record, stream_arn))
            if int(record["dynamodb"]["SequenceNumber"]) == end:
                return records
        empty = 0 if got else empty + 1
        iterator = page.get("NextShardIterator")
    # The shard ended (or answered nothing) before the batch's last record: part was trimmed.
    return None


def lambda_record(record: dict, stream_arn: str) -> dict:
    """A GetRecords record as Lambda's stream event carries it: the creation time in seconds,
    binary values in base64, and the stream's ARN."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        dynamodb["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    out = {key: value for key, value in record.items() if key != "dynamodb"}
    return {**out, "dynamodb": _base64(dynamodb), "eventSourceARN": stream_arn}


def _base64(value):
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _base64(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_base64(item) for item in value]
    return value


def _fold_again(ctx: StackContext, functions, letter: dict, records: list[dict]) -> str:
    """Invoke the fold with the batch: '' when it folded all of it, else what went wrong.

    The batch's time span (its first record's arrival, the time Lambda gave up) lets the fold
    find the steps an attempt had committed before it crashed (lambdas/fold_receipts.py)."""
    info = letter["DDBStreamBatchInfo"]
    redrive = {"shardId": info["shardId"], "startSequenceNumber": info["startSequenceNumber"]}
    if info.get("approximateArrivalOfFirstRecord") and letter.get("timestamp"):
        redrive |= {
            "firstArrival": info["approximateArrivalOfFirstRecord"],
            "failedAt": letter["timestamp"],
        }
    payload = {"Records": records, "redrive": redrive}
    response = functions.invoke(
        FunctionName=ctx.names.function(FOLD_FUNCTION.short),
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode(),
    )
    if response.get("FunctionError"):
        return function_error(response)
    body = response.get("Payload")
    answer = json.loads(body.read() or b"null") if body is not None else None
    failures = (answer or {}).get("batchItemFailures") if isinstance(answer, dict) else None
    if failures:
        return f"records from {failures[0].get('itemIdentifier')} were not folded"
    return ""
