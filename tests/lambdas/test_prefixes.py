"""Prefix totals kept by the tracker: which keys count toward which prefix, and reading them."""

from __future__ import annotations

import pytest

from s3sizer.lambdas.history import History, PrefixTotals
from s3sizer.lambdas.layout import prefixes
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import BUCKET, TABLE


@pytest.mark.parametrize(
    ("key", "depth", "expected"),
    [
        ("a/b/c.txt", 1, ["a/"]),
        ("a/b/c.txt", 2, ["a/", "a/b/"]),
        ("a//b", 2, ["a/", "a//"]),
        ("dir/", 1, ["dir/"]),
        ("top", 3, []),
        ("a/b/c/d/e/f/g", 5, ["a/", "a/b/", "a/b/c/", "a/b/c/d/", "a/b/c/d/e/"]),
        ("a/b", 0, []),
    ],
)
def test_the_prefixes_a_key_counts_toward(key, depth, expected):
    assert prefixes(key, depth) == expected


def tracker(ddb, clock, depth: int) -> History:
    return History(TABLE, ddb, now=clock, prefix_depth=depth)


def test_prefix_totals_follow_every_change(ddb, clock):
    hist = tracker(ddb, clock, depth=2)
    apply_event(
        hist,
        events.sqs(
            events.envelope(events.created(BUCKET, "a/b/c.txt", 1, "01")),
            events.envelope(events.created(BUCKET, "a//b", 2, "01")),
            events.envelope(events.created(BUCKET, "dir/", 4, "01")),
            events.envelope(events.created(BUCKET, "top", 8, "01")),
            events.envelope(events.created(BUCKET, "a/b/d", 16, "01")),
        ),
    )
    assert hist.prefix_totals(BUCKET) == [
        PrefixTotals("a/", 19, 3),
        PrefixTotals("a/b/", 17, 2),
        PrefixTotals("dir/", 4, 1),
        PrefixTotals("a//", 2, 1),
    ]
    assert hist.prefix_totals(BUCKET, depth=1) == [
        PrefixTotals("a/", 19, 3),
        PrefixTotals("dir/", 4, 1),
    ]
    assert hist.prefix_totals(BUCKET, top=2) == [
        PrefixTotals("a/", 19, 3),
        PrefixTotals("a/b/", 17, 2),
    ]
    apply_event(hist, events.envelope(events.removed(BUCKET, "dir/", "02")))
    assert [p.prefix for p in hist.prefix_totals(BUCKET)] == ["a/", "a/b/", "a//"]  # empty: gone


def test_prefix_points_record_each_chunk(ddb, clock):
    hist = tracker(ddb, clock, depth=1)
    apply_event(hist, events.envelope(events.created(BUCKET, "logs/1", 10, "01")))
    clock.advance(1)
    apply_event(hist, events.envelope(events.created(BUCKET, "logs/2", 5, "01")))
    clock.advance(1)
    apply_event(hist, events.envelope(events.removed(BUCKET, "logs/1", "02")))
    assert [p.total_size for p in hist.prefix_points(BUCKET, "logs/")] == [10, 15, 5]
    assert [p.total_size for p in hist.prefix_points(BUCKET, "logs/", since_seconds=1.5)] == [15, 5]
    assert hist.prefix_points(BUCKET, "other/") == []


def test_prefixes_of_versioned_and_long_keys_are_exact(ddb, clock):
    hist = tracker(ddb, clock, depth=2)
    long_prefix = "p/" + "ü" * 500 + "/"  # a 1,005-byte prefix: addressed by its hash
    key = long_prefix + "x"
    apply_event(hist, events.envelope(events.created(BUCKET, key, 10, "01", version_id="v1")))
    apply_event(hist, events.envelope(events.created(BUCKET, key, 30, "02", version_id="v2")))
    assert hist.prefix_totals(BUCKET) == [
        PrefixTotals("p/", 30, 1),
        PrefixTotals(long_prefix, 30, 1),
    ]
    apply_event(hist, events.envelope(events.removed(BUCKET, key, "03", version_id="v2")))
    assert hist.prefix_totals(BUCKET) == [
        PrefixTotals("p/", 10, 1),
        PrefixTotals(long_prefix, 10, 1),
    ]
    assert [p.total_size for p in hist.prefix_points(BUCKET, long_prefix)] == [10, 30, 10]


def test_depth_zero_tracks_no_prefix(ddb, clock):
    hist = tracker(ddb, clock, depth=0)
    apply_event(hist, events.envelope(events.created(BUCKET, "a/b", 1, "01")))
    assert hist.prefix_totals(BUCKET) == []


@pytest.mark.parametrize("depth", [-1, 6, "1", True])
def test_a_depth_out_of_range_is_refused(ddb, depth):
    with pytest.raises(ValueError, match="prefix depth"):
        History(TABLE, ddb, prefix_depth=depth)
