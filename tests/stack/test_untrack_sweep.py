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


class _Crashing:
    """The table's client, stopped by a Ctrl-C just before its ``at``-th write."""

    WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")

    def __init__(self, client, at: int):
        self._client, self._at, self.writes = client, at, 0

    def __getattr__(self, name):
        call = getattr(self._client, name)
        if name not in self.WRITES:
            return call

        def write(**kwargs):
            self.writes += 1
            if self.writes == self._at:
                raise KeyboardInterrupt
            return call(**kwargs)

        return write


@pytest.fixture
def table():
    """Only the table, on moto in this process."""
    from moto import mock_aws

    from s3sizer.lambdas.layout import table_definition

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(**table_definition(TABLE))
        yield ddb


def _seed(ddb, bucket: str) -> None:
    """A bucket's items as tracking leaves them, on the fold path, with one prefix (`gone/`)
    whose points only a fold row names any more."""
    from s3sizer.lambdas import layout as lay
    from s3sizer.lambdas.rows import LAST_SEQ, PREFIX_FIGURES, TOTALS_ROWS, WIDTH
    from s3sizer.stack.estate import settings_items
    from s3sizer.stack.model import BucketSettings

    figures = {"L": [{"N": "0"}] * (WIDTH + 1)}
    items = [
        *settings_items(BucketSettings(bucket, 1), "s3sizer"),
        lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK),
        lay.address(lay.bucket_pk(bucket), "H#2026-12-06T00:00:00.000Z#1"),
        {
            **lay.address(lay.bucket_pk(bucket), TOTALS_ROWS + "shard-1"),
            LAST_SEQ: {"S": "0042"},
            PREFIX_FIGURES: {"M": {"gone/": figures}},
        },
        {**lay.prefix_address(bucket, "logs/"), "prefix": {"S": "logs/"}},
        lay.address(lay.prefix_points_pk(bucket, "logs/"), "H#1"),
        lay.address(lay.prefix_points_pk(bucket, "gone/"), "H#1"),
        lay.address(lay.range_pk(bucket), "R#"),
        *(lay.key_address(bucket, f"logs/{i}") for i in range(40)),
    ]
    for start in range(0, len(items), 25):
        puts = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={TABLE: puts})


def _left(ddb, bucket: str) -> list[tuple[str, str]]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return sorted(
        (i["pk"]["S"], i["sk"]["S"])
        for i in items
        if i["pk"]["S"].startswith(f"B#{bucket}")
        or i["sk"]["S"] in (f"BUCKET#{bucket}", f"FORGET#{bucket}")
    )


def test_a_stop_at_any_write_is_finished_by_the_run_again(table):
    """Every write of an untrack, in turn, is where a Ctrl-C stops it; the run again leaves
    nothing of the bucket. One worker, so that the writes come in one order."""
    ddb = table
    how = {"sleep": lambda s: None, "workers": 1}
    at, finished = 0, False
    while not finished:
        at += 1
        bucket = f"crash-{at}"
        _seed(ddb, bucket)
        try:
            forget.forget_bucket(_Crashing(ddb, at), TABLE, bucket, **how)
            finished = True  # no write left to stop at
        except KeyboardInterrupt:
            assert _left(ddb, bucket)  # something is left, and the marker says so
            forget.forget_bucket(ddb, TABLE, bucket, **how)
        assert _left(ddb, bucket) == [], f"stopped at write {at}"
    assert at > 10  # the transaction, the totals, the row, the partitions, the marker


def test_a_ctrl_c_in_the_main_thread_stops_the_workers_and_is_raised(table, monkeypatch):
    ddb = table
    _seed(ddb, "main-stop")
    real_wait = forget.wait

    def interrupted(futures, **kwargs):
        real_wait(futures[:1])  # one partition swept, then the Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(forget, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        forget.forget_bucket(ddb, TABLE, "main-stop", sleep=lambda s: None)
    assert not [t for t in threading.enumerate() if t.name.startswith("untrack")]
    monkeypatch.undo()
    forget.forget_bucket(ddb, TABLE, "main-stop", sleep=lambda s: None)
    assert _left(ddb, "main-stop") == []


def test_a_throttled_partition_stops_at_once_when_told():
    asked, slept = [], []

    class Throttled:
        def query(self, **kwargs):
            return {"Items": [{"pk": {"S": "p"}, "sk": {"S": f"{i}"}} for i in range(30)]}

        def batch_write_item(self, RequestItems):
            asked.append(1)
            return {"UnprocessedItems": RequestItems}

    stopping = iter([False, False, True])
    delete_partition(Throttled(), TABLE, "p", sleep=slept.append, stop=lambda: next(stopping, True))
    assert len(asked) == 2 and len(slept) == 1  # not 30 attempts, nor an error


def test_a_leftover_goes_first_so_the_shared_steps_come_before_the_last_tracked_bucket(
    filled, monkeypatch
):
    _stopped_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run(filled, plan_untrack(Stack(filled.aws), ["second"]))
    monkeypatch.undo()
    run(filled, plan_track(Stack(filled.aws), ["third"]))

    plan = plan_untrack(Stack(filled.aws), ["third", "second"])

    forgets = [i for i, step in enumerate(plan.steps) if isinstance(step, st.ForgetBucket)]
    assert [plan.steps[i].bucket for i in forgets] == ["second", "third"]
    assert forgets[0] == 0
    assert isinstance(plan.steps[forgets[1] - 1], (st.PutRolePolicy, st.SetQueueAttributes))
    run(filled, plan)
    assert items_of("second") == items_of("third") == set()
