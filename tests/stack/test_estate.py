"""Many buckets in one stack: track and untrack as plans, restored exactly, and bad input."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.stack import steps as st
from s3sizer.stack.model import TRACKED_EVENTS, BucketSettings
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_buckets import plan_track, plan_untrack
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.state import Stack
from tests.stack.helpers import FOREIGN, run

TABLE = "S3-object-size-history"


@pytest.fixture
def deployed(stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("first", "second", "third"):
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket="second", Key="a/b/c", Body=b"12345")
    run(stack, plan_setup(stack, "first"))
    run(stack, plan_deploy(Stack(stack.aws), DeployOptions()))
    return Stack(stack.aws)


def notifications(bucket: str) -> dict:
    got = boto3.client("s3", region_name="us-east-1").get_bucket_notification_configuration(
        Bucket=bucket
    )
    got.pop("ResponseMetadata", None)
    return got


def pks() -> set[str]:
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]) for i in items}


def test_track_on_a_deployed_stack_routes_the_bucket_then_records_its_baseline(deployed):
    plan = plan_track(deployed, ["second"], prefix_depth=2)

    kinds = [type(step).__name__ for step in plan.steps]
    # Its settings first (the tracker ignores a bucket without them), then the queue admits it,
    # then its entry; the baseline once events flow.
    # The tracker's role may poll its unfinished uploads, which are polled once at the end.
    assert kinds == [
        "PutBucket", "PutRolePolicy", "MarkBaselineDue", "SetQueueAttributes", "PutNotification",
        "RecordBaseline", "PollUploads",
    ]  # fmt: skip
    settings = plan.steps[0].settings
    assert (settings.bucket, settings.prefix_depth, settings.delivery) == ("second", 2, "sqs")
    assert plan.steps[5] == st.RecordBaseline("second", False, 2, 0)
    run(deployed, plan)

    assert plan_track(Stack(deployed.aws), ["second"], prefix_depth=2).steps == ()
    assert plan_deploy(Stack(deployed.aws), DeployOptions()).steps == ()
    totals = Stack(deployed.aws).history().totals("second")
    assert (totals.total_size, totals.object_count) == (5, 1)


def test_a_bucket_whose_event_types_are_taken_goes_through_the_one_rule(deployed):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_notification_configuration(
        Bucket="third",
        NotificationConfiguration={"QueueConfigurations": [FOREIGN]},
        SkipDestinationValidation=True,
    )

    plan = plan_track(deployed, ["third"])

    assert plan.steps[0].settings.delivery == "eventbridge"
    rule = next(step for step in plan.steps if isinstance(step, st.PutRule))
    assert rule.pattern["detail"] == {"bucket": {"name": ["third"]}}
    entry = next(step for step in plan.steps if isinstance(step, st.PutNotification))
    assert entry.configuration == {"QueueConfigurations": [FOREIGN], "EventBridgeConfiguration": {}}
    assert isinstance(plan.steps[-2], st.RecordBaseline)  # then its uploads polled once
    assert plan.steps[-1] == st.PollUploads(TABLE, "third")


def _until_the_baseline(plan: st.Plan) -> st.Plan:
    """The plan's steps before its baseline: what a run stopped during the baseline did."""
    cut = next(i for i, s in enumerate(plan.steps) if isinstance(s, st.RecordBaseline))
    return st.Plan(plan.title, plan.steps[:cut], plan.notes)


def test_a_track_or_setup_stopped_before_its_first_poll_polls_when_run_again(stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("first", "second"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="a/b", Body=b"123")
    run(stack, _until_the_baseline(plan_setup(stack, "first")))

    setup_again = plan_setup(Stack(stack.aws), None)
    assert [type(s).__name__ for s in setup_again.steps[-2:]] == ["RecordBaseline", "PollUploads"]
    run(stack, setup_again)
    run(stack, plan_deploy(Stack(stack.aws), DeployOptions()))
    run(stack, _until_the_baseline(plan_track(Stack(stack.aws), ["second"])))

    track_again = plan_track(Stack(stack.aws), ["second"])
    assert isinstance(track_again.steps[-2], st.RecordBaseline)
    assert track_again.steps[-1] == st.PollUploads(TABLE, "second")
    run(stack, track_again)
    assert plan_setup(Stack(stack.aws), None).steps == ()
    assert plan_track(Stack(stack.aws), ["second"]).steps == ()


def test_track_of_a_tracked_bucket_with_a_new_depth_is_a_planned_settings_change(deployed):
    run(deployed, plan_track(deployed, ["second"]))

    plan = plan_track(Stack(deployed.aws), ["second"], prefix_depth=3)

    assert [type(s).__name__ for s in plan.steps] == [
        "MarkBaselineDue",
        "PutBucket",
        "RecordBaseline",
    ]  # owed before the depth is stored
    assert plan.steps[1].settings.prefix_depth == 3


def test_untrack_restores_the_notifications_exactly_and_deletes_every_item(deployed):
    s3 = boto3.client("s3", region_name="us-east-1")
    theirs = {**FOREIGN, "Events": ["s3:ObjectRestore:*"]}
    s3.put_bucket_notification_configuration(
        Bucket="second",
        NotificationConfiguration={"QueueConfigurations": [theirs]},
        SkipDestinationValidation=True,
    )
    before = notifications("second")
    run(deployed, plan_track(deployed, ["second", "third"], prefix_depth=2))
    assert any(pk.startswith("B#second") for pk, _ in pks())

    run(deployed, plan_untrack(Stack(deployed.aws), ["second"]))

    assert notifications("second") == before
    assert not [pk for pk, _ in pks() if pk == "B#second" or pk.startswith("B#second#")]
    assert ("STACK", "BUCKET#second") not in pks()
    assert [b.bucket for b in Stack(deployed.aws).tracked()] == ["first", "third"]


def test_teardown_restores_every_bucket(deployed):
    # The first bucket had no configuration before setup; the fixture has routed it since.
    before = {"first": {}} | {name: notifications(name) for name in ("second", "third")}
    run(deployed, plan_track(deployed, ["second", "third"]))
    assert notifications("third")["QueueConfigurations"][0]["Events"] == list(TRACKED_EVENTS)

    run(deployed, plan_teardown(Stack(deployed.aws)))

    assert {name: notifications(name) for name in before} == before


def test_untrack_refuses_the_first_bucket_and_one_it_does_not_track(deployed):
    with pytest.raises(StackError, match="first bucket") as raised:
        plan_untrack(deployed, ["first"])
    assert "teardown" in raised.value.fix
    with pytest.raises(StackError, match="not tracked"):
        plan_untrack(deployed, ["third"])


def test_tracked_buckets_deleted_since_are_named_together_with_the_way_out(deployed):
    run(deployed, plan_track(deployed, ["second", "third"]))
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("second", "third"):
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)

    with pytest.raises(StackError, match="Buckets 'second', 'third' of stack") as raised:
        plan_deploy(Stack(deployed.aws), DeployOptions())
    assert raised.value.fix == "run `s3sizer untrack second third`"
    with pytest.raises(StackError, match=r"Bucket 'second' of stack .* is gone") as raised:
        Stack(deployed.aws).tracked_bucket_versioning("second", first=False)
    assert raised.value.fix == "run `s3sizer untrack second`"
    with pytest.raises(StackError) as raised:
        Stack(deployed.aws).tracked_bucket_versioning("second", first=True)
    assert raised.value.fix == "run `s3sizer teardown`, then `s3sizer setup` to start anew"


@pytest.mark.parametrize("planner", [plan_track, plan_untrack])
def test_track_or_untrack_of_an_invalid_name_is_a_usage_error_that_points_at_the_argument(
    deployed, planner
):
    from s3sizer.errors import UsageError

    with pytest.raises(UsageError) as refused:
        planner(deployed, ["second", "Bad_Name"])

    assert "Invalid bucket name 'Bad_Name'" in str(refused.value)
    assert "--bucket" not in refused.value.fix  # both take the names as arguments


def test_track_refuses_a_missing_bucket_one_elsewhere_and_one_another_stack_tracks(deployed):
    from s3sizer.aws import Aws
    from s3sizer.settings import Settings

    with pytest.raises(StackError, match="does not exist"):
        plan_track(deployed, ["nowhere-to-be-found"])
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    with pytest.raises(StackError, match="eu-west-1"):
        plan_track(deployed, ["elsewhere"])
    other = Stack(Aws(Settings(stack="other", region="us-east-1")))
    run(other, plan_setup(other, "third"))
    with pytest.raises(StackError, match="tracked by stack 'other'"):
        plan_track(deployed, ["third"])
    # Nothing changed: the stack still tracks its one bucket.
    assert [b.bucket for b in Stack(deployed.aws).tracked()] == ["first"]


def test_setup_refuses_a_bucket_another_stack_tracks(deployed):
    from s3sizer.aws import Aws
    from s3sizer.settings import Settings

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="second")
    run(deployed, plan_track(deployed, ["second"]))
    other = Stack(Aws(Settings(stack="other", region="us-east-1")))
    for bucket in ("first", "second"):
        with pytest.raises(StackError, match="tracked by stack 's3sizer'") as raised:
            plan_setup(other, bucket)
        assert "untrack" in raised.value.fix
    assert other.config is None  # nothing was created for the other stack


def invoke_statements() -> dict[str, dict]:
    policy = boto3.client("lambda", region_name="us-east-1").get_policy(
        FunctionName="s3sizer-size-tracking"
    )
    statements = json.loads(policy["Policy"])["Statement"]
    return {s["Sid"]: s for s in statements if s["Sid"].startswith("s3sizer-s3-invoke")}


def lambda_entries(bucket: str) -> list[str]:
    return [e["Id"] for e in notifications(bucket).get("LambdaFunctionConfigurations", [])]


def test_the_direct_route_serves_more_buckets_with_the_account_s_permission(deployed):
    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct")))
    assert set(invoke_statements()) == {"s3sizer-s3-invoke"}  # one bucket: that bucket's ARN

    plan = plan_track(Stack(deployed.aws), ["second"])
    kinds = [type(step).__name__ for step in plan.steps]
    # S3 may invoke the tracker for the new bucket before its entry names the tracker.
    assert kinds.index("AddPermission") < kinds.index("PutNotification")
    run(deployed, plan)

    statements = invoke_statements()
    account = statements["s3sizer-s3-invoke-account"]
    assert account["Condition"] == {"StringEquals": {"AWS:SourceAccount": "123456789012"}}
    assert "s3sizer-s3-invoke" in statements  # kept: no moment without a permission
    assert lambda_entries("second") == ["s3sizer-size-tracking"]
    assert [b.delivery for b in Stack(deployed.aws).tracked()] == ["direct", "direct"]

    # Back to the queue: every bucket leaves the direct route, and both statements go.
    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="sqs")))
    assert [b.delivery for b in Stack(deployed.aws).tracked()] == ["sqs", "sqs"]
    assert lambda_entries("first") == lambda_entries("second") == []
    assert invoke_statements() == {}


def test_a_stack_of_several_buckets_moves_to_the_direct_route_whole(deployed):
    run(deployed, plan_track(deployed, ["second", "third"]))
    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct")))

    assert [b.delivery for b in Stack(deployed.aws).tracked()] == ["direct"] * 3
    for bucket in ("first", "second", "third"):
        assert lambda_entries(bucket) == ["s3sizer-size-tracking"]
    assert "s3sizer-s3-invoke-account" in invoke_statements()


def test_the_direct_route_refuses_a_bucket_whose_events_another_entry_takes(deployed):
    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct")))
    boto3.client("s3", region_name="us-east-1").put_bucket_notification_configuration(
        Bucket="second",
        NotificationConfiguration={"QueueConfigurations": [FOREIGN]},
        SkipDestinationValidation=True,
    )

    with pytest.raises(StackError, match="direct route cannot share them") as refused:
        plan_track(Stack(deployed.aws), ["second"])
    assert "--delivery sqs" in refused.value.fix
    assert [b.bucket for b in Stack(deployed.aws).tracked()] == ["first"]


def test_tracked_lists_the_first_bucket_from_the_config_then_the_others_in_order(deployed):
    run(deployed, plan_track(deployed, ["third"]))
    run(deployed, plan_track(Stack(deployed.aws), ["second"]))

    tracked = Stack(deployed.aws).tracked()

    assert [b.bucket for b in tracked] == ["first", "third", "second"]
    assert isinstance(tracked[1], BucketSettings)


def test_each_bucket_has_its_own_alarm_which_untrack_removes(deployed):
    plan = plan_track(deployed, ["second"], alarm_above=5_000)
    alarm = next(step for step in plan.steps if isinstance(step, st.PutAlarm))

    assert alarm.name == "s3sizer-bucket-size-second"
    assert alarm.params["Dimensions"] == [{"Name": "Bucket", "Value": "second"}]
    run(deployed, plan)
    untrack = plan_untrack(Stack(deployed.aws), ["second"])
    assert st.DeleteAlarm("s3sizer-bucket-size-second") in untrack.steps


def _interrupt_baseline(bucket: str) -> None:
    """What a Ctrl-C during the bucket's baseline leaves: its state item still in progress."""
    state = lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=TABLE,
        Item={**state, "state": {"S": lay.BASELINE_RUNNING}, "run": {"S": "r"}, "depth": lay.n(1)},
    )


def test_track_or_setup_run_again_resumes_an_interrupted_baseline(deployed):
    """The same command run again resumes the baseline (status says so), even with no change of
    settings: it is not "up to date" while the bucket's totals are partial."""
    run(deployed, plan_track(deployed, ["second"]))
    for bucket in ("first", "second"):
        _interrupt_baseline(bucket)

    again = plan_track(Stack(deployed.aws), ["second"])
    setup_again = plan_setup(Stack(deployed.aws), "first")

    assert [type(s).__name__ for s in again.steps] == ["RecordBaseline"]
    assert [type(s).__name__ for s in setup_again.steps][-1] == "RecordBaseline"


def test_deploy_run_again_resumes_the_baselines_an_interrupted_deploy_left(deployed):
    """A deploy that changed the route, stopped during the baselines that change starts: its
    notifications are in place, so only the unfinished baselines are left for it to run."""
    run(deployed, plan_track(deployed, ["second"]))
    options = DeployOptions()
    assert plan_deploy(Stack(deployed.aws), options).steps == ()
    for bucket in ("first", "second"):
        _interrupt_baseline(bucket)

    again = plan_deploy(Stack(deployed.aws), options)

    assert [(type(s).__name__, s.target) for s in again.steps] == [
        ("RecordBaseline", "first"), ("RecordBaseline", "second"),
    ]  # fmt: skip
    run(deployed, again)
    assert plan_deploy(Stack(deployed.aws), options).steps == ()


def test_deploy_leaves_a_baseline_another_command_runs_now_and_says_so(deployed):
    _interrupt_baseline("first")
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=TABLE,
        Key=lay.address(lay.bucket_pk("first"), lay.BASELINE_SK),
        UpdateExpression="SET #o = :o, lease_until = :u",  # a reconcile in another terminal
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "other"}, ":u": lay.n(int(time.time()) + 60)},
    )

    plan = plan_deploy(Stack(deployed.aws), DeployOptions(memory={"size-tracking": 512}))
    run(deployed, plan)  # its own changes, stored; nothing waits on the other command

    assert not [s for s in plan.steps if isinstance(s, st.RecordBaseline)]
    assert "the baseline of first goes on in another s3sizer command" in plan.notes
    assert Stack(deployed.aws).config.memory["size-tracking"] == 512


def test_track_of_the_first_bucket_changes_its_settings_as_setup_would(deployed):
    plan = plan_track(deployed, ["first"], prefix_depth=2)

    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds[:3] == ["MarkBaselineDue", "PutConfig", "PutBucket"]
    assert kinds[-1] == "RecordBaseline"
    assert plan.steps[2].settings.prefix_depth == 2


def test_a_bucket_tracked_before_the_first_deploy_is_routed_by_deploy(stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("first", "second"):
        s3.create_bucket(Bucket=name)
    run(stack, plan_setup(stack, "first"))

    early = plan_track(Stack(stack.aws), ["second"])
    assert [type(s).__name__ for s in early.steps] == [
        "PutBucket", "RecordBaseline", "PutRolePolicy", "PollUploads",
    ]  # fmt: skip
    assert any("not deployed" in note for note in early.notes)
    run(stack, early)
    deploy = run(stack, plan_deploy(Stack(stack.aws), DeployOptions()))

    assert st.PutNotification("second", notifications("second"), "delivery sqs") in deploy.steps
    assert plan_deploy(Stack(stack.aws), DeployOptions()).steps == ()


def test_deploy_delivery_auto_gives_each_bucket_its_best_fit_again(deployed):
    """After `--delivery eventbridge` for all, `--delivery sqs` is refused where another entry
    takes the events: `auto` puts each bucket back on sqs, or eventbridge where taken."""
    boto3.client("s3", region_name="us-east-1").put_bucket_notification_configuration(
        Bucket="third",
        NotificationConfiguration={"QueueConfigurations": [FOREIGN]},
        SkipDestinationValidation=True,
    )
    run(deployed, plan_track(deployed, ["second", "third"]))
    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="eventbridge")))
    assert [b.delivery for b in Stack(deployed.aws).tracked()] == ["eventbridge"] * 3
    with pytest.raises(StackError, match="'third' already sends s3:ObjectCreated"):
        plan_deploy(Stack(deployed.aws), DeployOptions(delivery="sqs"))

    plan = plan_deploy(Stack(deployed.aws), DeployOptions(delivery="auto"))
    run(deployed, plan)

    assert "delivery: sqs (--delivery auto: its event types are free)" in plan.notes
    assert [b.delivery for b in Stack(deployed.aws).tracked()] == ["sqs", "sqs", "eventbridge"]
    assert Stack(deployed.aws).require_config().delivery == "sqs"
