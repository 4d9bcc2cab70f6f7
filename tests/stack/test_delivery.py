"""The delivery planner's pure decisions: overlaps, the route, the merged configuration."""

from __future__ import annotations

import pytest

from s3sizer.errors import StackError
from s3sizer.stack import delivery, routing
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import TRACKED_EVENTS, Names, StackConfig

OWN = "s3sizer-size-tracking"
ARNS = Arns(Names("s3sizer"), "aws", "123456789012", "us-east-1", "tracked")
CONFIG = StackConfig(stack="s3sizer", bucket="tracked", bucket_owned=False, region="us-east-1")
FOREIGN_QUEUE = {
    "Id": "theirs",
    "QueueArn": "arn:aws:sqs:us-east-1:123456789012:theirs",
    "Events": ["s3:ObjectCreated:*"],
}
TAGGING = {
    "Id": "tagging",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:tags",
    "Events": ["s3:ObjectTagging:*"],
}


@pytest.mark.parametrize(
    ("events", "overlaps"),
    [
        (["s3:ObjectCreated:*"], True),
        (["s3:ObjectCreated:Put"], True),
        (["s3:ObjectRemoved:DeleteMarkerCreated"], True),
        (["s3:LifecycleExpiration:Delete"], True),
        (["s3:ObjectTagging:*"], False),
        (["s3:ObjectRestore:Completed", "s3:Replication:*"], False),
    ],
)
def test_an_entry_overlaps_when_it_shares_an_event_type(events, overlaps):
    config = {"QueueConfigurations": [{"Id": "x", "QueueArn": "q", "Events": events}]}

    found = delivery.overlapping_entry(config, OWN)

    assert (found is not None) == overlaps


def test_an_overlapping_entry_names_only_the_event_types_that_overlap_ours():
    events = ["s3:ObjectRemoved:Delete", "s3:ObjectRestore:Completed"]
    config = {
        "LambdaFunctionConfigurations": [{"Id": "x", "LambdaFunctionArn": "f", "Events": events}]
    }

    found = delivery.overlapping_entry(config, OWN)

    assert found["Events"] == ["s3:ObjectRemoved:Delete"]
    assert config["LambdaFunctionConfigurations"][0]["Events"] == events  # the bucket's, as it is


def test_our_own_entry_never_overlaps():
    ours = {"Id": OWN, "QueueArn": "q", "Events": list(TRACKED_EVENTS)}

    assert delivery.overlapping_entry({"QueueConfigurations": [ours]}, OWN) is None


def test_the_route_is_sqs_by_default_and_eventbridge_when_our_events_are_taken():
    assert delivery.choose_route(None, CONFIG, {}, OWN)[0] == "sqs"
    route, why = delivery.choose_route(None, CONFIG, {"QueueConfigurations": [FOREIGN_QUEUE]}, OWN)
    assert route == "eventbridge"
    assert "theirs" in why


@pytest.mark.parametrize("asked", ["sqs", "direct"])
def test_a_route_that_would_overlap_is_refused_before_anything_is_done(asked):
    with pytest.raises(StackError, match="eventbridge"):
        delivery.choose_route(asked, CONFIG, {"QueueConfigurations": [FOREIGN_QUEUE]}, OWN)


def test_the_stored_route_is_kept_unless_it_now_overlaps():
    stored = StackConfig(**{**CONFIG.__dict__, "delivery": "direct"})
    assert delivery.choose_route(None, stored, {}, OWN)[0] == "direct"
    taken = {"QueueConfigurations": [FOREIGN_QUEUE]}
    assert delivery.choose_route(None, stored, taken, OWN)[0] == "eventbridge"


@pytest.mark.parametrize("route", ["sqs", "direct", "eventbridge"])
def test_every_route_keeps_other_entries_and_teardown_restores_the_original(route):
    original = {"TopicConfigurations": [TAGGING]}

    wired = delivery.desired_notifications(original, route, CONFIG, ARNS, OWN, eb_owned=True)
    restored = delivery.without_ours(wired, OWN, eb_owned=True)

    assert wired["TopicConfigurations"] == [TAGGING]
    assert ("EventBridgeConfiguration" in wired) == (route == "eventbridge")
    assert delivery.same_notifications(restored, original)
    assert restored == original


def test_eventbridge_that_the_user_turned_on_stays_on_after_teardown():
    original = {"EventBridgeConfiguration": {}}

    wired = delivery.desired_notifications(original, "eventbridge", CONFIG, ARNS, OWN, False)

    assert delivery.without_ours(wired, OWN, eb_owned=False) == original


def test_the_sqs_entry_points_at_the_stacks_queue_for_every_tracked_event():
    wired = delivery.desired_notifications({}, "sqs", CONFIG, ARNS, OWN, eb_owned=False)

    assert wired == {
        "QueueConfigurations": [
            {
                "Id": OWN,
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:s3sizer-events",
                "Events": list(TRACKED_EVENTS),
            }
        ]
    }


@pytest.mark.parametrize(
    ("route", "principal", "source"),
    [
        ("sqs", "s3.amazonaws.com", ["arn:aws:s3:::tracked"]),
        ("eventbridge", "events.amazonaws.com", ARNS.rule),
    ],
)
def test_a_queue_accepts_only_its_one_sender(route, principal, source):
    buckets = ["tracked"] if route == "sqs" else []
    rule = ARNS.rule if route == "eventbridge" else None
    policy = routing.queue_policy("arn:q", buckets, rule, ARNS, "123456789012")

    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": principal}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == "arn:q"
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": source}


def test_the_direct_route_needs_no_queue_policy():
    assert routing.queue_policy("arn:q", [], None, ARNS, "123456789012") is None


def test_leaving_eventbridge_turns_it_off_and_forgets_it_was_ours():
    wired = delivery.desired_notifications({}, "eventbridge", CONFIG, ARNS, OWN, eb_owned=True)

    # A later deploy on the queue route passes the stored ownership: EventBridge goes off.
    back = delivery.desired_notifications(wired, "sqs", CONFIG, ARNS, OWN, eb_owned=True)
    # The user turns it on again, for rules of their own: no longer s3sizer's to remove.
    theirs = {**back, "EventBridgeConfiguration": {}}

    assert "EventBridgeConfiguration" not in back
    assert delivery.without_ours(theirs, OWN, eb_owned=False)["EventBridgeConfiguration"] == {}
