"""Whole plans, compared by equality: the planner decides, the steps say exactly what to do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3sizer.errors import StackError
from s3sizer.stack import iam
from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import FUNCTIONS, StackConfig
from s3sizer.stack.plan import plan_setup, plan_teardown

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
            st.PutRolePolicy(role, f"s3sizer-{spec.short}-policy", iam.policy_for(spec.short, arns)),
        ]
    assert plan.steps == (
        st.CreateTable("S3-object-size-history", TAGS),
        st.PutConfig("S3-object-size-history", CONFIG),
        st.CreateBucket(BUCKET, "us-east-1", TAGS),
        *roles,
        st.RecordBaseline(BUCKET, False, 1, 0),
    )


def test_a_second_setup_plans_nothing(stack):
    Executor(stack).run(plan_setup(stack, None))
    stack.forget_config()

    assert plan_setup(stack, None).steps == ()


def test_teardown_of_nothing_plans_nothing(stack):
    assert plan_teardown(stack).steps == ()


def test_a_ttl_change_within_the_hour_is_refused_with_the_time_to_retry(stack):
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    Executor(stack).run(plan_setup(stack, None, 7, now=start))
    stack.forget_config()

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
