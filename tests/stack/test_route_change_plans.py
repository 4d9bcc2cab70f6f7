"""A change of route owes each bucket it moves a baseline: marked before anything its events
travel by changes, so that a command stopped anywhere in between runs it when run again."""

from __future__ import annotations

import boto3
import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.stack import steps as st
from s3sizer.stack.baseline_ranges import baseline_state
from s3sizer.stack.plan_buckets import plan_track
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.state import Stack
from tests.stack.helpers import run
from tests.stack.test_estate import TABLE, _interrupt_baseline, deployed

__all__ = ["deployed"]  # the fixture, shared


def _run_through_route_change(stack, plan) -> None:
    """What a Ctrl-C right after S3 took the new notification configuration leaves."""
    kinds = [type(step).__name__ for step in plan.steps]
    upto = kinds.index("PutNotification") + 1
    assert kinds[upto] == "RecordBaseline" and "MarkBaselineDue" in kinds[:upto]
    run(stack, st.Plan(plan.title, plan.steps[:upto], plan.notes))


def test_a_route_change_stopped_before_its_baseline_starts_runs_it_when_run_again(deployed):
    """The route changes first: a command stopped before the baseline it owes has begun finds
    it owed when run again (status says so meanwhile), and then nothing more."""
    history = Stack(deployed.aws).history()
    _run_through_route_change(deployed, plan_track(Stack(deployed.aws), ["second"]))
    owed = {"state": "in_progress", "done": 0.0, "owed": True}
    assert baseline_state(history, "second") == owed
    again = plan_track(Stack(deployed.aws), ["second"])
    # and the first poll of its unfinished uploads, which the stopped run never reached
    assert [type(s).__name__ for s in again.steps] == ["RecordBaseline", "PollUploads"]
    run(deployed, again)

    options = DeployOptions(delivery="direct")  # in-process S3 keeps no EventBridge setting
    _run_through_route_change(deployed, plan_deploy(Stack(deployed.aws), options))
    assert baseline_state(history, "first") == owed
    again = plan_deploy(Stack(deployed.aws), options)
    assert ("RecordBaseline", "first") in [(type(s).__name__, s.target) for s in again.steps]
    run(deployed, again)

    assert baseline_state(history, "first") == {"state": "complete"}
    assert baseline_state(history, "second") == {"state": "complete"}
    assert plan_deploy(Stack(deployed.aws), options).steps == ()


def test_a_route_change_leaves_a_baseline_in_progress_to_resume(deployed):
    """A baseline already in progress (stopped before) is not marked afresh: its run resumes."""
    _interrupt_baseline("first")

    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="eventbridge")))

    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=TABLE, Key=lay.address(lay.bucket_pk("first"), lay.BASELINE_SK)
    )["Item"]
    assert item["state"]["S"] == lay.BASELINE_COMPLETE


def test_a_route_change_marks_every_baseline_it_owes_before_it_changes_what_they_share(deployed):
    """The queue's policy and the rule follow the new routes before each bucket's entry does,
    so a bucket not reached yet may lose events meanwhile: a deploy stopped there leaves every
    such bucket's baseline owed (status says so), and the same deploy run again runs them."""
    run(deployed, plan_track(deployed, ["second"]))
    options = DeployOptions(delivery="direct")
    plan = plan_deploy(Stack(deployed.aws), options)
    kinds = [type(step).__name__ for step in plan.steps]
    first_entry = kinds.index("PutNotification")
    marked = [s.bucket for s in plan.steps[:first_entry] if isinstance(s, st.MarkBaselineDue)]
    assert sorted(marked) == ["first", "second"]
    shared = ("SetQueueAttributes", "PutRule", "DeleteRule", "AddPermission")
    last_mark = max(i for i, kind in enumerate(kinds) if kind == "MarkBaselineDue")
    assert last_mark < min(i for i, kind in enumerate(kinds) if kind in shared)

    run(deployed, st.Plan(plan.title, plan.steps[:first_entry], plan.notes))
    history = Stack(deployed.aws).history()
    assert all(baseline_state(history, b)["state"] == "in_progress" for b in marked)

    again = plan_deploy(Stack(deployed.aws), options)
    assert {s.bucket for s in again.steps if isinstance(s, st.RecordBaseline)} == set(marked)
    run(deployed, again)
    assert all(baseline_state(history, b) == {"state": "complete"} for b in marked)
    assert plan_deploy(Stack(deployed.aws), options).steps == ()


def test_a_deploy_moving_to_the_fold_and_changing_route_runs_its_baseline_on_the_fold(deployed):
    """The tracker writes on the fold path before the route's baseline runs, and the config says
    so only at the plan's end: the baseline runs on the fold path (it leaves the totals to the
    fold), else it set the base totals beside rows that held the same changes."""
    plan = plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct", write_path="fold"))
    switch = _tracker_switch(plan)
    first = next(i for i, s in enumerate(plan.steps) if isinstance(s, st.RecordBaseline))
    stored = max(i for i, s in enumerate(plan.steps) if isinstance(s, st.PutConfig))
    assert switch < first < stored  # the stored config still says "transaction" while it runs


def _tracker_switch(plan) -> int:
    """The step that gives the tracker WRITE_PATH=fold."""
    return next(
        i
        for i, s in enumerate(plan.steps)
        if isinstance(s, st.UpdateFunctionConfiguration)
        and s.settings.get("Environment", {}).get("Variables", {}).get("WRITE_PATH") == "fold"
    )


def test_a_deploy_to_the_fold_stopped_after_the_tracker_s_switch_is_on_the_fold_since(deployed):
    """Its settings are stored at its end: until then the tracker is the truth. A baseline
    runs on the fold path, a plain deploy finishes the move, and the way back is refused."""
    from s3sizer.errors import StackError
    from s3sizer.stack.fold import as_running

    plan = plan_deploy(Stack(deployed.aws), DeployOptions(write_path="fold"))
    run(deployed, st.Plan(plan.title, plan.steps[: _tracker_switch(plan) + 1], plan.notes))
    stack = Stack(deployed.aws)
    assert stack.require_config().write_path == "transaction"  # stored at the plan's end

    assert as_running(stack, stack.require_config()).write_path == "fold"
    with pytest.raises(StackError, match="cannot go back to the transaction path"):
        plan_deploy(stack, DeployOptions(write_path="transaction"))
    again = plan_deploy(Stack(deployed.aws), DeployOptions())
    assert not any(  # nothing moves the tracker back
        isinstance(s, st.UpdateFunctionConfiguration) and s.name.endswith("size-tracking")
        for s in again.steps
    )
    run(deployed, again)
    assert Stack(deployed.aws).require_config().write_path == "fold"


def _queue_mappings(stack) -> list[dict]:
    from s3sizer.stack.routes.queue import queue_mappings

    return queue_mappings(stack, stack.arns(stack.require_config()).queue(stack.names.queue))


def test_a_move_to_the_direct_route_keeps_the_queue_s_mapping_to_apply_what_it_holds(deployed):
    """Messages still in the queue when the entry moves (and, on AWS, those S3 sends there while
    its new configuration takes effect) are applied, not stranded: a baseline that took a recent
    recorded change as newer than its listing counts on the changes after it arriving."""
    plan = plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct"))
    assert not any(isinstance(s, st.DeleteEventSourceMapping) for s in plan.steps)
    run(deployed, plan)
    stack = Stack(deployed.aws)
    assert stack.require_config().delivery == "direct"
    assert len(_queue_mappings(stack)) == 1
    assert plan_deploy(stack, DeployOptions()).steps == ()


def test_a_direct_stack_whose_queue_holds_messages_without_a_mapping_gets_it_back(deployed):
    """A move to the direct route by an earlier release deleted the mapping, stranding what the
    queue held: the next deploy brings the mapping back, and status counts what waits."""
    from s3sizer.stack.routes import DIRECT

    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct")))
    stack = Stack(deployed.aws)
    (mapping,) = _queue_mappings(stack)
    boto3.client("lambda", region_name="us-east-1").delete_event_source_mapping(
        UUID=mapping["UUID"]
    )
    url, sqs = stack.queue_url(stack.names.queue), boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=url)  # what in-process S3 sent it, with nothing polling
    assert plan_deploy(stack, DeployOptions()).steps == ()  # an empty queue needs no mapping

    sqs.send_message(QueueUrl=url, MessageBody="{}")
    plan = plan_deploy(Stack(deployed.aws), DeployOptions())
    assert [type(s).__name__ for s in plan.steps] == ["CreateEventSourceMapping"]
    assert DIRECT.status_rows(1, 0) == {"queued": 1, "dead_letters": 0}


def _kinds_at(plan, kind) -> list[int]:
    return [i for i, s in enumerate(plan.steps) if isinstance(s, kind)]


def test_a_route_change_drops_the_old_route_s_senders_only_after_the_entries_move(deployed):
    """Until its entry moves, a bucket's events take the old route: the queue's policy keeps
    the bucket as a sender, and the rule its place, until every entry has moved."""
    stack = Stack(deployed.aws)
    plan = plan_deploy(stack, DeployOptions(delivery="direct"))
    (entry,) = _kinds_at(plan, st.PutNotification)
    narrowed = [
        i
        for i in _kinds_at(plan, st.SetQueueAttributes)
        if plan.steps[i].name == stack.names.queue
        and "first" not in plan.steps[i].attributes["Policy"]
    ]
    assert narrowed and min(narrowed) > entry

    run(deployed, plan_deploy(Stack(deployed.aws), DeployOptions(delivery="eventbridge")))
    plan = plan_deploy(Stack(deployed.aws), DeployOptions(delivery="direct"))
    (entry,) = _kinds_at(plan, st.PutNotification)
    (deleted,) = _kinds_at(plan, st.DeleteRule)
    assert deleted > entry
    assert not any(isinstance(s, st.PutRule) for s in plan.steps[:entry])
