"""A chunk costs one read and one transaction; conflicts re-read only what moved. Counted."""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from s3sizer.lambdas import batch, records, size_tracking
from s3sizer.lambdas.history import History, ListedVersion
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import BUCKET, TABLE


class Recorder:
    """The real client, counting each call and the keys each BatchGetItem asks for."""

    def __init__(self, client, before_write=None):
        self._client = client
        self.calls: Counter[str] = Counter()
        self.reads: list[int] = []
        self._before_write = before_write

    def batch_get_item(self, RequestItems):
        self.calls["BatchGetItem"] += 1
        self.reads.append(sum(len(r["Keys"]) for r in RequestItems.values()))
        return self._client.batch_get_item(RequestItems=RequestItems)

    def transact_write_items(self, **kwargs):
        self.calls["TransactWriteItems"] += 1
        if self._before_write:
            rival, self._before_write = self._before_write, None
            rival()
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def puts(n: int, sequencer: str = "01", prefix: str = "") -> dict:
    return events.envelope(
        *(events.created(BUCKET, f"{prefix}k{i}", 1, sequencer) for i in range(n))
    )


@pytest.mark.parametrize(("n", "expected"), [(1, 2), (10, 2), (98, 2), (100, 4)])
def test_a_batch_costs_two_requests_per_chunk(ddb, clock, n, expected):
    recorder = Recorder(ddb)
    hist = History(TABLE, recorder, now=clock, prefix_depth=0)
    assert apply_event(hist, puts(n))["counts"]["applied"] == n
    assert sum(recorder.calls.values()) == expected
    assert hist.totals(BUCKET).total_size == n


def test_the_cost_does_not_grow_with_the_bucket(ddb, clock):
    costs = []
    for objects in (10, 3000):
        bucket = f"b{objects}"
        hist = History(TABLE, ddb, now=clock)
        hist.reset_from_listing(
            bucket, [ListedVersion(f"k{i}", None, 1, True, False) for i in range(objects)]
        )
        recorder = Recorder(ddb)
        hist = History(TABLE, recorder, now=clock)
        batch_ = events.envelope(
            events.created(bucket, "new", 5, "01"),
            events.created(bucket, "k3", 7, "01"),
            events.removed(bucket, "k4", "01"),
        )
        apply_event(hist, batch_)
        costs.append(recorder.calls)
        assert hist.totals(bucket).total_size == objects - 1 + 5 + 6
    assert costs[0] == costs[1] == Counter({"BatchGetItem": 1, "TransactWriteItems": 1})


def test_duplicates_cost_one_read_and_no_write(ddb, clock):
    hist = History(TABLE, ddb, now=clock)
    apply_event(hist, puts(5))
    recorder = Recorder(ddb)
    outcome = apply_event(History(TABLE, recorder, now=clock), puts(5))
    assert outcome["counts"]["duplicate"] == 5
    assert recorder.calls == Counter({"BatchGetItem": 1})


def test_a_totals_conflict_rereads_the_totals_alone(ddb, clock, sleeps):
    rival = History(TABLE, ddb, now=clock)
    recorder = Recorder(
        ddb, before_write=lambda: rival.apply(BUCKET, "other", "01", 100, event="ObjectCreated:Put")
    )
    hist = History(TABLE, recorder, now=clock, sleep=sleeps.append, prefix_depth=0)
    outcome = apply_event(hist, puts(20))
    assert outcome["counts"]["applied"] == 20 and outcome["counts"]["retries"] == 1
    assert recorder.reads == [22, 1]  # every key, the totals, the baseline; the totals alone
    assert recorder.calls["TransactWriteItems"] == 2 and len(sleeps) == 1
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.version) == (120, 21, 2)


def test_a_retry_waits_before_it_reads_again_so_what_it_read_goes_out_at_once(ddb, clock):
    # GIVEN a rival that moves the totals before the chunk's first transaction
    rival = History(TABLE, ddb, now=clock)
    order: list[str] = []
    recorder = Recorder(
        ddb, before_write=lambda: rival.apply(BUCKET, "other", "01", 100, event="ObjectCreated:Put")
    )
    reads, writes = recorder.batch_get_item, recorder.transact_write_items
    recorder.batch_get_item = lambda **kw: (order.append("read"), reads(**kw))[1]
    recorder.transact_write_items = lambda **kw: (order.append("write"), writes(**kw))[1]
    hist = History(TABLE, recorder, now=clock, sleep=lambda s: order.append("wait"))

    # WHEN the chunk is applied
    apply_event(hist, puts(3))

    # THEN the back-off comes between the failed write and the new read, not after the read
    # (a writer that never pauses would move the totals again during the wait)
    assert order == ["read", "write", "wait", "read", "write"]


def test_a_key_conflict_rereads_that_key_and_finds_it_stale(ddb, clock, sleeps):
    rival = History(TABLE, ddb, now=clock)
    recorder = Recorder(
        ddb, before_write=lambda: rival.apply(BUCKET, "k3", "02", 7, event="ObjectCreated:Put")
    )
    hist = History(TABLE, recorder, now=clock, sleep=sleeps.append, prefix_depth=0)
    outcome = apply_event(hist, puts(5))
    assert (outcome["counts"]["applied"], outcome["counts"]["stale"]) == (4, 1)
    assert recorder.reads == [7, 2]  # (with the baseline state) the key and the totals moved
    assert (hist.totals(BUCKET).total_size, hist.totals(BUCKET).object_count) == (11, 5)


class AlwaysCancelled:
    def __init__(self, client):
        self._client = client

    def transact_write_items(self, **kwargs):
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
        raise ClientError(error, "TransactWriteItems")

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_retries_are_bounded_and_jittered(ddb, clock, sleeps):
    hist = History(TABLE, AlwaysCancelled(ddb), now=clock, sleep=sleeps.append)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        hist.apply(BUCKET, "k", "01", 5, event="ObjectCreated:Put")
    assert len(sleeps) == batch.MAX_ATTEMPTS - 1
    assert all(0 <= s <= min(0.5, 0.01 * 2**i) for i, s in enumerate(sleeps))


class LeavesReadsUnprocessed:
    """The real client, but the first BatchGetItem answers only its first key."""

    def __init__(self, client):
        self._client, self.first = client, True

    def batch_get_item(self, RequestItems):
        if not self.first:
            return self._client.batch_get_item(RequestItems=RequestItems)
        self.first = False
        ((table, request),) = RequestItems.items()
        got = self._client.batch_get_item(
            RequestItems={table: {**request, "Keys": request["Keys"][:1]}}
        )
        got["UnprocessedKeys"] = {table: {**request, "Keys": request["Keys"][1:]}}
        return got

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_unprocessed_reads_are_asked_again(ddb, clock, sleeps):
    History(TABLE, ddb, now=clock).apply(BUCKET, "k1", "01", 5, event="ObjectCreated:Put")
    hist = History(TABLE, LeavesReadsUnprocessed(ddb), now=clock, sleep=sleeps.append)
    apply_event(hist, puts(3, sequencer="02"))
    assert (hist.totals(BUCKET).total_size, hist.totals(BUCKET).object_count) == (3, 3)
    assert len(sleeps) == 1


def test_the_same_key_several_times_in_a_batch_is_resolved_by_sequencer(hist):
    batch_ = events.envelope(
        events.created(BUCKET, "k", 30, "03"),
        events.created(BUCKET, "k", 10, "01"),
        events.removed(BUCKET, "k", "02"),
        events.created(BUCKET, "k", 30, "03"),
    )
    counts = apply_event(hist, batch_)["counts"]
    # walked in sequencer order: 10 B, then gone, then 30 B; the repeat is a duplicate
    assert (counts["applied"], counts["duplicate"], counts["stale"]) == (3, 1, 0)
    assert hist.totals(BUCKET).total_size == 30


def test_the_peak_inside_a_batch_follows_event_time(hist):
    big = events.created(BUCKET, "big", 100, "01", event_time="2026-11-24T21:06:05.100Z")
    gone = events.removed(BUCKET, "big", "02", event_time="2026-11-24T21:06:05.200Z")
    small = events.created(BUCKET, "small", 5, "01", event_time="2026-11-24T21:06:05.300Z")
    apply_event(hist, events.envelope(small, gone, big))
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.max_size) == (5, 100)


def test_a_prefix_conflict_rereads_the_prefix_and_the_totals(ddb, clock, sleeps):
    rival = History(TABLE, ddb, now=clock)
    recorder = Recorder(
        ddb,
        before_write=lambda: rival.apply(BUCKET, "p/other", "01", 100, event="ObjectCreated:Put"),
    )
    hist = History(TABLE, recorder, now=clock, sleep=sleeps.append, prefix_depth=1)
    assert apply_event(hist, puts(3, prefix="p/"))["counts"]["applied"] == 3
    assert recorder.reads == [6, 2]  # 3 keys, totals, "p/", baseline; then totals and "p/"
    assert [(p.prefix, p.total_size, p.object_count) for p in hist.prefix_totals(BUCKET)] == [
        ("p/", 103, 4)
    ]


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_a_large_batch_over_two_buckets_is_exact_in_any_number_of_chunks(ddb, clock, depth):
    recorder = Recorder(ddb)
    hist = History(TABLE, recorder, now=clock, prefix_depth=depth)
    bodies, expected = [], {"one": 0, "two": 0}
    for i in range(250):
        bucket = ("one", "two")[i % 2]
        key = f"p{i % 10}/q{i % 3}/r{i % 7}/k{i}"
        bodies.append(events.envelope(events.created(bucket, key, i, "01")))
        expected[bucket] += i
    outcome = apply_event(hist, events.sqs(*bodies))
    assert outcome == {"counts": outcome["counts"] | {"applied": 250}, "failed": []}
    for bucket, total in expected.items():
        assert (hist.totals(bucket).total_size, hist.totals(bucket).object_count) == (total, 125)
        by_prefix = {p.prefix: p.total_size for p in hist.prefix_totals(bucket, depth=1)}
        assert sum(by_prefix.values()) == (total if depth else 0)
    for plan in size_tracking.plan_chunks(records.messages(events.sqs(*bodies)), depth):
        assert batch.items_needed(plan.keys, plan.prefixes) <= batch.TRANSACTION_ITEMS
    assert recorder.calls["TransactWriteItems"] == recorder.calls["BatchGetItem"]
