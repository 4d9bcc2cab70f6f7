"""Untrack's deletion of a bucket's items: partitions side by side, every item counted, and a
run stopped half-way finished by `untrack` (or `track`) of the bucket run again."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from s3sizer.stack import forget
from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.plan_buckets import plan_track, plan_untrack
from s3sizer.stack.state import Stack
from s3sizer.stack.sweep import delete_partition
from tests.stack.helpers import run
from tests.stack.test_estate import TABLE, deployed, notifications, pks  # noqa: F401

OBJECTS = 300


def items_of(bucket: str) -> set[tuple[str, str]]:
    return {(pk, sk) for pk, sk in pks() if pk == f"B#{bucket}" or pk.startswith(f"B#{bucket}#")}


@pytest.fixture
def filled(deployed):  # noqa: F811 - the fixture imported above
    s3 = boto3.client("s3", region_name="us-east-1")
    for i in range(OBJECTS):
        s3.put_object(Bucket="second", Key=f"d{i % 7}/k{i:04d}", Body=b"x" * (i % 13))
    run(deployed, plan_track(deployed, ["second"], prefix_depth=1))
    assert len(items_of("second")) > OBJECTS  # the key items, and totals, prefixes, points
    return Stack(deployed.aws)


def test_the_partitions_are_swept_side_by_side_and_every_item_is_counted(filled, monkeypatch):
    before = items_of("second")
    at_once, most, lock = [0], [0], threading.Lock()

    def watched(*args, **kwargs):
        with lock:
            at_once[0] += 1
            most[0] = max(most[0], at_once[0])
        try:
            time.sleep(0.05)  # each partition's sweep lasts long enough for the others to start
            return delete_partition(*args, **kwargs)
        finally:
            with lock:
                at_once[0] -= 1

    monkeypatch.setattr(forget, "delete_partition", watched)
    counted: list[int] = []
    forget.forget_bucket(
        boto3.client("dynamodb", region_name="us-east-1"), TABLE, "second",
        sleep=lambda s: None, on_deleted=counted.append,
    )  # fmt: skip

    assert items_of("second") == set()
    # Its settings item and its totals go one by one before the sweep.
    assert sum(counted) == len(before) - 2
    assert most[0] > 1
    assert ("STACK", "FORGET#second") not in pks()


def _stopped_after(monkeypatch, partitions: int) -> None:
    """A Ctrl-C once ``partitions`` partitions have been swept."""
    swept, lock = [0], threading.Lock()

    def stopping(*args, **kwargs):
        with lock:
            swept[0] += 1
            if swept[0] > partitions:
                raise KeyboardInterrupt
        return delete_partition(*args, **kwargs)

    monkeypatch.setattr(forget, "delete_partition", stopping)


def test_an_untrack_stopped_while_deleting_is_finished_by_untrack_run_again(filled, monkeypatch):
    _stopped_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run(filled, plan_untrack(Stack(filled.aws), ["second"]))
    monkeypatch.undo()

    stack = Stack(filled.aws)
    assert [b.bucket for b in stack.tracked()] == ["first"]  # its settings went first
    assert items_of("second")  # with items left, which only the marker now points to
    assert stack.unfinished_untracks == ["second"]

    plan = plan_untrack(stack, ["second"])

    assert [type(step) for step in plan.steps] == [st.ForgetBucket]  # its route is restored
    run(stack, plan)
    assert items_of("second") == set()
    assert Stack(filled.aws).unfinished_untracks == []
    assert notifications("second") == {}  # as before `track`, which found none


def test_track_of_a_bucket_whose_untrack_stopped_deletes_the_rest_first(filled, monkeypatch):
    _stopped_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        run(filled, plan_untrack(Stack(filled.aws), ["second"]))
    monkeypatch.undo()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.delete_object(Bucket="second", Key="d0/k0000")  # changed while untracked

    stack = Stack(filled.aws)
    plan = plan_track(stack, ["second"])

    kinds = [type(step) for step in plan.steps]
    assert kinds.index(st.ForgetBucket) < kinds.index(st.PutBucket)
    assert any("finishing the untrack of second" in note for note in plan.notes)
    # One worker: moto in this process is not safe for the live baseline's transactions side by
    # side (the emulator and AWS are).
    Executor(stack, sleep=lambda s: None, workers=1).run(plan)
    totals = Stack(filled.aws).history().totals("second")
    listed = [o for p in s3.get_paginator("list_objects_v2").paginate(Bucket="second")
              for o in p.get("Contents", [])]  # fmt: skip
    assert (totals.total_size, totals.object_count) == (sum(o["Size"] for o in listed), len(listed))
    assert Stack(filled.aws).unfinished_untracks == []


def test_untrack_still_refuses_a_bucket_it_never_tracked(filled):
    with pytest.raises(Exception, match="not tracked"):
        plan_untrack(filled, ["third"])
