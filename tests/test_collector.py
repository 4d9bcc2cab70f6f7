"""The garbage collector's pace: each part of a process asks for its own and gives it back, in
any order, and the process gets its own pace (and its own frozen objects) back at the end."""

from __future__ import annotations

import gc

import pytest

from s3sizer import collector
from s3sizer.emulator.server import COLLECTOR_THRESHOLD as EMULATOR
from s3sizer.stack.collector import THRESHOLD, collecting_seldom

tuned = pytest.mark.skipif(not collector._TUNED, reason="3.14's collector reads thresholds anew")


@pytest.fixture(autouse=True)
def own_pace():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


@tuned
@pytest.mark.parametrize("baseline_ends_first", [True, False])
def test_an_emulator_and_a_baseline_may_start_and_stop_in_any_order(baseline_ends_first):
    emulator = collector.slower(EMULATOR)
    with collecting_seldom():
        assert gc.get_threshold() == THRESHOLD
        if not baseline_ends_first:
            collector.restore(emulator)  # the emulator stops while the baseline runs
            assert gc.get_threshold() == THRESHOLD
    if baseline_ends_first:
        assert gc.get_threshold() == EMULATOR  # the emulator still runs, at its own pace
        collector.restore(emulator)
    assert gc.get_threshold() == (700, 10, 10)


@tuned
def test_a_baseline_that_starts_first_and_ends_first_leaves_the_emulator_its_pace():
    baseline = collector.slower(THRESHOLD, freeze=True)
    emulator = collector.slower(EMULATOR)
    collector.restore(baseline)
    assert gc.get_threshold() == EMULATOR
    collector.restore(emulator)
    assert gc.get_threshold() == (700, 10, 10)


def test_what_a_baseline_froze_is_thawed_when_the_last_run_ends():
    first, second = (
        collector.slower(THRESHOLD, freeze=True),
        collector.slower(THRESHOLD, freeze=True),
    )
    assert gc.get_freeze_count() > 0
    collector.restore(first)
    assert gc.get_freeze_count() > 0  # the second still runs
    collector.restore(second)
    assert gc.get_freeze_count() == 0


def test_objects_someone_else_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collecting_seldom():
            pass
        assert frozen > 0 and gc.get_freeze_count() > 0  # not thawed (some may have died since)
    finally:
        gc.unfreeze()


def test_a_baseline_that_fails_gives_the_process_its_pace_back():
    with pytest.raises(RuntimeError), collecting_seldom():
        raise RuntimeError("a range failed")
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def _full_collections_while_storing(objects: int) -> int:
    """Full collections while ``objects`` containers are stored and kept, as the emulator keeps
    the items and objects a client writes."""
    full = []

    def count(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    kept = []
    gc.callbacks.append(count)
    try:
        for _ in range(objects):
            kept.append([])  # the smallest container the collector tracks
    finally:
        gc.callbacks.remove(count)
    return len(full)


@tuned
def test_an_emulator_storing_many_items_runs_no_full_collection():
    # The test process's own objects left out (a full collection waits until the objects kept
    # since the last one are a quarter of those it found alive), and moto's state in their place.
    assert gc.get_freeze_count() == 0
    gc.collect()
    gc.freeze()
    try:
        held = [[] for _ in range(200_000)]
        gc.collect()
        counted = {}
        for pace in (EMULATOR, (10_000, 10, 10)):  # and at its earlier pace
            token = collector.slower(pace)
            try:
                counted[pace] = _full_collections_while_storing(1_250_000)
            finally:
                collector.restore(token)
        assert counted[EMULATOR] == 0
        assert counted[(10_000, 10, 10)] >= 1
        del held
    finally:
        gc.unfreeze()
