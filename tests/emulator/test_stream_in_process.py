"""Stream mappings in-process: wait_idle covers them, and records past MaximumRecordAgeInSeconds
go to the on-failure destination (their age is set back rather than waited for)."""

from __future__ import annotations

import json

import pytest
from moto.dynamodb.models import dynamodb_backends

from .helpers import in_process, poll, zip_bytes
from .stream_helpers import STREAM_HANDLER, batches, pks

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def aws():
    with in_process(retry_backoff=0.01) as emulator:
        yield emulator


def _streamed_function(aws, tmp_path, name: str) -> tuple[str, object]:
    stream_arn = aws.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]  # fmt: skip
    role = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    records = tmp_path / "records"
    aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"], Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": STREAM_HANDLER})},
        Environment={"Variables": {"RECORD_FILE": str(records), "MODE": "raise",
                                   "BLOCK_FILE": str(tmp_path / "block")}},
    )  # fmt: skip
    return stream_arn, records


def _put(aws, table: str, *keys: str) -> None:
    for key in keys:
        aws.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": key}})


def test_wait_idle_waits_until_stream_mappings_have_read_their_streams(aws, tmp_path):
    stream_arn, records = _streamed_function(aws, tmp_path, "idle-stream")
    _put(aws, "idle-stream", *(f"k{n}" for n in range(30)))
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="idle-stream", StartingPosition="TRIM_HORIZON",
        BatchSize=7,
    )  # fmt: skip
    assert aws.wait_idle(timeout=30)
    assert [pk for batch in batches(records) for pk in pks(batch)] == [f"k{n}" for n in range(30)]


def test_records_older_than_the_maximum_age_are_given_up_on(aws, tmp_path):
    stream_arn, records = _streamed_function(aws, tmp_path, "aged-stream")
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="aged-failures")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:aged-failures"
    _put(aws, "aged-stream", "old-1", "old-2")
    for entry in dynamodb_backends[ACCOUNT][REGION].tables["aged-stream"].stream_shard.items:
        entry.arrival -= 120  # written two minutes ago, as far as the mapping can tell
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="aged-stream", StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    _put(aws, "aged-stream", "new")
    [message] = poll(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
    assert aws.wait_idle(timeout=30)
    assert [pks(batch) for batch in batches(records)] == [["new"]]
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2
    assert failure["DDBStreamBatchInfo"]["streamArn"] == stream_arn
