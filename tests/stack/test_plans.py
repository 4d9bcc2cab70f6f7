"""Whole plans, compared by equality: the planner decides, the steps say exactly what to do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3sizer.errors import StackError
from s3sizer.stack import iam
from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import FUNCTIONS, StackConfig, first_bucket_settings
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.state import Stack

from .conftest import ACCOUNT

BUCKET = f"s3sizer-{ACCOUNT}-us-east-1"
TAGS = {"s3sizer:stack": "s3sizer"}
CONFIG = StackConfig(stack="s3sizer", bucket=BUCKET, bucket_owned=True, region="us-east-1")


def test_setup_on_an_empty_account_creates_everything_in_order(stack):
    plan = plan_setup(stack, None)

    arns = stack.arns(CONFIG)
    roles = []
    for spec in FUNCTIONS:
        role = f"s3sizer-{spec.short}-role"
        roles += [
            st.CreateRole(role, f"Execution role of s3sizer-{spec.short}", TAGS),
            st.PutRolePolicy(
                role,
                f"s3sizer-{spec.short}-policy",
                # The tracker polls the bucket's unfinished uploads (every 15 minutes), and
                # may list its versions (a late create).
                iam.policy_for(spec.short, arns, polled=(BUCKET,), tracked=(BUCKET,)),
            ),
        ]
    assert plan.steps == (
        st.CreateTable("S3-object-size-history", TAGS),
        st.PutConfig("S3-object-size-history", CONFIG),
        # The first bucket's settings items, which the deployed tracker reads.
        st.PutBucket(
            "S3-object-size-history", first_bucket_settings(CONFIG), "s3sizer", "first bucket"
        ),
        st.CreateBucket(BUCKET, "us-east-1", TAGS),
        *roles,
        st.RecordBaseline(BUCKET, False, 1, 0),
    )


def test_a_second_setup_plans_nothing(stack):
    Executor(stack).run(plan_setup(stack, None))

    assert plan_setup(Stack(stack.aws), None).steps == ()


def test_teardown_of_nothing_plans_nothing(stack):
    assert plan_teardown(stack).steps == ()


def test_a_ttl_change_within_the_hour_is_refused_with_the_time_to_retry(stack):
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    Executor(stack).run(plan_setup(stack, None, 7, now=start))
    stack = Stack(stack.aws)

    with pytest.raises(StackError, match="one change per hour") as raised:
        plan_setup(stack, None, 0, now=start.replace(minute=30))
    assert "13:00:00Z" in raised.value.fix
    later = plan_setup(stack, None, 0, now=start.replace(hour=13, minute=1))
    assert st.SetHistoryTtl("S3-object-size-history", False, "expires_at") in later.steps


def test_a_bucket_in_another_region_is_refused_before_anything_is_created(stack):
    import boto3

    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    with pytest.raises(StackError, match="eu-west-1"):
        plan_setup(stack, "elsewhere")


def test_the_executor_refuses_a_step_it_does_not_know(stack):
    class Mystery(st.Step):
        target = "x"

    with pytest.raises(StackError, match="Unknown step"):
        Executor(stack).execute(Mystery())


def deploy_once(stack, **options) -> st.Plan:
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    plan = plan_deploy(Stack(stack.aws), DeployOptions(**options))
    Executor(Stack(stack.aws), sleep=lambda s: None).run(plan)
    return plan


# moto in-process drops EventBridgeConfiguration from GetBucketNotificationConfiguration; the
# emulator returns it, and tests/e2e runs the EventBridge route there.
@pytest.mark.parametrize("route", ["sqs", "direct"])
def test_every_route_deploys_then_is_up_to_date_then_tears_down_to_nothing(stack, route):
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    Executor(stack).run(plan_setup(stack, None))
    first = deploy_once(stack, delivery=route)
    again = plan_deploy(Stack(stack.aws), DeployOptions())

    assert f"delivery: {route}" in first.notes[0]
    assert again.steps == (), [s.describe() for s in again.steps]
    Executor(Stack(stack.aws)).run(plan_teardown(Stack(stack.aws)))
    assert plan_teardown(Stack(stack.aws)).steps == ()


def test_the_sqs_route_plans_its_queues_mapping_and_entry(stack):
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    Executor(stack).run(plan_setup(stack, None))
    plan = plan_deploy(Stack(stack.aws), DeployOptions())
    kinds = [type(step).__name__ for step in plan.steps]

    # The queues before the mapping and the entry that need them; the baseline after the entry;
    # the settings last, once everything they need exists.
    assert kinds[-6:] == [
        "CreateQueue",
        "CreateQueue",
        "CreateEventSourceMapping",
        "PutNotification",
        "RecordBaseline",
        "PutConfig",
    ]
    (mapping,) = [s for s in plan.steps if isinstance(s, st.CreateEventSourceMapping)]
    assert mapping.settings == {
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 1,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    }
    queues = {s.name: s.attributes for s in plan.steps if isinstance(s, st.CreateQueue)}
    assert queues["s3sizer-events-dlq"]["MessageRetentionPeriod"] == str(14 * 86400)
    assert int(queues["s3sizer-events"]["VisibilityTimeout"]) >= 6 * 30


def test_switching_the_architecture_updates_every_functions_code(stack):
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    Executor(stack).run(plan_setup(stack, None))
    deploy_once(stack)
    plan = plan_deploy(Stack(stack.aws), DeployOptions(architecture="arm64"))

    updated = [s for s in plan.steps if isinstance(s, st.UpdateFunctionCode)]
    assert {s.architecture for s in updated} == {"arm64"}
    assert len(updated) == len(FUNCTIONS)


def test_a_new_prefix_depth_reaches_a_deployed_tracker_before_the_baseline(stack):
    Executor(stack).run(plan_setup(stack, None))
    deploy_once(stack)

    plan = plan_setup(Stack(stack.aws), None, prefix_depth=3)

    kinds = [type(step).__name__ for step in plan.steps]
    # The bucket's settings item (which each chunk of the tracker reads) before the baseline.
    assert kinds == [
        "MarkBaselineDue",  # owed before the new depth is stored
        "PutConfig",
        "PutBucket",
        "UpdateFunctionConfiguration",
        "RecordBaseline",
    ]
    assert plan.steps[2].settings.prefix_depth == 3
    variables = plan.steps[3].settings["Environment"]["Variables"]
    assert variables["PREFIX_DEPTH"] == "3"
    assert plan.steps[4].prefix_depth == 3


def test_a_bucket_encrypted_with_a_kms_alias_grants_its_writers_the_key_by_arn(stack):
    import boto3

    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]
    boto3.client("kms", region_name="us-east-1").create_alias(
        AliasName="alias/users-key", TargetKeyId=key["KeyId"]
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="encrypted")
    s3.put_bucket_encryption(
        Bucket="encrypted",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/users-key",
                    }
                }
            ]
        },
    )

    plan = plan_setup(stack, "encrypted")

    policies = {s.role: s.document for s in plan.steps if isinstance(s, st.PutRolePolicy)}
    for role in ("s3sizer-plotting-role", "s3sizer-driver-role"):
        (grant,) = [g for g in policies[role]["Statement"] if g["Sid"] == "BucketKmsKey"]
        assert grant["Resource"] == [key["Arn"]]
        assert grant["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    tracker = policies["s3sizer-size-tracking-role"]["Statement"]
    assert not [g for g in tracker if g["Sid"] == "BucketKmsKey"]


def test_leaving_the_direct_route_removes_its_invoke_config_and_permission(stack):
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    Executor(stack).run(plan_setup(stack, None))
    deploy_once(stack, delivery="direct")

    plan = plan_deploy(Stack(stack.aws), DeployOptions(delivery="sqs"))

    removals = [
        s for s in plan.steps if isinstance(s, st.DeleteEventInvokeConfig | st.RemovePermission)
    ]
    assert removals == [
        st.DeleteEventInvokeConfig("s3sizer-size-tracking"),
        st.RemovePermission("s3sizer-size-tracking", stack.names.permission_sid),
    ]
    # Not before the bucket's entry stops invoking the tracker.
    kinds = [type(s) for s in plan.steps]
    assert kinds.index(st.PutNotification) < kinds.index(st.DeleteEventInvokeConfig)
    Executor(Stack(stack.aws), sleep=lambda s: None).run(plan)
    after = Stack(stack.aws)
    assert after.event_invoke_config("size-tracking") is None
    assert not after.has_invoke_permission()
    assert plan_deploy(after, DeployOptions()).steps == ()


def test_a_deploy_stores_its_settings_last_so_a_failed_one_leaves_the_old(stack, monkeypatch):
    from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy

    Executor(stack).run(plan_setup(stack, None))
    deploy_once(stack)
    plan = plan_deploy(Stack(stack.aws), DeployOptions(memory={"driver": 512}))

    def refused(self, step):
        raise StackError("Lambda refused the update", "fix it")

    monkeypatch.setattr(Executor, "_update_function_configuration", refused)
    with pytest.raises(StackError):
        Executor(Stack(stack.aws)).run(plan)

    assert isinstance(plan.steps[-1], st.PutConfig)
    assert plan.steps[-1].config.memory == {"driver": 512}
    assert Stack(stack.aws).config.memory == {}


def test_teardown_names_the_dead_letters_it_deletes_those_being_received_too(stack):
    # GIVEN a deployed stack whose DLQ holds two letters, one of them being received (a redrive)
    Executor(stack).run(plan_setup(stack, None))
    deploy_once(stack, delivery="sqs")
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName=stack.names.dead_letter_queue)["QueueUrl"]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1, VisibilityTimeout=300)

    # WHEN teardown is planned, THEN its notes count both
    notes = plan_teardown(Stack(stack.aws)).notes
    assert f"2 dead letters are deleted with {stack.names.dead_letter_queue}" in notes
