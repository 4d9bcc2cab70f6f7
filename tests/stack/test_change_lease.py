"""One changing command at a time per stack: a second one, started while the first reads and
writes the stack, refuses with one line and changes nothing; a killed command's hold runs out."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from s3sizer import lifecycle
from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.stack import plan_buckets
from s3sizer.stack.change_lease import CHANGE_ADDRESS, ChangeLease
from s3sizer.stack.state import Stack
from tests.stack.test_estate import TABLE, notifications


@pytest.fixture
def aws(stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("first", "second", "third"):
        s3.create_bucket(Bucket=name)
    lifecycle.setup(stack.aws, "first")
    return stack.aws


def history(aws):
    from s3sizer.lambdas.history import History

    return History(TABLE, Stack(aws).client("dynamodb"))


def change_item(aws) -> dict | None:
    return history(aws)._get(CHANGE_ADDRESS)


def tracked(aws) -> list[str]:
    return sorted(Stack(aws).stored_buckets)


def test_a_command_refuses_while_another_changes_the_stack_and_changes_nothing(aws):
    other = ChangeLease(history(aws), "s3sizer", "track")
    other.acquire()
    before = notifications("second")

    with pytest.raises(StackError, match=r"Another s3sizer track is changing stack 's3sizer'"):
        lifecycle.track(aws, ["second"])

    assert tracked(aws) == ["first"]
    assert notifications("second") == before
    other.release()
    lifecycle.track(aws, ["second"])  # once it is given back
    assert tracked(aws) == ["first", "second"]
    assert change_item(aws) is None  # nothing of the hold is left


def test_a_dry_run_does_not_wait_for_the_stack_nor_hold_it(aws):
    other = ChangeLease(history(aws), "s3sizer", "deploy")
    other.acquire()
    try:
        plan = lifecycle.track(aws, ["second"], dry_run=True)
    finally:
        other.release()
    assert plan.steps


def test_a_killed_command_s_hold_runs_out_and_the_next_command_goes_on(aws):
    h = history(aws)
    stale = {**CHANGE_ADDRESS, "owner": {"S": "gone"}, "lease_until": lay.n(int(time.time()) - 1)}
    h.client.put_item(TableName=TABLE, Item={**stale, "command": {"S": "untrack"}})

    lifecycle.track(aws, ["second"])

    assert tracked(aws) == ["first", "second"]


def test_two_tracks_at_once_one_refuses_and_none_leaves_a_bucket_half_tracked(aws, monkeypatch):
    """The first reads the stack and plans; the second starts meanwhile. Without the hold each
    wrote back its own reading, and one bucket was left out of the queue's policy."""
    planning, go_on = threading.Event(), threading.Event()
    plan_track = plan_buckets.plan_track

    def slow_plan(stack, buckets, **options):
        plan = plan_track(stack, buckets, **options)
        planning.set()
        go_on.wait(10)
        return plan

    monkeypatch.setattr(plan_buckets, "plan_track", slow_plan)
    before_third = notifications("third")
    first = threading.Thread(target=lifecycle.track, args=(aws, ["second"]))
    first.start()
    assert planning.wait(10)
    try:
        with pytest.raises(StackError, match="Another s3sizer track is changing"):
            lifecycle.track(aws, ["third"])
    finally:
        go_on.set()
        first.join(30)

    assert tracked(aws) == ["first", "second"]
    assert notifications("third") == before_third


def test_teardown_gives_the_stack_up_with_its_table(aws):
    lifecycle.teardown(aws)  # the hold goes with the table, and giving it back does not fail

    with pytest.raises(StackError, match="not set up"):
        lifecycle.deploy(aws, lifecycle.LayerChoice(build=False))


def test_a_command_paused_past_its_hold_stops_before_its_next_step(aws, monkeypatch):
    """A laptop lid shut for minutes mid-command: its hold ran out and another command took
    the stack. Writing back what it read before would undo the other's change; it stops."""
    from s3sizer.stack import baseline_lease

    plan_track = plan_buckets.plan_track
    taken = []

    def paused_plan(stack, buckets, **options):
        plan = plan_track(stack, buckets, **options)
        later = baseline_lease._now() + 100  # the lid opens 100 s on
        monkeypatch.setattr(baseline_lease, "_now", lambda: later)
        other = ChangeLease(history(aws), "s3sizer", "untrack")
        other.acquire()  # the hold had run out: another command takes the stack
        taken.append(other)
        return plan

    monkeypatch.setattr(plan_buckets, "plan_track", paused_plan)
    before = notifications("second")
    try:
        with pytest.raises(StackError, match=r"This s3sizer track lost its hold on stack"):
            lifecycle.track(aws, ["second"])
    finally:
        for other in taken:
            other.release()

    assert tracked(aws) == ["first"]
    assert notifications("second") == before


def test_a_command_paused_while_another_tore_the_stack_down_stops_and_makes_nothing(
    aws, monkeypatch
):
    """Its renewal finds no table: the stack is gone, and going on would make orphans."""
    from s3sizer.stack import baseline_lease

    plan_track = plan_buckets.plan_track

    def paused_plan(stack, buckets, **options):
        plan = plan_track(stack, buckets, **options)
        later = baseline_lease._now() + 100
        monkeypatch.setattr(baseline_lease, "_now", lambda: later)
        lifecycle.teardown(aws)  # another command, once the hold ran out
        return plan

    monkeypatch.setattr(plan_buckets, "plan_track", paused_plan)
    before = notifications("second")

    with pytest.raises(StackError, match=r"This s3sizer track lost its hold on stack"):
        lifecycle.track(aws, ["second"])

    assert notifications("second") == before
    assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []
    assert boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", []) == []


def test_a_renewal_that_fails_in_passing_does_not_stop_a_command_within_its_lease(aws):
    from botocore.exceptions import ClientError

    from s3sizer.stack import baseline_lease

    lease = ChangeLease(history(aws), "s3sizer", "track")
    lease.acquire()
    try:
        throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")

        def refuse(**_):
            raise throttled

        real = lease.h.client
        lease.h.client = type("Throttled", (), {"update_item": staticmethod(refuse)})()
        try:
            lease.renewed_at = baseline_lease._now() - 40  # past two renewals, within the lease
            assert lease.confirm()
            lease.renewed_at = baseline_lease._now() - 70  # it may have run out: not known
            with pytest.raises(ClientError):
                lease.confirm()
        finally:
            lease.h.client = real
    finally:
        lease.release()
