"""A change of prefix depth stopped part-way is finished before another depth is asked for:
the keys its run passed are counted at its depth, but only its end takes them out of the
deeper prefixes, so a run to a greater depth would count them there twice."""

from __future__ import annotations

import boto3
import pytest

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_buckets import plan_track
from s3sizer.stack.state import Stack
from tests.stack.helpers import run
from tests.stack.test_estate import TABLE, deployed  # noqa: F401  (the fixture)


def stopped_at_depth(bucket: str, depth: int) -> None:
    """What Ctrl-C during a run at ``depth`` leaves: its state item in progress at it."""
    state = lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)
    item = {**state, "state": {"S": lay.BASELINE_RUNNING}, "run": {"S": "r"}, "depth": lay.n(depth)}
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=TABLE, Item=item)


def test_another_depth_is_refused_until_the_stopped_change_is_finished(deployed):  # noqa: F811
    run(deployed, plan_setup(Stack(deployed.aws), "first", prefix_depth=1))
    stopped_at_depth("first", 1)  # the change to 1 stopped part-way

    with pytest.raises(StackError, match=r"prefix depth to 1 stopped part-way.*--prefix-depth 1"):
        plan_setup(Stack(deployed.aws), "first", prefix_depth=3)

    # the same depth again finishes it; the depth kept (none given) too
    for depth in (1, None):
        steps = plan_setup(Stack(deployed.aws), "first", prefix_depth=depth).steps
        assert type(steps[-1]).__name__ == "RecordBaseline"


def test_a_tracked_bucket_s_stopped_change_is_finished_first_too(deployed):  # noqa: F811
    run(deployed, plan_track(Stack(deployed.aws), ["second"], prefix_depth=1))
    stopped_at_depth("second", 1)

    with pytest.raises(StackError, match="stopped part-way"):
        plan_track(Stack(deployed.aws), ["second"], prefix_depth=2)
    assert plan_track(Stack(deployed.aws), ["second"], prefix_depth=1).steps
