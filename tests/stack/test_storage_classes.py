"""`--storage-classes` as a planned change: stored per bucket, mirrored on its TOTALS item (the
tracker's switch), a baseline that takes the classes of the objects there, the lifecycle
transitions routed for those buckets only, the tracker's S3 lookups granted on them only."""

from __future__ import annotations

import boto3
import pytest

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.stack import routing
from s3sizer.stack import steps as st
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_buckets import plan_track
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.state import Stack
from tests.stack.helpers import FOREIGN, run


@pytest.fixture
def deployed(stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("first", "second", "third"):
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket="second", Key="a/cold", Body=b"12345", StorageClass="GLACIER")
    s3.put_object(Bucket="second", Key="warm", Body=b"123", StorageClass="STANDARD")
    run(stack, plan_setup(stack, "first"))
    run(stack, plan_deploy(Stack(stack.aws), DeployOptions()))
    run(stack, plan_track(Stack(stack.aws), ["second"]))
    return Stack(stack.aws)


def entry_events(bucket: str) -> list[str]:
    got = boto3.client("s3", region_name="us-east-1").get_bucket_notification_configuration(
        Bucket=bucket
    )
    return sorted(e for q in got.get("QueueConfigurations", []) for e in q["Events"])


def tracker_policy(stack) -> dict:
    return stack.role_policy("size-tracking")


def totals_item(stack, bucket: str) -> dict:
    history = stack.history()
    return history._get(lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK))


def test_track_storage_classes_is_a_planned_change_with_its_baseline(deployed):
    plan = plan_track(deployed, ["second"], storage_classes=True)

    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds == [
        "MarkBaselineDue",
        "PutBucket",
        "PutRolePolicy",
        "PutNotification",
        "RecordBaseline",
    ]
    assert plan.steps[1].settings.storage_classes is True
    run(deployed, plan)

    stack = Stack(deployed.aws)
    assert "s3:LifecycleTransition" in entry_events("second")
    assert "s3:LifecycleTransition" not in entry_events("first")
    lookup = tracker_policy(stack)["Statement"][-2]
    assert lookup["Resource"] == ["arn:aws:s3:::second/*"]
    item = totals_item(stack, "second")
    assert lay.tracks_classes(item)
    # The baseline took the classes from the listing: GLACIER's 5 bytes, STANDARD the rest.
    assert lay.classes_from(item) == {"GLACIER": [5, 0, 1, 0, 0]}
    assert plan_track(stack, ["second"], storage_classes=True).steps == ()

    off = plan_track(stack, ["second"], storage_classes=False)
    assert [type(s).__name__ for s in off.steps] == [
        "PutBucket",
        "PutRolePolicy",
        "PutNotification",
    ]
    run(stack, off)
    stack = Stack(deployed.aws)
    assert not lay.tracks_classes(totals_item(stack, "second"))
    assert "s3:GetObject" not in str(tracker_policy(stack))
    assert "s3:LifecycleTransition" not in entry_events("second")


def test_setup_storage_classes_on_a_deployed_stack_routes_the_first_bucket_s_transitions(deployed):
    plan = plan_setup(deployed, None, storage_classes=True)

    kinds = [type(step).__name__ for step in plan.steps]
    assert "PutNotification" in kinds and kinds[-1] == "RecordBaseline"
    run(deployed, plan)
    stack = Stack(deployed.aws)
    assert "s3:LifecycleTransition" in entry_events("first")
    assert lay.tracks_classes(totals_item(stack, "first"))
    assert plan_deploy(stack, DeployOptions()).steps == ()


def test_on_the_eventbridge_route_only_class_buckets_send_class_changes(deployed):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_notification_configuration(
        Bucket="third",
        NotificationConfiguration={"QueueConfigurations": [FOREIGN]},
        SkipDestinationValidation=True,
    )
    plan = plan_track(deployed, ["third"], storage_classes=True)

    rule = next(step for step in plan.steps if isinstance(step, st.PutRule))
    assert rule.pattern == {
        "source": ["aws.s3"],
        "$or": [
            {
                "detail-type": ["Object Created", "Object Deleted"],
                "detail": {"bucket": {"name": ["third"]}},
            },
            {
                "detail-type": ["Object Storage Class Changed"],
                "detail": {"bucket": {"name": ["third"]}},
            },
        ],
    }
    run(deployed, plan)
    events = boto3.client("events", region_name="us-east-1")
    stored = events.describe_rule(Name=rule.name)["EventPattern"]

    def matches(detail_type: str, bucket: str) -> bool:
        event = {
            "id": "1", "account": "123456789012", "source": "aws.s3", "time": "2026-11-24T21:06:05Z",
            "region": "us-east-1", "resources": [], "detail-type": detail_type,
            "detail": {"bucket": {"name": bucket}},
        }  # fmt: skip
        # moto's matcher (the emulator's), on the pattern PutRule accepted and stored
        from moto.events.models import EventPattern

        return EventPattern.load(stored).matches_event(event)

    assert matches("Object Storage Class Changed", "third")
    assert matches("Object Created", "third")
    assert not matches("Object Storage Class Changed", "other")
    # Past the pattern's limit, one pattern for the account, with the class changes.
    wide = routing.rule_pattern(["b" * 63] * 40, "123456789012", ["b" * 63])
    assert wide["detail-type"][-1] == "Object Storage Class Changed"


def test_a_bucket_whose_transitions_are_taken_goes_through_eventbridge(deployed):
    s3 = boto3.client("s3", region_name="us-east-1")
    theirs = {**FOREIGN, "Events": ["s3:LifecycleTransition"]}
    s3.put_bucket_notification_configuration(
        Bucket="third",
        NotificationConfiguration={"QueueConfigurations": [theirs]},
        SkipDestinationValidation=True,
    )
    assert plan_track(deployed, ["third"]).steps[0].settings.delivery == "sqs"
    assert plan_track(deployed, ["third"], storage_classes=True).steps[0].settings.delivery == (
        "eventbridge"
    )


def test_setup_storage_classes_refuses_a_first_bucket_whose_transitions_are_taken(deployed):
    s3 = boto3.client("s3", region_name="us-east-1")
    ours = s3.get_bucket_notification_configuration(Bucket="first")["QueueConfigurations"]
    theirs = {**FOREIGN, "Events": ["s3:LifecycleTransition"]}
    s3.put_bucket_notification_configuration(
        Bucket="first",
        NotificationConfiguration={"QueueConfigurations": [*ours, theirs]},
        SkipDestinationValidation=True,
    )

    # Refused while planning, so nothing is written: S3 would refuse the entry with the
    # transitions half way through, after the switch was already on.
    with pytest.raises(StackError, match="entry 'theirs'") as refused:
        plan_setup(deployed, None, storage_classes=True)
    assert "deploy --delivery eventbridge" in refused.value.fix
    assert not lay.tracks_classes(totals_item(Stack(deployed.aws), "first"))
