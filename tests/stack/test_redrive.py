"""redrive on the direct route: every letter it announces is applied, or it says what is left.

SQS is moto's; the tracker is a stand-in (moto runs Lambda functions only in Docker), failing
on the calls a test chooses.
"""

from __future__ import annotations

import io
import json

import pytest

from s3sizer import lifecycle
from s3sizer.context import StackContext
from s3sizer.errors import StackError
from s3sizer.stack.model import StackConfig
from s3sizer.stack.routes import queue

CONFIG = StackConfig(
    stack="s3sizer", bucket="tracked", bucket_owned=True, region="us-east-1", delivery="direct"
)


class Tracker:
    """Answers Invoke as Lambda does: a FunctionError for the calls numbered in `failing`."""

    def __init__(self, failing=()):
        self.failing = set(failing)
        self.calls = []

    def invoke(self, FunctionName, Payload):
        self.calls.append(json.loads(Payload))
        if len(self.calls) in self.failing:
            error = json.dumps({"errorMessage": "table not found"}).encode()
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(error)}
        return {"Payload": io.BytesIO(b"null")}


class Context(StackContext):
    def __init__(self, stack, tracker):
        super().__init__(stack, CONFIG)
        self.tracker = tracker

    def client(self, service):
        return self.tracker if service == "lambda" else super().client(service)


@pytest.fixture
def letters(stack):
    """A DLQ holding 15 failure records, as Lambda's on-failure destination writes them."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=stack.names.dead_letter_queue)["QueueUrl"]
    for n in range(15):
        record = {"requestPayload": {"Records": [{"n": n}]}, "responseContext": {}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    return url


def waiting(stack, url) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_a_failed_redrive_releases_its_letters_so_the_next_moves_every_one_at_once(stack, letters):
    with pytest.raises(StackError) as failed:
        lifecycle.redrive(Context(stack, Tracker(failing={3})))

    assert "after applying 2; 13 dead letters still wait" in str(failed.value)
    assert "table not found" in str(failed.value)
    # At once, not after the first redrive's visibility timeout: none is held back.
    fixed = Tracker()
    assert lifecycle.redrive(Context(stack, fixed)) == {"moved": 13, "moved_to": "tracker"}
    assert waiting(stack, letters) == 0
    assert sorted(call["Records"][0]["n"] for call in fixed.calls) == sorted(
        set(range(15)) - {0, 1}
    )


def test_letters_held_by_another_receiver_are_counted_and_the_redrive_fails(stack, letters):
    # An earlier redrive that died holding one letter: invisible for another minute.
    stack.client("sqs").receive_message(
        QueueUrl=letters, MaxNumberOfMessages=1, VisibilityTimeout=60
    )

    with pytest.raises(StackError) as failed:
        lifecycle.redrive(Context(stack, Tracker()))

    message = str(failed.value)
    assert "moved 14 of 15 dead letters; 1 dead letter still waits" in message
    assert "held by another receiver" in message
    assert "Run `s3sizer redrive` again" in message


def test_on_the_queue_routes_fewer_moved_than_announced_is_an_error_too(
    stack, letters, monkeypatch
):
    # SQS's move task takes what it can; here it moved 14 while one letter was held elsewhere.
    sqs = stack.client("sqs")
    sqs.receive_message(QueueUrl=letters, MaxNumberOfMessages=1, VisibilityTimeout=60)

    def moved_the_visible_ones(ctx, sleep):
        for _ in range(14):
            (message,) = sqs.receive_message(QueueUrl=letters, MaxNumberOfMessages=1)["Messages"]
            sqs.delete_message(QueueUrl=letters, ReceiptHandle=message["ReceiptHandle"])
        return 14

    monkeypatch.setattr(queue, "move_task", moved_the_visible_ones)
    queue_route = Context(stack, Tracker())
    queue_route.config = StackConfig(**{**CONFIG.__dict__, "delivery": "sqs"})

    with pytest.raises(StackError, match="moved 14 of 15 dead letters; 1 dead letter still waits"):
        lifecycle.redrive(queue_route)
