"""A live baseline's moves wait in its ranges' progress items and are settled into the totals now
and then: the totals' version moves seldom, so the tracker's batches commit beside a baseline,
and a crash on either side of a settle adds every move once."""

from __future__ import annotations

import random

import pytest

from s3sizer.lambdas import baseline
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History
from s3sizer.stack.baseline_ranges import baseline_state
from s3sizer.stack.baseline_run import BaselineRun, listing_client
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_run import BUCKET, assert_exact, keys, run

# The same local AWS and live bucket as the baseline's other tests.
stack, live = base.stack, base.live


def totals_writes(client) -> list[int]:
    """Counts, one per transaction of the baseline's (it carries a range's progress), of the
    items naming the totals."""
    counted: list[int] = []

    def count(params, **_) -> None:  # the call's parameters, before they are serialized
        keys = [
            w["Key" if "Key" in w else "Item"] for i in params["TransactItems"] for w in i.values()
        ]
        if any(k["pk"] == {"S": lay.range_pk(BUCKET)} for k in keys):
            counted.append(sum(1 for k in keys if k["sk"] == {"S": lay.TOTALS_SK}))

    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", count)
    return counted


def test_a_live_baseline_moves_the_totals_once_a_range_not_once_a_chunk(stack, live, monkeypatch):
    # GIVEN a bucket of four ranges, listed 7 keys a page, while clients write between pages
    monkeypatch.setattr(baseline, "SETTLE_SECONDS", 3600)
    for i, key in enumerate(keys(200)):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"s" * (i % 7 + 1))
    rng = random.Random(3)

    def write(progress) -> None:
        key = f"a/x/k{rng.randrange(200)}"
        live.put(key, rng.randrange(1, 30)) if rng.random() < 0.7 else live.delete(key)

    # WHEN the baseline runs (its writes counted)
    h = History(stack.names.table, stack.client("dynamodb"), prefix_depth=2)
    counted = totals_writes(h.client)
    BaselineRun(
        h, listing_client(stack.aws), BUCKET, versioned=False, depth=2, workers=2,
        on_progress=write,
    ).run()  # fmt: skip

    # THEN it committed many chunks but moved the totals once per range (and once at the end)
    chunks = len(counted)
    assert chunks >= 25
    assert sum(counted) <= 4 + 1, counted
    assert_exact(live)


@pytest.mark.parametrize("committed", [False, True], ids=["before", "after"])
def test_a_crash_at_a_settle_adds_each_move_once(stack, live, monkeypatch, committed):
    # GIVEN a bucket the tracker has partly counted, and a baseline that settles every chunk
    monkeypatch.setattr(baseline, "SETTLE_SECONDS", 0)
    for i, key in enumerate(keys(120)):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"c" * (i % 5 + 1))
    live.put("a/x/known", 50)
    settles = []
    real = baseline.settle

    def crashing(h, bucket, sums, progress):
        # the third settle's transaction fails before it lands, or lands and the process dies
        settles.append(1)
        if len(settles) == 3 and not committed:
            raise KeyboardInterrupt
        real(h, bucket, sums, progress)
        if len(settles) == 3:
            raise KeyboardInterrupt

    # WHEN the run crashes at a settle, then the same command runs again
    monkeypatch.setattr(baseline, "settle", crashing)
    with pytest.raises(KeyboardInterrupt):
        run(stack, live, workers=1)
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"
    monkeypatch.setattr(baseline, "settle", real)
    run(stack, live, workers=1)

    # THEN the totals and every prefix equal the listing
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_range_that_ends_on_a_full_chunk_settles_what_it_moved(stack, live, monkeypatch):
    # GIVEN two ranges of exactly two pages (7 keys each) the tracker never saw, and a tracker
    # that writes meanwhile, so that the totals are not simply set at the end
    monkeypatch.setattr(baseline, "SETTLE_SECONDS", 3600)
    for i in range(14):
        for prefix in ("p/", "q/"):
            live.s3.put_object(Bucket=BUCKET, Key=f"{prefix}k{i:02d}", Body=b"e" * (i + 1))
    writes = iter(range(100))

    # WHEN the baseline runs, one range at a time
    run(stack, live, workers=1, on_progress=lambda p: live.put(f"w/{next(writes)}", 3))

    # THEN the last chunk's moves reached the totals
    assert_exact(live)
