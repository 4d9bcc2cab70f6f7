"""The uploads poll's schedule as deploy, setup and teardown plan it (moto in-process)."""

from __future__ import annotations

import json

import boto3
import pytest

from s3sizer.errors import UsageError
from s3sizer.stack import steps as st
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.state import Stack
from s3sizer.stack.uploads import check_every, rate_expression
from tests.stack.helpers import run

from .conftest import ACCOUNT

RULE = "s3sizer-uploads-poll"
TRACKER = "s3sizer-size-tracking"


def deploy(stack, **options) -> st.Plan:
    return run(stack, plan_deploy(Stack(stack.aws), DeployOptions(**options)))


def tracker_policy_sids() -> set[str]:
    client = boto3.client("lambda", region_name="us-east-1")
    try:
        policy = client.get_policy(FunctionName=TRACKER)["Policy"]
    except client.exceptions.ResourceNotFoundException:
        return set()
    return {s["Sid"] for s in json.loads(policy)["Statement"]}


def role_grants_the_poll() -> bool:
    document = boto3.client("iam", region_name="us-east-1").get_role_policy(
        RoleName="s3sizer-size-tracking-role", PolicyName="s3sizer-size-tracking-policy"
    )["PolicyDocument"]
    return any(s.get("Sid") == "PollUnfinishedUploads" for s in document["Statement"])


@pytest.fixture
def ready(stack):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="first")
    run(stack, plan_setup(stack, "first"))
    return stack


def test_rate_expressions_and_the_one_minute_floor():
    assert rate_expression(900) == "rate(15 minutes)"
    assert rate_expression(60) == "rate(1 minute)"
    assert rate_expression(3600) == "rate(1 hour)"
    assert rate_expression(5400) == "rate(90 minutes)"
    assert rate_expression(2 * 86400) == "rate(2 days)"
    assert check_every(0) == 0
    with pytest.raises(UsageError, match="at least 1 minute"):
        check_every(30)
    with pytest.raises(UsageError, match="whole minutes"):
        check_every(90)


def test_deploy_plans_the_schedule_then_nothing_then_removes_it_with_0(ready):
    plan = deploy(ready)

    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{RULE}"
    tags = {"s3sizer:stack": "s3sizer"}
    description = "Polls the unfinished uploads of s3sizer stack s3sizer's buckets"
    assert st.PutRule(RULE, None, description, tags, "rate(15 minutes)") in plan.steps
    assert st.AddPermission(TRACKER, RULE, rule_arn, "", "events.amazonaws.com") in plan.steps
    target = {"Id": RULE, "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{TRACKER}"}
    assert st.PutTarget(RULE, target) in plan.steps
    lines = [step.describe() for step in plan.steps]
    assert f"put event rule: {RULE} (rate(15 minutes))" in lines
    events = boto3.client("events", region_name="us-east-1")
    assert events.describe_rule(Name=RULE)["ScheduleExpression"] == "rate(15 minutes)"
    assert events.list_targets_by_rule(Rule=RULE)["Targets"][0]["Arn"] == target["Arn"]
    assert RULE in tracker_policy_sids()
    assert role_grants_the_poll()
    assert plan_deploy(Stack(ready.aws), DeployOptions()).steps == ()

    hourly = deploy(ready, uploads_every=3600)
    assert [type(s).__name__ for s in hourly.steps] == ["PutRule", "PutConfig"]
    assert events.describe_rule(Name=RULE)["ScheduleExpression"] == "rate(1 hour)"

    off = deploy(ready, uploads_every=0)
    assert st.DeleteRule(RULE, (RULE,)) in off.steps
    assert st.RemovePermission(TRACKER, RULE) in off.steps
    assert RULE not in {r["Name"] for r in events.list_rules()["Rules"]}
    assert RULE not in tracker_policy_sids()
    assert not role_grants_the_poll()
    assert Stack(ready.aws).config.uploads_every == 0
    assert plan_deploy(Stack(ready.aws), DeployOptions()).steps == ()  # it stays off


def test_setup_changes_the_schedule_of_a_deployed_stack_and_teardown_removes_it(ready):
    deploy(ready)

    plan = run(ready, plan_setup(Stack(ready.aws), None, uploads_every=1800))
    assert next(s for s in plan.steps if isinstance(s, st.PutRule)).schedule == "rate(30 minutes)"

    gone = run(ready, plan_teardown(Stack(ready.aws)))
    assert st.DeleteRule(RULE, (RULE,)) in gone.steps
    events = boto3.client("events", region_name="us-east-1")
    assert RULE not in {r["Name"] for r in events.list_rules()["Rules"]}


def test_setup_before_deploy_only_stores_the_setting(stack):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="first")

    plan = run(stack, plan_setup(stack, "first", uploads_every=0))

    assert not any(isinstance(s, (st.PutRule, st.PollUploads)) for s in plan.steps)
    assert not role_grants_the_poll()
    assert not any(isinstance(s, st.PutRule) for s in deploy(stack).steps)


def poll_grant() -> list[str]:
    document = boto3.client("iam", region_name="us-east-1").get_role_policy(
        RoleName="s3sizer-size-tracking-role", PolicyName="s3sizer-size-tracking-policy"
    )["PolicyDocument"]
    return next(
        s["Resource"] for s in document["Statement"] if s.get("Sid") == "PollUnfinishedUploads"
    )


def test_track_polls_a_new_bucket_once_and_untrack_withdraws_its_grant(ready):
    from s3sizer.lambdas.uploads import uploads_address
    from s3sizer.stack.plan_buckets import plan_track, plan_untrack

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="second")
    s3.create_multipart_upload(Bucket="second", Key="half.bin")
    deploy(ready)

    run(ready, plan_track(Stack(ready.aws), ["second"]))

    assert poll_grant() == [
        "arn:aws:s3:::first", "arn:aws:s3:::first/*",
        "arn:aws:s3:::second", "arn:aws:s3:::second/*",
    ]  # fmt: skip
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="S3-object-size-history", Key=uploads_address("second")
    )["Item"]
    assert item["uploads"] == {"N": "1"}

    run(ready, plan_untrack(Stack(ready.aws), ["second"]))

    assert poll_grant() == ["arn:aws:s3:::first", "arn:aws:s3:::first/*"]


def test_a_refused_write_to_the_table_is_not_blamed_on_the_s3_permissions():
    from botocore.exceptions import ClientError

    from s3sizer.stack.uploads import refresh_error

    denied = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}

    on_write = refresh_error("b", ClientError(denied, "PutItem"))
    on_list = refresh_error("b", ClientError(denied, "ListMultipartUploads"))

    assert "dynamodb:PutItem" in on_write.fix and "s3:" not in on_write.fix
    assert "s3:ListBucketMultipartUploads" in on_list.fix
