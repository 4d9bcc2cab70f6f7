"""Each delivery route answers for itself: what it writes into the bucket, what the tracker's
role grants for it, and what status shows of it. The plans they make are in test_plans.py and
test_delivery.py."""

from __future__ import annotations

import pytest

from s3sizer.stack import iam
from s3sizer.stack.model import DELIVERY_ROUTES, Names
from s3sizer.stack.routes import DEFAULT, DIRECT, EVENTBRIDGE, ROUTES, SQS, WHEN_TAKEN

ARNS = iam.Arns(Names("s3sizer"), "aws", "123456789012", "us-east-1", "tracked")
TAKEN = {"Id": "theirs", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "Events": []}


def test_the_cli_offers_exactly_the_routes_there_are():
    assert tuple(ROUTES) == DELIVERY_ROUTES


def test_only_eventbridge_fits_beside_an_entry_that_takes_our_events():
    assert [r.name for r in ROUTES.values() if r.fits(TAKEN)] == [EVENTBRIDGE.name]
    assert all(r.fits(None) for r in ROUTES.values())
    assert WHEN_TAKEN.fits(TAKEN) and DEFAULT.fits(None)


@pytest.mark.parametrize(
    ("route", "kind", "target"),
    [
        (SQS, "QueueConfigurations", ARNS.queue(ARNS.names.queue)),
        (DIRECT, "LambdaFunctionConfigurations", ARNS.function("size-tracking")),
    ],
    ids=["sqs", "direct"],
)
def test_an_entry_route_points_its_entry_at_its_target(route, kind, target):
    ([entry],) = route.notifications(ARNS, "own", storage_classes=False).values()

    assert list(route.notifications(ARNS, "own", False)) == [kind]
    assert target in entry.values()


def test_eventbridge_writes_no_entry_but_turns_the_bucket_s_eventbridge_delivery_on():
    assert EVENTBRIDGE.notifications(ARNS, "own", True) == {"EventBridgeConfiguration": {}}
    assert EVENTBRIDGE.owns_eventbridge(False, {})
    assert not EVENTBRIDGE.owns_eventbridge(False, {"EventBridgeConfiguration": {}})
    assert not SQS.owns_eventbridge(True, {})


def test_only_the_direct_route_is_imposed_on_every_bucket_of_its_stack():
    assert {r.name: r.imposed_on_buckets() for r in ROUTES.values()} == {
        "sqs": None,
        "eventbridge": None,
        "direct": "direct",
    }


def test_the_tracker_s_role_holds_every_route_s_grants_once():
    statements = iam.policy_for("size-tracking", ARNS)["Statement"]
    granted = [s for r in ROUTES.values() for s in r.tracker_grants(ARNS)]

    assert all(statements.count(g) == 1 for g in granted)
    assert {g["Sid"] for g in granted} == {"PollQueue", "FailedEventsToDeadLetterQueue"}


def test_status_shows_the_queue_only_on_the_routes_that_pass_through_it():
    assert (
        SQS.status_rows(3, 2)
        == EVENTBRIDGE.status_rows(3, 2)
        == {
            "queued": 3,
            "dead_letters": 2,
        }
    )
    # On the direct route only what a route before left in the queue can be counted.
    assert DIRECT.status_rows(0, None) == {"queued": None, "dead_letters": 0}
    assert DIRECT.status_rows(3, None) == {"queued": 3, "dead_letters": 0}
