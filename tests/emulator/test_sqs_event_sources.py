"""SQS event source mappings: batches polled, partial failures retried, poison to the DLQ."""

from __future__ import annotations

import hashlib
import json

import pytest

from .helpers import create_function, poll, read_records

pytestmark = pytest.mark.emulator

# Records every batch; fails the messages whose body says "poison" (reported as batch item
# failures), and fails the whole batch once when a body says "fail-once".
BATCH_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"event": event}) + "\\n")
    records = event["Records"]
    if any(r["body"] == "fail-once" and r["attributes"]["ApproximateReceiveCount"] == "1"
           for r in records):
        raise RuntimeError("the whole batch fails")
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"
    ]}
"""


def _queue_with_dlq(emulator, name: str, max_receive_count: int = 2) -> tuple[str, str, str]:
    sqs = emulator.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "60"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn, dlq_url


def _mapped(emulator, tmp_path, name: str, **mapping):
    url, arn, dlq_url = _queue_with_dlq(emulator, name)
    records = tmp_path / "records"
    create_function(emulator, name, BATCH_HANDLER, env={"RECORD_FILE": str(records)})
    uuid = emulator.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10,
        MaximumBatchingWindowInSeconds=1, FunctionResponseTypes=["ReportBatchItemFailures"],
        **mapping,
    )["UUID"]  # fmt: skip
    return url, arn, dlq_url, records, uuid


def _batches(records) -> list[list[dict]]:
    return [r["event"]["Records"] for r in read_records(records)]


def _messages(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_messages_arrive_in_batches_shaped_as_lambda_sends_them(emulator, tmp_path):
    url, arn, _, records, _ = _mapped(emulator, tmp_path, "esm-shape")
    sqs = emulator.client("sqs")
    # WHEN five messages are sent at once, one with a message attribute
    sqs.send_message(
        QueueUrl=url, MessageBody="first",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )  # fmt: skip
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(4)]
    )
    # THEN each is delivered once, and the batching window gathered more than one per batch
    poll(lambda: sum(len(b) for b in _batches(records)) >= 5)
    batches = _batches(records)
    bodies = sorted(r["body"] for batch in batches for r in batch)
    assert bodies == ["first", "m0", "m1", "m2", "m3"]
    assert max(len(batch) for batch in batches) > 1
    record = next(r for batch in batches for r in batch if r["body"] == "first")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(b"first").hexdigest()
    assert record["receiptHandle"] and record["messageId"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    # AND the queue is empty once they succeeded
    poll(lambda: _messages(sqs, url) == 0)


def test_a_poisoned_message_reaches_the_dlq_and_the_others_are_deleted(emulator, tmp_path):
    url, _, dlq_url, records, _ = _mapped(emulator, tmp_path, "esm-poison")
    sqs = emulator.client("sqs")
    for body in ("good-1", "poison", "good-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def dead_letters():
        return sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]

    dead = poll(lambda: sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])[
        "Attributes"]["ApproximateNumberOfMessages"] != "0" and dead_letters())  # fmt: skip
    assert [m["Body"] for m in dead] == ["poison"]
    poll(lambda: _messages(sqs, url) == 0)
    delivered = [r["body"] for batch in _batches(records) for r in batch]
    assert delivered.count("good-1") == 1 and delivered.count("good-2") == 1
    assert delivered.count("poison") == 2  # maxReceiveCount receives, then the DLQ


def test_a_function_error_fails_the_whole_batch_and_it_is_retried(emulator, tmp_path):
    url, _, _, records, _ = _mapped(emulator, tmp_path, "esm-error")
    sqs = emulator.client("sqs")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": "fail-once"}, {"Id": "b", "MessageBody": "other"}],
    )
    poll(lambda: _messages(sqs, url) == 0 and len(_batches(records)) >= 2)
    delivered = [(r["body"], r["attributes"]["ApproximateReceiveCount"])
                 for batch in _batches(records) for r in batch]  # fmt: skip
    assert ("fail-once", "2") in delivered
    assert {body for body, count in delivered if count == "1"} <= {"fail-once", "other"}


def test_a_disabled_mapping_leaves_messages_and_a_deleted_one_stops(emulator, tmp_path):
    url, _, _, records, uuid = _mapped(emulator, tmp_path, "esm-disabled")
    lambda_client, sqs = emulator.client("lambda"), emulator.client("sqs")
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody="waits")
    # The message stays in the queue for a client to see while the mapping is disabled
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert [m["Body"] for m in received] == ["waits"]
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    poll(lambda: _batches(records))
    lambda_client.delete_event_source_mapping(UUID=uuid)
    sqs.send_message(QueueUrl=url, MessageBody="stays")
    assert poll(lambda: sqs.receive_message(QueueUrl=url)["Messages"])[0]["Body"] == "stays"
    assert [r["body"] for batch in _batches(records) for r in batch] == ["waits"]


def test_a_message_move_task_moves_dead_letters_back_to_their_queue(emulator):
    url, _, dlq_url = _queue_with_dlq(emulator, "move-back")
    sqs = emulator.client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for body in ("dead-1", "dead-2"):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body)
    assert sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert _messages(sqs, dlq_url) == 0
    moved = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in moved) == ["dead-1", "dead-2"]
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 2)


def test_maximum_concurrency_bounds_the_batches_in_flight(emulator, tmp_path):
    handler = """
import os, time

def handler(event, context):
    open(os.path.join(os.environ["STARTED"], context.aws_request_id), "w").close()
    while not os.path.exists(os.environ["RELEASE"]):
        time.sleep(0.02)
"""
    url, arn, _ = _queue_with_dlq(emulator, "esm-bounded", max_receive_count=5)
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()
    create_function(emulator, "esm-bounded", handler, Timeout=60,
                    env={"STARTED": str(started), "RELEASE": str(release)})  # fmt: skip
    emulator.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="esm-bounded", BatchSize=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )  # fmt: skip
    sqs = emulator.client("sqs")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(5)]
    )
    poll(lambda: len(list(started.iterdir())) >= 2)
    # Two batches hold their workers; the other three messages are not even received
    visible = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "3"
    assert len(list(started.iterdir())) == 2
    release.touch()
    poll(lambda: _messages(sqs, url) == 0)
    assert len(list(started.iterdir())) == 5


def test_messages_sent_while_batches_are_deleted_are_never_lost(emulator, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    url, _, _, records, _ = _mapped(emulator, tmp_path, "esm-concurrent")

    def send(sender: int) -> None:
        client = emulator.client("sqs")
        for n in range(50):
            client.send_message(QueueUrl=url, MessageBody=f"{sender}-{n}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(4)))
    poll(lambda: _messages(emulator.client("sqs"), url) == 0, timeout=60)
    delivered = {r["body"] for batch in _batches(records) for r in batch}
    assert delivered == {f"{sender}-{n}" for sender in range(4) for n in range(50)}
