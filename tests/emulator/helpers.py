"""Helpers to start `python -m s3sizer.emulator --port 0` subprocesses and use them."""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
EXPORT_LINE = re.compile(r"^export AWS_ENDPOINT_URL=(http://[\d.]+:(\d+))$")


@dataclass
class RunningEmulator:
    process: subprocess.Popen
    endpoint_url: str
    port: int

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, read_timeout=30),
        )

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def emulator_env(**extra: str) -> dict[str, str]:
    """The test process's environment without AWS settings, so nothing reaches real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3SIZER_EMULATOR_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def start_emulator(
    *args: str, env: dict[str, str] | None = None, entry: str = "s3sizer.emulator"
) -> subprocess.Popen:
    """The emulator's stderr goes to a temporary file: an undrained pipe could block it.

    `entry` is what follows `python -m`: "s3sizer.emulator", or "s3sizer emulator" (the CLI).
    """
    stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", *entry.split(), *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env or emulator_env(),
        cwd=REPO_ROOT,
    )
    process.stderr_file = stderr
    return process


def stderr_of(process: subprocess.Popen) -> str:
    process.stderr_file.seek(0)
    return process.stderr_file.read()


def wait_for_export_line(process: subprocess.Popen, timeout: float = 20) -> RunningEmulator:
    """Read stdout until the export line, failing with the emulator's stderr if it exits first."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=deadline - time.monotonic()):
            line = process.stdout.readline()
            match = EXPORT_LINE.match(line.strip())
            if match:
                return RunningEmulator(process, match.group(1), int(match.group(2)))
            if not line:
                break
    process.kill()
    pytest.fail(f"the emulator printed no export line; stderr:\n{stderr_of(process)}")


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# What AWS's managed AWSLambdaBasicExecutionRole grants: Lambda writes a function's logs, and
# creates its log group, with the function's role.
BASIC_EXECUTION = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "*",
    }],
})  # fmt: skip


def role_arn(aws: RunningEmulator) -> str:
    iam = aws.client("iam")
    try:
        return iam.get_role(RoleName="emulator-test-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName="emulator-test-role", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        iam.put_role_policy(
            RoleName="emulator-test-role", PolicyName="logs", PolicyDocument=BASIC_EXECUTION
        )
        return arn


def create_function(
    aws: RunningEmulator, name: str, source: str, *, env: dict | None = None, **options
) -> str:
    """A function whose module `app` is `source`, handler app.handler; returns its ARN."""
    response = aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=options.pop("Role", None) or role_arn(aws),
        Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": source})},
        Environment={"Variables": env or {}},
        **options,
    )
    return response["FunctionArn"]


def notify_function(
    aws: RunningEmulator, bucket: str, function_arn: str, events: list[str]
) -> None:
    """Let S3 invoke the function, as S3 requires, then send the bucket's events to it."""
    aws.client("lambda").add_permission(
        FunctionName=function_arn,
        StatementId=f"s3-{bucket}",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    aws.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "size-tracking", "LambdaFunctionArn": function_arn, "Events": events}
            ]
        },
    )


def invoke(aws: RunningEmulator, name: str, event: dict | None = None, **options) -> dict:
    response = aws.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), **options
    )
    response["Body"] = json.loads(response["Payload"].read() or b"null")
    return response


def poll(check: Callable[[], object], timeout: float = 20, interval: float = 0.05):
    """The first truthy result of check(), or a failure once the deadline has passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout} s waiting for {check.__name__}")
        time.sleep(interval)


def read_records(path: Path) -> list[dict]:
    """The JSON lines a test handler appended to its RECORD_FILE."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# A handler that appends each event it receives to RECORD_FILE, one JSON line each.
RECORDING_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"event": event, "request_id": context.aws_request_id}) + "\\n")
    return {"ok": True}
"""


@contextmanager
def in_process(**settings) -> Iterator:
    """An emulator in this process, with `client(service)` added for the tests' own clients."""
    from s3sizer.emulator import Emulator

    with Emulator(port=0, **settings) as emulator:

        def client(service):
            return boto3.client(
                service, endpoint_url=emulator.endpoint_url, region_name=REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip

        emulator.client = client
        yield emulator
