"""A baseline's pace of garbage collection is its own: the process gets its own back."""

from __future__ import annotations

import gc

import pytest

from s3sizer.stack import collector


def test_inside_a_baseline_what_was_alive_is_frozen_and_collections_are_rarer():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with collector.collecting_seldom():
        assert gc.get_threshold() == collector.THRESHOLD
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # unfrozen: what the run left is collected again


def test_a_baseline_that_fails_gives_the_process_its_collector_back():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector.collecting_seldom():
        raise RuntimeError("a range failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_runs_side_by_side_give_the_process_its_own_pace_back_when_the_last_ends():
    before = gc.get_threshold()
    first, second = collector.collecting_seldom(), collector.collecting_seldom()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert gc.get_threshold() == collector.THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
