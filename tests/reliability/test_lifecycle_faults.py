"""Setup and deploy killed at each of their steps; an adopted bucket that must come out intact."""

from __future__ import annotations

import json

import pytest

from s3sizer.stack.apply import Executor


def plan_lengths() -> tuple[int, int]:
    """How many steps setup and then deploy plan on an empty account, asked of the planner."""
    import os
    from unittest import mock

    from moto import mock_aws

    from s3sizer.aws import Aws
    from s3sizer.settings import Settings
    from s3sizer.stack.plan import plan_setup
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
    from s3sizer.stack.state import Stack

    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with mock.patch.dict(os.environ, fake), mock_aws():
        aws = Aws(Settings(stack="count", region="us-east-1"))
        setup = plan_setup(Stack(aws), None)
        Executor(Stack(aws)).run(setup)
        return len(setup.steps), len(plan_deploy(Stack(aws), DeployOptions()).steps)


SETUP_STEPS, DEPLOY_STEPS = plan_lengths()


def die_after(monkeypatch, steps: int) -> None:
    """Make the executor fail right after it has run `steps` steps."""
    real_run = Executor.run

    def dying(self, plan, on_step=lambda step: None):
        done = []

        def count(step):
            if len(done) == steps:
                raise RuntimeError(f"killed after step {steps}")
            done.append(step)
            on_step(step)

        real_run(self, plan, count)

    monkeypatch.setattr(Executor, "run", dying)


@pytest.mark.heavy
@pytest.mark.parametrize("steps", range(SETUP_STEPS))
def test_teardown_removes_everything_after_setup_died_at_any_step(stack_cli, monkeypatch, steps):
    die_after(monkeypatch, steps)
    stack_cli("setup", code=1)
    monkeypatch.undo()

    stack_cli("teardown", "--yes")

    assert stack_cli.leftovers() == {}


@pytest.mark.heavy
@pytest.mark.parametrize("steps", range(DEPLOY_STEPS))
def test_teardown_removes_everything_after_deploy_died_at_any_step(stack_cli, monkeypatch, steps):
    stack_cli("setup")
    die_after(monkeypatch, steps)
    stack_cli("deploy", code=1)
    monkeypatch.undo()

    stack_cli("teardown", "--yes")

    assert stack_cli.leftovers() == {}


def bucket_contents(cli, bucket: str) -> dict[str, bytes]:
    s3 = cli.aws.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


# Heavy (8 s): tests/cli/test_adopt.py keeps an adopted bucket's objects and notifications
# through teardown in the default run.
@pytest.mark.heavy
def test_an_adopted_bucket_comes_out_with_the_same_objects_and_notifications(stack_cli):
    cli, bucket = stack_cli, f"{stack_cli.stack}-users-bucket"
    s3, sqs = cli.aws.client("s3"), cli.aws.client("sqs")
    s3.create_bucket(Bucket=bucket)
    objects = {"report.csv": b"a,b\n1,2\n", "photos/red flower.jpg": b"\xff" * 999, "ü+%.txt": b"1"}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    queue = sqs.create_queue(QueueName=f"users-queue-of-{cli.stack}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    # S3 validates a queue destination: its policy must let the bucket send, as on AWS.
    sender = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn["QueueArn"],
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [sender]})
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": policy})
    foreign = [{"Id": "users-own", "QueueArn": arn["QueueArn"], "Events": ["s3:ObjectTagging:*"]}]
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": foreign}
    )

    cli("setup", "--bucket", bucket)
    cli("deploy")
    driver = json.loads(cli("run-driver", "--pause", "0.1", "--json").stdout)
    status = json.loads(cli("status", "--json").stdout)
    cli("teardown", "--yes")

    starting = sum(map(len, objects.values()))
    assert [op["total_size"] - starting for op in driver["operations"]] == [18, 27, 0, 2]
    assert status["object_count"] == len(objects) + 1
    assert bucket_contents(cli, bucket) == objects
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert config["QueueConfigurations"] == foreign
    assert "LambdaFunctionConfigurations" not in config
    left = cli.leftovers()
    assert left == {"buckets": [bucket]}
