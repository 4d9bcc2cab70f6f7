"""A stack deployed by the previous release moves to the many-bucket layout with `deploy`:
planned and shown like any change, then up to date, with its history kept.

The previous release's own code (the commit before the estate) builds the stack in a
subprocess against a moto server; this release plans and applies the upgrade against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from s3sizer.aws import Aws
from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.settings import Settings
from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.state import Stack

PREVIOUS_RELEASE = "089511a"
TABLE = "S3-object-size-history"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def previous_release(tmp_path) -> Path:
    """The previous release's package, from git (skipped where the history is not at hand)."""
    archive = tmp_path / "previous.tar"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(archive), PREVIOUS_RELEASE, "s3sizer"],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not in this checkout")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "previous", filter="data")
    return tmp_path / "previous"


@pytest.fixture
def endpoint(monkeypatch):
    from moto.moto_api._internal.models import moto_api_backend
    from moto.server import ThreadedMotoServer

    moto_api_backend.reset()  # the server shares moto's state with earlier in-process tests
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    yield f"http://{host}:{port}"
    server.stop()


def previous(code: Path, endpoint: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(code), "AWS_ENDPOINT_URL": endpoint}
    done = subprocess.run(
        [sys.executable, "-m", "s3sizer", *args], env=env, capture_output=True, text=True, cwd=code
    )
    assert done.returncode == 0, done.stderr


def test_deploy_upgrades_a_stack_of_the_previous_release(previous_release, endpoint):
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="logs/a", Body=b"123")
    s3.put_object(Bucket="kept", Key="logs/x/b", Body=b"4567")
    previous(previous_release, endpoint, "setup", "--bucket", "kept")
    previous(previous_release, endpoint, "deploy", "--no-layer")
    stack = Stack(Aws(Settings(stack="s3sizer", region="us-east-1", endpoint_url=endpoint)))
    before = stack.history().points("kept")
    assert stack.stored_buckets == {}  # the previous layout: one bucket, in the config only
    # Its tracker writes key items without their depth: a new depth waits for the new tracker.
    with pytest.raises(StackError, match="earlier release"):
        plan_setup(stack, "kept", prefix_depth=2)

    plan = plan_deploy(stack, DeployOptions())

    kinds = [type(step).__name__ for step in plan.steps]
    # The bucket's settings items before the new tracker, which reads them, is deployed.
    assert kinds.index("PutBucket") < kinds.index("UpdateFunctionCode")
    assert plan.steps[kinds.index("PutBucket")].settings.bucket == "kept"
    assert not any(isinstance(s, st.RecordBaseline | st.PutNotification) for s in plan.steps)
    Executor(stack, sleep=lambda s: None).run(plan)

    after = Stack(stack.aws)
    assert plan_deploy(after, DeployOptions()).steps == ()
    assert [b.bucket for b in after.tracked()] == ["kept"]
    assert after.history().points("kept") == before
    totals = after.history().totals("kept")
    assert (totals.total_size, totals.object_count) == (7, 2)

    # The previous release's key items count at its depth, which the settings item keeps when
    # the depth changes: the new prefixes take those keys whole.
    Executor(after, sleep=lambda s: None).run(plan_setup(after, "kept", prefix_depth=2))
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    item = ddb.get_item(TableName=TABLE, Key=lay.settings_address("kept"))["Item"]
    assert (item["prefix_depth"]["N"], item["unmarked_depth"]["N"]) == ("2", "1")
    prefixes = {p.prefix: p.total_size for p in Stack(stack.aws).history().prefix_totals("kept")}
    assert prefixes == {"logs/": 7, "logs/x/": 4}


@pytest.mark.parametrize(
    "variables",
    [
        {"TABLE_NAME": TABLE},  # the single-bucket release
        {"TABLE_NAME": TABLE, "BUCKET_SETTINGS": "table"},  # the first many-bucket release
    ],
)
def test_a_depth_change_waits_for_a_tracker_that_reads_unmarked_depths(variables):
    """Both earlier trackers count a key item without a depth at their own depth."""
    from s3sizer.stack.plan import _refuse_depth_change_under_an_earlier_tracker

    class Deployed:
        class names:
            stack = "s3sizer"

        def function_configuration(self, short):
            return {"Environment": {"Variables": variables}}

    deployed = Deployed()
    with pytest.raises(StackError, match="earlier release"):
        _refuse_depth_change_under_an_earlier_tracker(deployed)
    variables_now = {**variables, "BUCKET_SETTINGS": "table", "KEY_DEPTHS": "settings"}
    deployed.function_configuration = lambda short: {"Environment": {"Variables": variables_now}}
    _refuse_depth_change_under_an_earlier_tracker(deployed)  # this release's: no refusal
