"""Settings that change the emulator's process: the concurrency bound, and moto's request
recorder, which sees the requests the functions make too."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from .helpers import (
    RunningEmulator,
    create_function,
    emulator_env,
    invoke,
    poll,
    start_emulator,
    wait_for_export_line,
)

pytestmark = pytest.mark.emulator
CONCURRENCY = 20  # more than the 16 delivery threads the emulator once had


@pytest.fixture(scope="module")
def configured(tmp_path_factory) -> Iterator[tuple[RunningEmulator, object]]:
    recording = tmp_path_factory.mktemp("recorder") / "recording"
    env = emulator_env(
        S3SIZER_EMULATOR_CONCURRENCY=str(CONCURRENCY), MOTO_RECORDER_FILEPATH=str(recording)
    )
    running = wait_for_export_line(start_emulator("--port", "0", env=env))
    yield running, recording
    running.stop()


WAITING_HANDLER = """
import os, time

def handler(event, context):
    open(os.path.join(os.environ["STARTED"], context.aws_request_id), "w").close()
    while not os.path.exists(os.environ["RELEASE"]):
        time.sleep(0.02)
"""


def test_the_concurrency_setting_bounds_asynchronous_invocations(configured, tmp_path):
    aws, _ = configured
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()
    create_function(
        aws, "wide", WAITING_HANDLER, Timeout=60,
        env={"STARTED": str(started), "RELEASE": str(release)},
    )  # fmt: skip
    for _ in range(CONCURRENCY + 2):
        invoke(aws, "wide", InvocationType="Event")
    # All CONCURRENCY run at once, and not one more while they hold their workers
    poll(lambda: len(list(started.iterdir())) >= CONCURRENCY, timeout=60)
    assert len(list(started.iterdir())) == CONCURRENCY
    release.touch()
    poll(lambda: len(list(started.iterdir())) == CONCURRENCY + 2, timeout=60)


DYNAMODB_HANDLER = """
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(TableName="recorded", Item={"pk": {"S": "x"}})
"""


def _moto_api(aws: RunningEmulator, path: str, method: str = "POST") -> bytes:
    request = urllib.request.Request(f"{aws.endpoint_url}/moto-api/recorder/{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def test_the_request_recorder_sees_the_requests_functions_make(configured):
    aws, _ = configured
    aws.client("dynamodb").create_table(
        TableName="recorded", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    create_function(aws, "recorded", DYNAMODB_HANDLER)
    _moto_api(aws, "reset-recording")
    _moto_api(aws, "start-recording")
    assert invoke(aws, "recorded")["StatusCode"] == 200
    _moto_api(aws, "stop-recording")
    entries = [
        json.loads(line) for line in _moto_api(aws, "download-recording", "GET").splitlines()
    ]
    targets = [
        {k.lower(): v for k, v in entry["headers"].items()}.get("x-amz-target", "")
        for entry in entries
    ]
    assert targets.count("DynamoDB_20120810.PutItem") == 1
    assert any("/functions/recorded/invocations" in entry["url"] for entry in entries)
