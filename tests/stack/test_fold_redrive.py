"""redrive of the fold's dead letters: each stream batch Lambda gave up on is read back from the
stream and folded again, its letter deleted only once the fold succeeded; what cannot be (a
batch the stream no longer holds) stays, and the redrive says so.

SQS is moto's; the stream and the fold are stand-ins answering as DynamoDB Streams and Lambda
do (moto runs Lambda functions only in Docker)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from s3sizer import lifecycle
from s3sizer.context import StackContext
from s3sizer.errors import StackError
from s3sizer.stack.fold_redrive import batch_records, lambda_record
from s3sizer.stack.model import StackConfig

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/S3-object-size-history/stream/2026-12-03"
CONFIG = StackConfig(
    stack="s3sizer",
    bucket="tracked",
    bucket_owned=True,
    region="us-east-1",
    delivery="sqs",
    write_path="fold",
)


def record(number: int) -> dict:
    return {
        "eventID": f"{number:032x}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 12, 3, 12, 0, number, tzinfo=UTC),
            "Keys": {"pk": {"S": "B#tracked#K00"}, "sk": {"S": f"K#{number}"}},
            "NewImage": {"pk": {"S": "B#tracked#K00"}, "b": {"B": b"\x00\x01"}},
            "SequenceNumber": f"{number * 100:022d}",
            "SizeBytes": 50,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class Streams:
    """GetShardIterator and GetRecords of one shard, two records a page; the records before
    `trimmed_below` are past the stream's 24 hours."""

    def __init__(self, count: int, trimmed_below: int = 0):
        self.records = [record(n) for n in range(count)]
        self.trimmed_below = trimmed_below

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, SequenceNumber):
        assert (StreamArn, ShardId, ShardIteratorType) == (STREAM, "shard-1", "AT_SEQUENCE_NUMBER")
        index = int(SequenceNumber) // 100
        if index < self.trimmed_below:
            error = {"Code": "TrimmedDataAccessException", "Message": "trimmed"}
            raise ClientError({"Error": error}, "GetShardIterator")
        return {"ShardIterator": str(index)}

    def get_records(self, ShardIterator, Limit):
        index = int(ShardIterator)
        return {"Records": self.records[index : index + 2], "NextShardIterator": str(index + 2)}


class Fold:
    """Answers Invoke as Lambda does; the calls numbered in `failing` report a batch failure."""

    def __init__(self, failing=()):
        self.failing, self.calls = set(failing), []

    def invoke(self, FunctionName, InvocationType, Payload):
        assert (FunctionName, InvocationType) == ("s3sizer-fold", "RequestResponse")
        event = json.loads(Payload)
        self.calls.append(event)
        failures = []
        if len(self.calls) in self.failing:
            failures = [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]
        return {"Payload": io.BytesIO(json.dumps({"batchItemFailures": failures}).encode())}


class Context(StackContext):
    def __init__(self, stack, streams, fold):
        super().__init__(stack, CONFIG)
        self.fakes = {"dynamodbstreams": streams, "lambda": fold}

    def client(self, service):
        return self.fakes.get(service) or super().client(service)


@pytest.fixture
def fold_letters(stack):
    """The fold's DLQ holding three batches' failure records (records 0-2, 3-5 and 6-9)."""
    sqs = stack.client("sqs")
    sqs.create_queue(QueueName=stack.names.dead_letter_queue)
    url = sqs.create_queue(QueueName=stack.names.fold_dead_letter_queue)["QueueUrl"]
    for first, last in ((0, 2), (3, 5), (6, 9)):
        info = {
            "shardId": "shard-1",
            "startSequenceNumber": f"{first * 100:022d}",
            "endSequenceNumber": f"{last * 100:022d}",
            "streamArn": STREAM,
            "batchSize": last - first + 1,
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"DDBStreamBatchInfo": info}))
    return url


def waiting(stack, url) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_each_batch_is_read_back_whole_and_folded_with_its_redrive_member(stack, fold_letters):
    fold = Fold()

    assert lifecycle.redrive(Context(stack, Streams(12), fold)) == {"moved": 0, "fold_moved": 3}

    assert waiting(stack, fold_letters) == 0
    batches = sorted(fold.calls, key=lambda call: call["redrive"]["startSequenceNumber"])
    assert [[int(r["eventID"], 16) for r in b["Records"]] for b in batches] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8, 9],
    ]
    assert batches[1]["redrive"] == {
        "shardId": "shard-1",
        "startSequenceNumber": f"{300:022d}",
    }
    first = batches[0]["Records"][0]
    # As Lambda delivers a stream record: seconds, base64, and the stream's ARN.
    assert first["dynamodb"]["ApproximateCreationDateTime"] == 1796299200.0
    assert first["dynamodb"]["NewImage"]["b"] == {"B": "AAE="}
    assert first["eventSourceARN"] == STREAM


def test_a_batch_the_fold_fails_again_stays_and_the_next_redrive_folds_it(stack, fold_letters):
    with pytest.raises(StackError) as failed:
        lifecycle.redrive(Context(stack, Streams(12), Fold(failing={2})))

    assert "after redriving 1; 2 fold dead letters still wait" in str(failed.value)
    assert "were not folded" in str(failed.value)
    # Released at once: the next redrive finds both.
    assert lifecycle.redrive(Context(stack, Streams(12), Fold()))["fold_moved"] == 2
    assert waiting(stack, fold_letters) == 0


def test_a_batch_the_stream_no_longer_holds_stays_and_the_redrive_says_so(stack, fold_letters):
    fold = Fold()

    with pytest.raises(StackError) as failed:
        lifecycle.redrive(Context(stack, Streams(12, trimmed_below=3), fold))

    message = str(failed.value)
    assert "Redrove 2 fold dead letters; 1 cannot be redriven" in message
    assert "no longer in the table's stream" in message
    assert "purge-queue" in failed.value.fix
    assert len(fold.calls) == 2
    assert waiting(stack, fold_letters) == 1


def test_a_batch_whose_last_record_is_gone_is_not_folded_in_part():
    info = {
        "shardId": "shard-1",
        "startSequenceNumber": f"{300:022d}",
        "endSequenceNumber": f"{900:022d}",
        "streamArn": STREAM,
    }

    assert batch_records(Streams(5), info) is None
    assert len(batch_records(Streams(10), info)) == 7


def test_a_record_of_a_real_stream_becomes_the_one_lambda_delivers():
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        (got,) = streams.get_records(ShardIterator=iterator)["Records"]

    delivered = lambda_record(got, arn)

    assert isinstance(delivered["dynamodb"]["ApproximateCreationDateTime"], float)
    assert delivered["eventSourceARN"] == arn
    assert delivered["eventName"] == "INSERT"
    json.dumps(delivered)  # the invocation's payload
