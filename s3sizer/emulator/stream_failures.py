"""What a stream mapping does with failures: partial batch responses, and the record Lambda sends
an on-failure destination for records it gave up on.

https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

logger = logging.getLogger("s3sizer.emulator")


def lowest_failure(payload: bytes, sequence_numbers: list[str]) -> int | None:
    """Where a ReportBatchItemFailures response puts the checkpoint: None when the whole batch
    succeeded, else the index of the record with the lowest failed sequence number (0, the whole
    batch, for an invalid response)."""
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return 0
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return None  # null, {}, or a null or empty list: the whole batch succeeded
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return 0
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in sequence_numbers:
            return 0  # empty, null, misnamed or unknown: the whole batch failed
        indexes.append(sequence_numbers.index(identifier))
    return min(indexes)


@dataclass(frozen=True)
class ExhaustedBatch:
    function_arn: str
    stream_arn: str
    shard_id: str
    entries: list  # stream_records.StreamRecordEntry, in shard order
    condition: str  # RetryAttemptsExhausted or RecordAgeExceeded
    invocations: int
    function_error: str | None

    def record(self) -> dict:
        """The invocation record Lambda sends an on-failure destination for a stream batch."""
        first, last = self.entries[0], self.entries[-1]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": self.condition,
                "approximateInvokeCount": self.invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": self.function_error,
            },
            "version": "1.0",
            "timestamp": _milliseconds(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first.record["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last.record["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _seconds(first.arrival),
                "approximateArrivalOfLastRecord": _seconds(last.arrival),
                "batchSize": len(self.entries),
                "streamArn": self.stream_arn,
            },
        }


def send_to_destination(destination_arn: str, record: dict) -> None:
    """Send to an SQS queue or an SNS topic; other destinations are stored but not sent to."""
    body = json.dumps(record)
    _, _, service, region, account_id, name = (destination_arn.split(":", 5) + [""] * 6)[:6]
    try:
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[account_id][region].send_message(name, body)
        elif service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[account_id][region].publish(body, arn=destination_arn)
        else:
            logger.warning("on-failure destination %s is not SQS or SNS; not sent", destination_arn)
    except Exception as error:
        logger.warning("on-failure destination %s could not be sent to: %s", destination_arn, error)


def _milliseconds(moment: float) -> str:
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _seconds(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
