"""Fault injection, switched on through S3SIZER_EMULATOR_FAULTS in the emulator's environment."""

from __future__ import annotations

import json

import pytest

from .helpers import (
    create_function,
    emulator_env,
    notify_function,
    poll,
    read_records,
    start_emulator,
    wait_for_export_line,
)

pytestmark = pytest.mark.emulator

# Records each attempt, then makes a mutating AWS call (where an injected crash strikes), then
# records that it finished.
WRITING_HANDLER = """
import json, os
import boto3

s3 = boto3.client("s3")

def record(what):
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"what": what, "pid": os.getpid()}) + "\\n")

def handler(event, context):
    if "Records" not in event:
        return
    record("attempt")
    s3.put_object(Bucket="fault-side-effects", Key=context.aws_request_id, Body=b"x")
    record("done")
"""


@pytest.fixture(scope="module")
def faulty_emulator():
    env = emulator_env(
        S3SIZER_EMULATOR_FAULTS="duplicate=1,crash=1,seed=7", S3SIZER_EMULATOR_RETRY_BACKOFF="0.05"
    )
    running = wait_for_export_line(start_emulator("--port", "0", env=env))
    yield running
    running.stop()


def test_every_event_is_duplicated_and_every_first_attempt_crashes(faulty_emulator, tmp_path):
    # GIVEN every event delivered twice, and every first attempt killed after its first write
    aws = faulty_emulator
    records = tmp_path / "records"
    arn = create_function(aws, "fault-writer", WRITING_HANDLER, env={"RECORD_FILE": str(records)})
    s3 = aws.client("s3")
    for bucket in ("fault-tracked", "fault-side-effects"):
        s3.create_bucket(Bucket=bucket)
    notify_function(aws, "fault-tracked", arn, ["s3:ObjectCreated:*"])
    # WHEN one object is put
    s3.put_object(Bucket="fault-tracked", Key="k", Body=b"x")
    # THEN two deliveries each crash once, after their write, and succeed on the retry
    poll(lambda: [r["what"] for r in read_records(records)].count("done") == 2)
    whats = [r["what"] for r in read_records(records)]
    assert whats.count("attempt") == 4
    crashed = {r["pid"] for r in read_records(records)} - {
        r["pid"] for r in read_records(records) if r["what"] == "done"
    }
    assert len(crashed) == 2
    assert s3.list_objects_v2(Bucket="fault-side-effects")["KeyCount"] == 4
    messages = [
        e["message"]
        for e in aws.client("logs").filter_log_events(logGroupName="/aws/lambda/fault-writer")[
            "events"
        ]
    ]
    assert sum("injected crash after PutObject" in m for m in messages) == 2
    assert sum("Runtime.ExitError" in m for m in messages) == 2


SQS_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as f:
        for record in event["Records"]:
            f.write(json.dumps({"body": record["body"],
                                "count": record["attributes"]["ApproximateReceiveCount"]}) + "\\n")
"""


def test_a_duplicated_sqs_message_is_delivered_again(faulty_emulator, tmp_path):
    # GIVEN a queue mapped to a function, with duplicate=1 and crash=1 (see the fixture)
    sqs = faulty_emulator.client("sqs")
    url = sqs.create_queue(QueueName="fault-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    records = tmp_path / "records"
    create_function(faulty_emulator, "fault-queue", SQS_HANDLER, env={"RECORD_FILE": str(records)})
    faulty_emulator.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="fault-queue", BatchSize=1
    )
    # WHEN one message is sent
    sqs.send_message(QueueUrl=url, MessageBody="once")
    # THEN it arrives at least twice: each first receive is a duplicate (the crash hook strikes
    # only after a mutating AWS call, which this handler does not make)
    deliveries = poll(lambda: len(read_records(records)) >= 2 and read_records(records))
    assert {d["body"] for d in deliveries} == {"once"}
    assert [d["count"] for d in deliveries][:2] == ["1", "2"]


def test_an_asynchronous_event_that_keeps_failing_reaches_the_on_failure_destination(emulator):
    """Lambda's invocation record, with the original event as requestPayload, lands in the queue."""
    lam, sqs = emulator.client("lambda"), emulator.client("sqs")
    url = sqs.create_queue(QueueName="async-failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    create_function(
        emulator, "always-fails", "def handler(event, context):\n    raise ValueError('no')\n"
    )
    lam.put_function_event_invoke_config(
        FunctionName="always-fails",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )

    lam.invoke(FunctionName="always-fails", InvocationType="Event", Payload=b'{"n": 7}')
    got = poll(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=20)

    record = json.loads(got[0]["Body"])
    assert record["requestPayload"] == {"n": 7}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "ValueError"
