"""The whole lifecycle through the CLI on the local AWS, with the deployed zips really running."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.e2e.conftest import poll


def test_the_whole_lifecycle_through_the_cli(stack_cli, tmp_path):
    cli = stack_cli
    cli("setup")
    cli("deploy")

    driver = json.loads(cli("run-driver", "--pause", "0.2", "--json").stdout)
    status = json.loads(cli("status", "--json").stdout)
    history = json.loads(cli("history", "--json").stdout)
    cli("plot", "--out", str(tmp_path / "lambda.png"), "--window", "60")
    cli("plot", "--local", "--out", str(tmp_path / "local.png"), "--window", "60")
    logs = cli("logs", "size-tracking", "--since", "5m").stdout
    driver_logs = cli("logs", "driver", "--since", "5m").stdout
    tracker = cli.aws.client("lambda").get_function_configuration(
        FunctionName=f"{cli.stack}-size-tracking"
    )
    reconcile = json.loads(cli("reconcile", "--json").stdout)

    assert [op["op"] for op in driver["operations"]] == ["create", "overwrite", "delete", "create"]
    assert [p["total_size"] for p in history[-4:]] == [18, 27, 0, 2]
    assert (status["total_size"], status["object_count"], status["max_size"]) == (2, 1, 27)
    for png in ("lambda.png", "local.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and image.size[0] > 300
    # The tracker logs JSON at a system level of WARN: its batch lines, shown as text, and no
    # START or REPORT line of a good invocation; the driver keeps Lambda's default.
    assert tracker["LoggingConfig"]["SystemLogLevel"] == "WARN"
    assert "[INFO] batch: " in logs and "RequestId" not in logs and "platform." not in logs
    assert "Found " not in logs  # botocore's INFO lines on each cold start (credentials, endpoint)
    assert "START RequestId" in driver_logs and "REPORT RequestId" in driver_logs
    assert reconcile["drift_bytes"] == 0 and reconcile["drift_objects"] == 0

    cli("teardown", "--yes")

    assert cli.leftovers() == {}


def test_an_object_put_by_plain_boto3_is_tracked(stack_cli):
    cli = stack_cli
    cli("setup")
    cli("deploy")
    table = cli("run-driver", "--pause", "0").stdout
    assert "overwrite" in table and "assignment2.txt" in table

    cli.aws.client("s3").put_object(Bucket=cli.bucket, Key="red flower+1 ü.jpg", Body=b"x" * 1234)

    def tracked():
        status = json.loads(cli("status", "--json").stdout)
        return status["total_size"] == 1234 + 2 and status

    assert poll(tracked, timeout=20)["object_count"] == 2
    cli("teardown", "--yes")


def test_the_plot_never_feeds_back_into_the_series(stack_cli, tmp_path):
    cli = stack_cli
    cli("setup")
    cli("deploy")
    cli("plot", "--out", str(tmp_path / "p.png"))
    cli("plot", "--out", str(tmp_path / "p.png"))

    keys = [o["Key"] for o in cli.aws.client("s3").list_objects_v2(Bucket=cli.bucket)["Contents"]]
    status = json.loads(cli("status", "--json").stdout)
    reconcile = json.loads(cli("reconcile", "--json").stdout)

    assert keys == [".s3sizer/plot.png"]
    assert (status["total_size"], status["object_count"]) == (0, 0)
    assert reconcile["drift_bytes"] == 0
    cli("teardown", "--yes")


def _into_a_pipe(cli, *args: str):
    """`s3sizer ARGS` as its own process on the stack, its stdout and stderr pipes."""
    import os
    import subprocess
    import sys

    env = os.environ | {
        "AWS_ENDPOINT_URL": cli.aws.endpoint_url, "S3SIZER_STACK": cli.stack,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "s3sizer", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def _ends_normally(process) -> None:
    assert process.wait(timeout=60) == 0, process.stderr.read()
    assert process.stderr.read() == b""
    process.stderr.close()


@pytest.mark.parametrize(
    "command", [["teardown", "--dry-run"], ["deploy", "--dry-run"], ["--version"], []]
)
def test_a_pipe_closed_before_the_output_ends_the_command_normally(stack_cli, command):
    """`s3sizer teardown --dry-run | head -1`, the reader gone before the plan is written: rich
    exited 1 without a word; it is a normal end, exit 0, no message."""
    cli = stack_cli
    cli("setup")
    process = _into_a_pipe(cli, *command)
    process.stdout.close()
    _ends_normally(process)
    cli("teardown", "--yes")


def test_watch_into_a_pipe_closed_early_ends_normally(stack_cli):
    """`s3sizer watch | head -1`: the reader stopping is a normal end, exit 0, no message."""
    cli = stack_cli
    cli("setup")
    process = _into_a_pipe(cli, "watch", "--interval", "0.1s")
    process.stdout.readline()
    process.stdout.close()  # as `head -1` does once it has its line
    _ends_normally(process)
    cli("teardown", "--yes")


def test_on_the_direct_route_status_shows_how_long_events_waited_for_the_tracker(stack_cli):
    # Lambda's own queue of S3 events has no count: the age of the events it ran is the lag.
    from datetime import UTC, datetime, timedelta

    cli = stack_cli
    cli("setup")
    cli("deploy", "--delivery", "direct")
    cloudwatch = cli.aws.client("cloudwatch")

    def invocations_aged() -> int:
        end = datetime.now(UTC) + timedelta(minutes=1)
        found = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="AsyncEventAge",
            Dimensions=[{"Name": "FunctionName", "Value": f"{cli.stack}-size-tracking"}],
            StartTime=end - timedelta(minutes=10), EndTime=end, Period=60,
            Statistics=["SampleCount"],
        )["Datapoints"]  # fmt: skip
        return sum(int(point["SampleCount"]) for point in found)

    before = invocations_aged()  # S3's test event, sent as the entry was set
    s3 = cli.aws.client("s3")
    for n in range(3):
        s3.put_object(Bucket=cli.bucket, Key=f"direct/{n}", Body=b"x" * (10 + n))

    def tracked():
        status = json.loads(cli("status", "--json").stdout)
        return status["object_count"] == 3 and status

    status = poll(tracked, timeout=60)
    assert invocations_aged() >= before + 3  # one asynchronous invocation per object event
    assert status["delivery"] == "direct" and status["queued"] is None
    assert status["delivery_lag_s"] is not None and status["delivery_lag_s"] < 30
    assert "delivery lag " in cli("status").stdout
    cli("teardown", "--yes")
    assert cli.leftovers() == {}
