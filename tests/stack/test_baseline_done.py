"""How far a baseline in progress says it got: of a bucket counted before, the objects merged of
those it held, so that one large folder is not one step among small ones."""

from __future__ import annotations

import pytest

from s3sizer.stack.baseline_ranges import baseline_state

from .test_baseline_run import BUCKET, assert_exact, live, run, stack  # noqa: F401 - fixtures


def test_a_reconcile_stopped_in_a_large_folder_counts_the_objects_merged(stack, live):  # noqa: F811
    # One folder of 120 keys among three of 10: four ranges, and the top level's own.
    live.fill(
        [f"big/k{i:03d}" for i in range(120)] + [f"s{d}/k{i}" for d in range(3) for i in range(10)]
    )
    run(stack, live, workers=1)  # the bucket counted: 150 objects
    assert_exact(live)
    listed = []

    def stop_in_the_large_folder(progress) -> None:
        listed.append(progress.listed)
        assert progress.expected == 150  # the progress bar's total
        if progress.listed >= 60:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, live, on_progress=stop_in_the_large_folder, workers=1)

    state = baseline_state(live.h, BUCKET)
    assert state["state"] == "in_progress"
    # The ranges done would say 1 of 5 (the top level's); the objects merged say about 60 of 150.
    assert 0.3 <= state["done"] <= listed[-1] / 150

    carried = []
    run(stack, live, workers=1, on_progress=lambda p: carried.append(p.carried))
    assert 0 < carried[0] <= listed[-1]  # what the stopped run had merged: the bar starts there
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_first_run_stopped_after_its_last_range_says_0_99_not_done(stack, live, monkeypatch):  # noqa: F811
    """Every range merged, its end not yet: the fraction of ranges is 1, the run is not over."""
    from s3sizer.lambdas import baseline_finish

    live.fill([f"s{d}/k{i}" for d in range(3) for i in range(10)])

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # as it would set the totals

    monkeypatch.setattr(baseline_finish, "finish", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(stack, live, workers=1)

    assert baseline_state(live.h, BUCKET) == {"state": "in_progress", "done": 0.99}
