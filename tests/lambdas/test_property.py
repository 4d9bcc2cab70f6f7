"""Exact totals whatever S3, SQS and Lambda do: duplicates, any order, crashes and retries.

A sequence of operations is played on a model of S3 (each key's stack of versions, in an
unversioned, versioned or suspended bucket) and turned into the records S3 would send, with
real per-key sequencers, as classic notifications or EventBridge events. Those are delivered
duplicated, in any order, cut into SQS batches, with a crash before or after any one write
followed by a redelivery of the batch. Afterwards the totals and the prefix totals must equal
what a listing of the model shows (on the fold path, which writes key items only: the keys).
"""

from __future__ import annotations

import uuid
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas.history import History
from s3sizer.lambdas.layout import prefixes
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import TABLE

KEYS = ["a b.txt", "a+b", "100%", "dir/x y+z%20.txt", "dir/sub/ü", "dir//two"]
MODES = ["unversioned", "versioned", "suspended"]
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "delete", "delete-version"]),
        st.sampled_from(KEYS),
        st.integers(min_value=0, max_value=5 * 1024**3),
        st.integers(min_value=0, max_value=10),  # which version a delete-version picks
    ),
    min_size=1,
    max_size=16,
)


class Crash(Exception):
    """The function's container dies: nothing after this point of the invocation runs."""


class CrashOnce:
    """The real client, but the k-th write (TransactWriteItems, or on the fold path PutItem)
    crashes, before or after it lands."""

    def __init__(self, client, at: int | None, after: bool):
        self._client, self._at, self._after = client, at, after
        self._writes = count(1)

    def transact_write_items(self, **kwargs):
        return self._write("transact_write_items", kwargs)

    def put_item(self, **kwargs):
        return self._write("put_item", kwargs)

    def _write(self, name: str, kwargs: dict):
        write = getattr(self._client, name)
        if next(self._writes) != self._at:
            return write(**kwargs)
        if self._after:
            write(**kwargs)
        raise Crash

    def __getattr__(self, name):
        return getattr(self._client, name)


class ModelBucket:
    """What S3 does to each key's versions, and the record it sends for each operation."""

    def __init__(self, bucket: str, mode: str, eventbridge: bool):
        self.bucket, self.mode, self.eventbridge = bucket, mode, eventbridge
        self.stacks: dict[str, list[tuple[str, str, int]]] = {}  # oldest first: (vid, kind, size)
        self.sent: dict[str, int] = {}
        self.ids = count(1)

    def listing(self) -> dict[str, int]:
        return {k: s[-1][2] for k, s in self.stacks.items() if s and s[-1][1] == "object"}

    def play(self, op: str, key: str, size: int, pick: int) -> dict | None:
        stack = self.stacks.setdefault(key, [])
        versioned = self.mode == "versioned"
        if op == "put":
            # A suspended bucket holds versions from before the suspension too.
            real = versioned or (self.mode == "suspended" and size % 2)
            vid = f"v{next(self.ids)}" if real else "null"
            stack[:] = [e for e in stack if e[0] != vid] + [(vid, "object", size)]
            return self._record(key, vid, "created", size)
        if op == "delete" and self.mode == "unversioned":
            stack.clear()  # S3 sends the record even when there was nothing to delete
            return self._record(key, None, "gone")
        if op == "delete":
            vid = f"m{next(self.ids)}" if versioned else "null"
            stack[:] = [e for e in stack if e[0] != vid] + [(vid, "marker", 0)]
            return self._record(key, vid, "marker")
        if not stack:
            return None
        vid = stack[pick % len(stack)][0]
        stack[:] = [e for e in stack if e[0] != vid]
        return self._record(key, vid, "gone")

    def _record(self, key, vid, what, size=None) -> dict:
        n = self.sent[key] = self.sent.get(key, 0) + 1
        seq = events.sequencer(n, trim=n % 5)
        version = None if self.mode == "unversioned" else vid
        if self.eventbridge:
            kinds = {"gone": "Permanently Deleted", "marker": "Delete Marker Created"}
            return events.eventbridge(
                self.bucket, key, seq, size=size, version_id=version, deletion_type=kinds.get(what)
            )
        if what == "created":
            record = events.created(self.bucket, key, size, seq, version_id=version)
        elif what == "marker":
            record = events.removed(
                self.bucket, key, seq, kind="DeleteMarkerCreated", version_id=version
            )
        else:
            record = events.removed(self.bucket, key, seq, version_id=version)
        return events.envelope(record)


def deliver(bodies: list[dict], draw) -> list[dict]:
    """Duplicated, shuffled, and cut into SQS batches of one or more messages."""
    extra = draw(st.lists(st.sampled_from(bodies), max_size=6)) if bodies else []
    shuffled = draw(st.permutations(bodies + extra))
    batches = []
    while shuffled:
        size = draw(st.integers(1, 5))
        batches.append(events.sqs(*shuffled[:size]))
        shuffled = shuffled[size:]
    return batches


def by_prefix(listing: dict[str, int], depth: int) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for key, size in listing.items():
        for p in prefixes(key, depth):
            total = out.setdefault(p, [0, 0])
            total[0], total[1] = total[0] + size, total[1] + 1
    return {p: (s, c) for p, (s, c) in out.items()}


@pytest.mark.parametrize("write_path", ["transaction", "fold"])
def test_totals_equal_the_listing_after_any_delivery(ddb, clock, write_path):
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        operations=OPERATIONS,
        mode=st.sampled_from(MODES),
        eventbridge=st.booleans(),
        data=st.data(),
    )
    def check(operations, mode, eventbridge, data):
        bucket = f"b-{uuid.uuid4().hex}"  # fresh partitions per example, in one table
        model = ModelBucket(bucket, mode, eventbridge)
        bodies = [b for op in operations if (b := model.play(*op)) is not None]
        crash_at = data.draw(st.none() | st.integers(1, 2 * len(bodies) + 1), label="crash_at")
        client = CrashOnce(ddb, crash_at, after=data.draw(st.booleans(), label="after"))
        hist = History(TABLE, client, now=clock, prefix_depth=2)
        hist.write_path = write_path

        for batch in deliver(bodies, data.draw):
            try:
                failed = apply_event(hist, batch)["failed"]
            except Crash:
                failed = events.message_ids(batch)
            # The queue delivers the failed messages again (alone, here).
            retry = {"Records": [m for m in batch["Records"] if m["messageId"] in failed]}
            if retry["Records"]:
                assert apply_event(hist, retry)["failed"] == []

        listing = model.listing()
        states = {s.key: s.size for s in hist.keys(bucket) if s.exists}
        assert states == listing
        if write_path == "fold":
            return  # the key items are the fold's to count (tests/lambdas/test_key_writes.py)
        totals = hist.totals(bucket)
        assert (totals.total_size, totals.object_count) == (sum(listing.values()), len(listing))
        recorded = {p.prefix: (p.total_size, p.object_count) for p in hist.prefix_totals(bucket)}
        assert recorded == {p: t for p, t in by_prefix(listing, 2).items() if t[1] > 0}

    check()
