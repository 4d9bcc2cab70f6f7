"""A live baseline on the fold path: key items marked for the fold, and no totals moved.

The bucket was tracked by the transaction path before (its key items and totals counted
themselves). A live baseline with the fold's write path rewrites only the keys the listing
shows differently, each marked ``f`` = 1 in the transaction that carries the range's cursor;
the totals, the prefix totals and the points stay as they were (the fold counts the marked key
items), and the finish sets nothing. A quiet baseline on a fold stack is the one of today.
"""

from __future__ import annotations

import pytest

from s3sizer.lambdas import baseline, batch, rows
from s3sizer.lambdas import baseline_finish as ending
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.baseline_keys import Span, group_listing, stored_keys
from s3sizer.lambdas.history import History, ListedVersion
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import BUCKET, TABLE

DEPTH = 1


def listed(key: str, size: int) -> ListedVersion:
    return ListedVersion(key, None, size, True, False)


def bucket_items(ddb) -> dict:
    """Every item of the bucket outside its key partitions, by address."""
    found = {}
    pks = [lay.bucket_pk(BUCKET), lay.prefix_pk(BUCKET), lay.range_pk(BUCKET)]
    for pk in [*pks, lay.prefix_points_pk(BUCKET, "a/"), lay.prefix_points_pk(BUCKET, "b/")]:
        items = ddb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )["Items"]
        found |= {lay.address_id(i): i for i in items}
    return found


def tracked_before(ddb, clock) -> History:
    """The transaction path recorded three keys; one of them has gone from the bucket since."""
    hist = History(TABLE, ddb, now=clock, prefix_depth=DEPTH)
    apply_event(
        hist,
        events.envelope(
            events.created(BUCKET, "a/same", 5, "01"),
            events.created(BUCKET, "a/grown", 3, "01"),
            events.created(BUCKET, "b/gone", 4, "01"),
        ),
    )
    hist.write_path = "fold"
    return hist


def run(hist: History, listing: list, *, live: bool) -> tuple[baseline.Sums, list]:
    progress_items = []

    def progress(cursor: str, sums: baseline.Sums) -> dict:
        item = {**lay.range_address(BUCKET, "", False), "cursor": {"S": cursor}}
        progress_items.append(item)
        return item

    sums = baseline.merge(
        hist,
        BUCKET,
        group_listing(listing),
        stored_keys(hist, BUCKET, Span()),
        depth=DEPTH,
        unmarked_depth=DEPTH,
        recent_ms=lambda listed_at: None,
        live=live,
        progress=progress,
    )
    return sums, progress_items


def test_a_live_baseline_on_the_fold_path_marks_its_keys_and_moves_no_totals(ddb, clock):
    hist = tracked_before(ddb, clock)
    before = bucket_items(ddb)
    listing = [listed("a/grown", 30), listed("a/new", 7), listed("a/same", 5)]

    sums, progress_items = run(hist, listing, live=True)
    drift = ending.finish(hist, BUCKET, DEPTH, sums, hist.totals(BUCKET), mend=ending.FOLDED)

    items = {k: hist._get(lay.key_address(BUCKET, k)) for k in ("a/same", "a/grown", "a/new")}
    items["b/gone"] = hist._get(lay.key_address(BUCKET, "b/gone"))
    for key, item in items.items():  # every item the baseline rewrote is the fold's to count
        rewritten = key == "a/new" or item["rev"] != lay.n(1)
        assert (item.get(rows.FOLDED) == lay.n(1)) == rewritten, key
    assert {"a/grown", "b/gone"} <= {k for k, i in items.items() if i["rev"] == lay.n(2)}
    assert {k: lay.key_state_from(i).size for k, i in items.items()} == {
        "a/same": 5,
        "a/grown": 30,
        "a/new": 7,
        "b/gone": 0,
    }
    # the range's cursor landed with the keys; nothing else of the bucket moved
    after = bucket_items(ddb)
    cursor = lay.address_id(progress_items[-1])
    assert after.pop(cursor)["cursor"] == {"S": "b/gone"}
    assert after == before
    assert sums.totals_writes == 0
    assert (drift.total_size, drift.object_count) == (42, 3)
    assert (drift.drift_bytes, drift.drift_objects) == (42 - 12, 0)


def test_a_chunk_retries_a_key_the_tracker_wrote_meanwhile(ddb, clock):
    hist = tracked_before(ddb, clock)
    tracker = History(TABLE, ddb, now=clock, prefix_depth=DEPTH)
    tracker.write_path = "fold"

    class TrackerFirst:
        """The tracker writes "a/grown" again just before the baseline's first transaction."""

        def __init__(self, client):
            self._client, self.done = client, False

        def transact_write_items(self, **kwargs):
            if not self.done:
                self.done = True
                apply_event(tracker, events.envelope(events.created(BUCKET, "a/grown", 9, "02")))
            return self._client.transact_write_items(**kwargs)

        def __getattr__(self, name):
            return getattr(self._client, name)

    hist.client = TrackerFirst(ddb)
    hist.backoff = lambda attempt: None
    run(hist, [listed("a/grown", 30), listed("a/same", 5)], live=True)

    item = ddb.get_item(TableName=TABLE, Key=lay.key_address(BUCKET, "a/grown"))["Item"]
    # rev 1: the transaction path; 2: the tracker's fold write; 3: the baseline's merge of it
    assert (item["rev"], item[rows.FOLDED]) == (lay.n(3), lay.n(1))


def test_a_quiet_baseline_on_a_fold_stack_counts_its_keys_itself(ddb, clock):
    hist = History(TABLE, ddb, now=clock, prefix_depth=DEPTH)
    hist.write_path = "fold"
    listing = [listed("a/x", 4), listed("b/y", 6)]

    sums, _ = run(hist, listing, live=False)
    drift = ending.finish(hist, BUCKET, DEPTH, sums, hist.totals(BUCKET), mend=ending.ALWAYS)

    for key in ("a/x", "b/y"):
        assert rows.FOLDED not in hist._get(lay.key_address(BUCKET, key))
    assert (hist.totals(BUCKET).total_size, drift.total_size) == (10, 10)
    assert [(p.prefix, p.total_size) for p in hist.prefix_totals(BUCKET)] == [("b/", 6), ("a/", 4)]


def hot_key_history(ddb, clock, write_path: str, *, even_alone: bool) -> History:
    """A baseline's history whose client has another client put "a/k3" between the read and
    the write of every transaction that holds it beside another key (or, ``even_alone``, of
    every one that holds it)."""
    hist = tracked_before(ddb, clock)
    hist.write_path = write_path
    tracker = History(TABLE, ddb, now=clock, prefix_depth=DEPTH)
    tracker.write_path = write_path
    hot = lay.key_address(BUCKET, "a/k3")

    class BusyClient:
        def __init__(self, client):
            self._client, self.sequencer = client, 0x10

        def transact_write_items(self, **kwargs):
            keys = [i["Put"]["Item"] for i in kwargs["TransactItems"] if "Put" in i]
            keys = [k for k in keys if k["pk"]["S"].startswith(f"B#{BUCKET}#K")]
            holds_hot = any(lay.address_id(k) == lay.address_id(hot) for k in keys)
            if holds_hot and (even_alone or len(keys) > 1):
                self.sequencer += 1
                created = events.created(BUCKET, "a/k3", self.sequencer, f"{self.sequencer:02X}")
                apply_event(tracker, events.envelope(created))
            return self._client.transact_write_items(**kwargs)

        def __getattr__(self, name):
            return getattr(self._client, name)

    hist.client = BusyClient(ddb)
    hist.backoff = lambda attempt: None
    return hist


@pytest.mark.parametrize("write_path", ["fold", "transaction"])
def test_a_chunk_whose_keys_keep_moving_is_committed_in_parts(ddb, clock, write_path):
    """A client writes "a/k3" between the read and the write of every transaction that holds
    it beside another key: the chunk as a whole never lands (before, the baseline failed after
    30 attempts). The keys before it are committed on their own, then it alone, then the rest;
    each part's cursor lands with its keys, and the totals are the listing's."""
    hist = hot_key_history(ddb, clock, write_path, even_alone=False)
    listing = [listed(f"a/k{i}", 10 + i) for i in range(6)] + [listed("a/same", 5)]
    sums, progress_items = run(hist, listing, live=True)
    if write_path == "transaction":
        baseline.settle(hist, BUCKET, sums, lambda now: None)

    cursors = [i["cursor"]["S"] for i in progress_items]
    assert {"a/k2", "a/k3"} <= set(cursors) and cursors[-1] == "b/gone"
    sizes = {k: lay.key_state_from(hist._get(lay.key_address(BUCKET, k))).size for k in
             [f"a/k{i}" for i in range(6)]}  # fmt: skip
    assert sizes == {f"a/k{i}": 10 + i for i in range(6)}
    if write_path == "transaction":
        assert hist.totals(BUCKET).total_size == sum(10 + i for i in range(6)) + 5


@pytest.mark.parametrize("write_path", ["transaction", "fold"])
def test_a_key_that_moves_at_every_attempt_even_alone_stops_the_run_naming_it(
    ddb, clock, write_path
):
    # GIVEN a client that changes "a/k3" between the read and the write of every attempt
    hist = hot_key_history(ddb, clock, write_path, even_alone=True)
    listing = [listed(f"a/k{i}", 10 + i) for i in range(6)]

    # WHEN the live baseline merges it, THEN it stops on that key, after the keys before it
    # were committed
    with pytest.raises(baseline.KeyKeptMoving) as stopped:
        run(hist, listing, live=True)
    assert (stopped.value.key, stopped.value.attempts) == ("a/k3", batch.MAX_ATTEMPTS)
    sizes = {k: lay.key_state_from(hist._get(lay.key_address(BUCKET, k))).size
             for k in ("a/k0", "a/k1", "a/k2")}  # fmt: skip
    assert sizes == {"a/k0": 10, "a/k1": 11, "a/k2": 12}
