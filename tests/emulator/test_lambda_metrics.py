"""The metrics Lambda publishes about how long events waited for a function (IteratorAge,
AsyncEventAge), as the emulator's runtime runs them (emulator/lambda_metrics.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from .helpers import in_process, poll, zip_bytes
from .stream_helpers import STREAM_HANDLER, batches

REGION = "us-east-1"
FAILS_TWICE = """
import os

def handler(event, context):
    count = os.environ["COUNT_FILE"]
    seen = open(count).read() if os.path.exists(count) else ""
    open(count, "a").write("x")
    if len(seen) < 2:
        raise RuntimeError("not yet")
"""


@pytest.fixture
def aws():
    with in_process(retry_backoff=0.3) as emulator:
        yield emulator


def _function(aws, name: str, code: str, env: dict) -> None:
    role = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"], Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": code})}, Environment={"Variables": env},
    )  # fmt: skip


def _ages(aws, function: str, metric: str) -> tuple[int, float, float] | None:
    """How many datapoints the function has of ``metric``, and their least and greatest."""
    end = datetime.now(UTC) + timedelta(minutes=1)
    found = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=end - timedelta(minutes=10), EndTime=end, Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]  # fmt: skip
    if not found:
        return None
    count = sum(int(p["SampleCount"]) for p in found)
    return count, min(p["Minimum"] for p in found), max(p["Maximum"] for p in found)


def _once_there_are(aws, function: str, count: int) -> tuple[float, float]:
    """The least and greatest AsyncEventAge of the function once it has ``count`` of them."""

    def counted():
        found = _ages(aws, function, "AsyncEventAge")
        return found if found and found[0] == count else None

    _, least, greatest = poll(counted)
    return least, greatest


def test_a_stream_batch_held_by_its_window_is_as_old_as_the_window(aws, tmp_path):
    stream_arn = aws.client("dynamodb").create_table(
        TableName="aged", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]  # fmt: skip
    records = tmp_path / "records"
    _function(
        aws, "aged", STREAM_HANDLER,
        {"RECORD_FILE": str(records), "MODE": "raise", "BLOCK_FILE": str(tmp_path / "block")},
    )  # fmt: skip
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="aged", StartingPosition="TRIM_HORIZON",
        BatchSize=100, MaximumBatchingWindowInSeconds=1,
    )  # fmt: skip
    aws.client("dynamodb").put_item(TableName="aged", Item={"pk": {"S": "k"}})
    poll(lambda: batches(records) if records.exists() else None)
    count, _, age = poll(lambda: _ages(aws, "aged", "IteratorAge"))
    # The one record waited out the batching window before the mapping sent it.
    assert count == 1
    assert 1000 <= age < 30_000


def test_an_asynchronous_event_retried_ages_with_each_attempt(aws, tmp_path):
    _function(aws, "retried", FAILS_TWICE, {"COUNT_FILE": str(tmp_path / "count")})
    aws.client("lambda").invoke(FunctionName="retried", InvocationType="Event", Payload=b"{}")
    first, last = _once_there_are(aws, "retried", 3)
    # Three attempts: at once, then after the back-off (0.3 s) and twice it (0.6 s) more.
    assert first < 300
    assert last >= 900


SLEEPS = """
import time

def handler(event, context):
    time.sleep(0.4)
"""


def test_an_event_waiting_for_the_function_s_concurrency_counts_that_wait(tmp_path):
    # One instance at a time: the fourth event waits for three invocations of 0.4 s each.
    with in_process(retry_backoff=0.3, concurrency=1) as aws:
        _function(aws, "busy", SLEEPS, {})
        lam = aws.client("lambda")
        started = time.monotonic()
        for _ in range(4):
            lam.invoke(FunctionName="busy", InvocationType="Event", Payload=b"{}")
        queued_in_ms = (time.monotonic() - started) * 1000
        first, last = _once_there_are(aws, "busy", 4)
        assert first < 300
        # The fourth starts after three runs of 400 ms, the first of which began no earlier than
        # the first invoke; it was queued at most ``queued_in_ms`` after that (more on a busy
        # machine), so its wait is at least the difference.
        assert last >= 1200 - queued_in_ms - 50
