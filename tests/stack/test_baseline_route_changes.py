"""A baseline across a change of route: what a run listed before the route changed may miss
changes no route carried, so it lists again (docs/tracking.md, "Resumable")."""

from __future__ import annotations

import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.stack.baseline_ranges import RELIST, baseline_state, mark_due, routed, stored_ranges
from tests.stack.test_baseline_ranges import live, new_run, stack, stopped_half_way
from tests.stack.test_baseline_run import BUCKET, assert_exact

__all__ = ["live", "stack"]  # the fixtures, shared


@pytest.mark.parametrize("live_run", [False, True])
def test_a_run_stopped_then_resumed_after_a_route_change_lists_its_done_ranges_again(
    stack, live, live_run
):
    """A baseline stopped (Ctrl-C during `setup`, say), then objects changed while no route
    carried their events, then the route changes (`deploy`) and the run resumes: the ranges it
    had finished are listed again, so the changes in them are counted, once."""
    stopped_half_way(stack, live, live_run=live_run, listed=60)
    done = [r["span"].prefix for r in stored_ranges(live.h, BUCKET) if r["done"]]
    assert [p for p in done if p]  # a folder listed to its end before the stop
    folder = next(p for p in done if p)
    # Changes no route carried: into the finished folder, and out of it.
    live.s3.put_object(Bucket=BUCKET, Key=f"{folder}unseen", Body=b"u" * 11)
    gone = next(k for k in (f"{folder}k{i:04d}" for i in range(90)) if _exists(live, k))
    live.s3.delete_object(Bucket=BUCKET, Key=gone)
    mark_due(live.h, BUCKET)  # the route changes: `deploy`

    drift = new_run(stack, live_run=True).run()

    assert drift.resumed
    assert_exact(live)
    state = live.h._get(lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK))
    assert state["state"]["S"] == lay.BASELINE_COMPLETE and RELIST not in state


def _exists(live, key: str) -> bool:
    return live.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0


@pytest.mark.parametrize("live_run", [True, False])
def test_a_route_change_while_another_command_runs_the_baseline_leaves_it_to_list_again(
    stack, live, live_run
):
    """`deploy` changes the route while a `reconcile` in another terminal runs the baseline
    (its own then waits on the lease): that run ends, but leaves the baseline in progress, so
    that the same `deploy` run again lists every range again. A quiet run (before the first
    deploy) has set the totals by then: the live run that resumes it counts nothing twice."""
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    running = new_run(stack, workers=1, live_run=live_run)
    changed = []

    def route_changes_half_way(progress) -> None:
        done = [r["span"].prefix for r in stored_ranges(live.h, BUCKET) if r["done"]]
        if not changed and [p for p in done if p]:
            folder = next(p for p in done if p)
            live.s3.put_object(Bucket=BUCKET, Key=f"{folder}unseen", Body=b"u" * 11)
            mark_due(live.h, BUCKET)
            changed.append(folder)

    running.on_progress = route_changes_half_way
    running.run()
    assert changed
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"

    assert new_run(stack).run().resumed
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_run_that_starts_while_a_route_change_is_under_way_lists_again_once_it_is_done(
    stack, live
):
    """`deploy` marks the baseline owed, and a scheduled `reconcile` starts afresh before the
    deploy reaches the bucket's entry: what it lists may predate the change, so it ends in
    progress, and the deploy's own baseline (run again, once the entry is in place) lists all
    again."""
    for i in range(60):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    new_run(stack).run()
    mark_due(live.h, BUCKET)  # the deploy starts
    early = new_run(stack, workers=1)
    listed_before = []

    def lose_an_event(progress) -> None:  # the route changes under it: one change unseen
        done = [r["span"].prefix for r in stored_ranges(live.h, BUCKET) if r["done"]]
        if not listed_before and [p for p in done if p]:
            listed_before.append(next(p for p in done if p))
            live.s3.put_object(Bucket=BUCKET, Key=f"{listed_before[0]}unseen", Body=b"u" * 11)

    early.on_progress = lose_an_event
    early.run()
    assert listed_before
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"

    routed(live.h, BUCKET)  # the deploy's own baseline: the entry is in place
    assert new_run(stack).run().resumed
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_change_of_route_while_a_run_relists_is_not_lost(stack, live, monkeypatch):
    """A run resumed after one change of route resets its ranges to list them again; another
    change of route (a second `deploy`) marks the baseline meanwhile. The first mark goes once
    the ranges are reset; the second stays, so the run does not complete, and the next lists
    again."""
    from s3sizer.stack import baseline_ranges

    stopped_half_way(stack, live, live_run=True, listed=45)
    mark_due(live.h, BUCKET)
    rewrite = baseline_ranges.batch_put
    marked = []

    def marked_meanwhile(history, items):
        if not marked:
            marked.append(True)
            mark_due(live.h, BUCKET)  # the second change of route, while the ranges are reset
        rewrite(history, items)

    monkeypatch.setattr(baseline_ranges, "batch_put", marked_meanwhile)
    new_run(stack, live_run=True).run()
    monkeypatch.setattr(baseline_ranges, "batch_put", rewrite)

    assert marked
    state = live.h._get(lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK))
    assert RELIST in state  # the second mark stands
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"
    new_run(stack, live_run=True).run()
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}
    assert_exact(live)
