"""Batched delivery from the outside: a burst, an adopted bucket whose events go elsewhere, and a
broken tracker whose events wait in the dead-letter queue until `redrive` applies them."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.emulator.helpers import poll
from tests.reliability.workload import drained_status, listing_totals

LAMBDA_AGENT = "exec-env/AWS_Lambda_"


def recorder(cli, action: str) -> bytes:
    method = "GET" if action.startswith("download") else "POST"
    url = f"{cli.aws.endpoint_url}/moto-api/recorder/{action}"
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as got:
        return got.read()


def tracker_dynamodb_requests(cli) -> int:
    """DynamoDB requests made from inside Lambda functions, by the recording's User-Agent."""
    count = 0
    for line in recorder(cli, "download-recording").decode().splitlines():
        headers = {k.lower(): v for k, v in json.loads(line).get("headers", {}).items()}
        if headers.get("x-amz-target", "").startswith("DynamoDB"):
            count += LAMBDA_AGENT in headers.get("user-agent", "")
    return count


def test_a_burst_from_many_clients_drains_exactly_at_a_fraction_of_a_request_per_event(stack_cli):
    stack_cli("setup")
    stack_cli("deploy")
    s3, bucket = stack_cli.aws.client("s3"), stack_cli.bucket
    recorder(stack_cli, "reset-recording")
    recorder(stack_cli, "start-recording")

    def client(number: int) -> int:
        keys = [f"burst/{number}/{i} +%ü.txt" for i in range(60)]
        for i, key in enumerate(keys):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (i + 1))
        for key in keys[:10]:
            s3.delete_object(Bucket=bucket, Key=key)
        return len(keys) + 10

    with ThreadPoolExecutor(12) as pool:
        events = sum(pool.map(client, range(12)))
    status = drained_status(stack_cli, timeout=60)
    recorder(stack_cli, "stop-recording")
    requests = tracker_dynamodb_requests(stack_cli)

    assert status["delivery"] == "sqs"
    assert status["dead_letters"] == 0
    assert (status["total_size"], status["object_count"]) == listing_totals(stack_cli)
    assert 0 < requests <= 0.25 * events, (requests, events)
    stack_cli("teardown", "--yes")


def test_an_adopted_bucket_whose_events_go_to_a_users_queue_is_tracked_through_eventbridge(
    stack_cli,
):
    aws, bucket = stack_cli.aws, f"{stack_cli.stack}-users-bucket"
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/a.bin", Body=b"a" * 100)
    queue = sqs.create_queue(QueueName=f"{stack_cli.stack}-users-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(policy)})
    users = {
        "QueueConfigurations": [
            {"Id": "users-own", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=users)
    before = s3.get_bucket_notification_configuration(Bucket=bucket)
    before.pop("ResponseMetadata")

    stack_cli("setup", "--bucket", bucket)
    plan = stack_cli("deploy").stdout
    s3.put_object(Bucket=bucket, Key="data/b.bin", Body=b"b" * 250)
    s3.put_object(Bucket=bucket, Key="c d+é.txt", Body=b"c" * 7)
    s3.delete_object(Bucket=bucket, Key="data/a.bin")
    status = poll(
        lambda: (s := json.loads(stack_cli("status", "--json").stdout))["total_size"] == 257 and s,
        timeout=30,
    )
    stack_cli("teardown", "--yes")
    after = s3.get_bucket_notification_configuration(Bucket=bucket)
    after.pop("ResponseMetadata")

    assert "eventbridge" in plan
    assert status["delivery"] == "eventbridge"
    assert status["object_count"] == 2
    assert after == before
    listing = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted((o["Key"], o["Size"]) for o in listing) == [("c d+é.txt", 7), ("data/b.bin", 250)]


@pytest.mark.heavy
def test_a_broken_tracker_keeps_its_events_as_dead_letters_until_redrive(stack_cli):
    stack_cli("setup")
    stack_cli("deploy")
    functions, s3 = stack_cli.aws.client("lambda"), stack_cli.aws.client("s3")
    tracker = f"{stack_cli.stack}-size-tracking"
    variables = functions.get_function_configuration(FunctionName=tracker)["Environment"]
    functions.update_function_configuration(
        FunctionName=tracker,
        Environment={"Variables": {**variables["Variables"], "TABLE_NAME": "no-such-table"}},
    )
    for i in range(5):
        s3.put_object(Bucket=stack_cli.bucket, Key=f"lost/{i}", Body=b"z" * 10)

    waiting = poll(
        lambda: json.loads(stack_cli("status", "--json").stdout)["dead_letters"] >= 5,
        timeout=60,
        interval=0.5,
    )
    assert waiting
    assert "dead letters" in stack_cli("status").stdout.lower()
    assert stack_cli("deploy").stdout  # deploy puts the function's configuration back
    moved = json.loads(stack_cli("redrive", "--yes", "--json").stdout)
    status = drained_status(stack_cli, timeout=60)

    assert moved["moved"] >= 5 and moved["moved_to"] == "queue"
    assert status["dead_letters"] == 0
    assert (status["total_size"], status["object_count"]) == (50, 5)
    stack_cli("teardown", "--yes")
