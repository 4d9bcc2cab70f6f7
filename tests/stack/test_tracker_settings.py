"""The deployed tracker reads each bucket's settings item along with each chunk: a bucket
without one is ignored (counted, never applied), and a changed depth is planned again."""

from __future__ import annotations

import pytest

from s3sizer.lambdas import size_tracking
from s3sizer.stack.estate import settings_items
from s3sizer.stack.model import BucketSettings
from tests.lambdas import events
from tests.stack.helpers import tracker_history

TABLE = "estate-history"


@pytest.fixture
def hist():
    with tracker_history(TABLE) as found:
        yield found


def track(hist, bucket: str, depth: int) -> None:
    for item in settings_items(BucketSettings(bucket, depth), "s3sizer"):
        hist.client.put_item(TableName=TABLE, Item=item)


def test_events_of_a_bucket_the_stack_does_not_track_are_counted_and_ignored(hist):
    track(hist, "tracked", 1)
    batch = events.sqs(
        events.envelope(events.created("tracked", "a/x", 5, events.sequencer(1))),
        events.envelope(events.created("stranger", "a/x", 7, events.sequencer(2))),
    )

    outcome = size_tracking.apply_event(hist, batch)

    assert outcome["failed"] == []
    assert outcome["counts"]["applied"] == 1
    assert outcome["counts"]["ignored"] == 1
    assert hist.totals("tracked").total_size == 5
    assert hist.totals("stranger").updated_at is None


def test_each_bucket_is_tracked_at_its_own_depth_even_when_the_container_guessed_wrong(hist):
    track(hist, "shallow", 0)
    track(hist, "deep", 3)
    size_tracking.BUCKET_DEPTHS["deep"] = 1  # a depth this container read before a change
    batch = events.sqs(
        events.envelope(events.created("shallow", "a/b/c/x", 2, events.sequencer(1))),
        events.envelope(events.created("deep", "a/b/c/x", 3, events.sequencer(2))),
    )

    outcome = size_tracking.apply_event(hist, batch)

    assert outcome["counts"]["applied"] == 2
    assert [p.prefix for p in hist.prefix_totals("shallow")] == []
    deep = {p.prefix: p.total_size for p in hist.prefix_totals("deep")}
    assert deep == {"a/": 3, "a/b/": 3, "a/b/c/": 3}
    assert size_tracking.BUCKET_DEPTHS == {"shallow": 0, "deep": 3}


def points_of(hist, bucket: str) -> list[int]:
    return [p.total_size for p in hist.window(bucket, 3600).points]


def test_no_point_is_drawn_of_the_partial_totals_of_a_bucket_s_first_baseline(hist):
    """A bucket tracked now is marked due before its events are routed: while its first
    baseline merges the listing, the tracker applies its events to partial totals. Points of
    them would draw a climb from nothing that never happened, and count it as growth."""
    from s3sizer.stack import baseline_ranges

    track(hist, "adopted", 1)
    baseline_ranges.mark_due(hist, "adopted")  # never baselined: its first
    created = events.created("adopted", "a/x", 5, events.sequencer(1))

    size_tracking.apply_event(hist, events.sqs(events.envelope(created)))

    assert hist.totals("adopted").total_size == 5  # applied, to the partial totals
    assert points_of(hist, "adopted") == []
    assert [p.prefix for p in hist.prefix_windows("adopted", 3600)[0:1]] == ["a/"]
    assert hist.prefix_windows("adopted", 3600)[0].points == []
    # Once it completes, points are drawn again; and a later baseline (a route change, say)
    # is not a first one: the totals it runs over are whole.
    baseline_ranges.complete(hist, "adopted", "run", 1)
    baseline_ranges.mark_due(hist, "adopted")
    again = events.created("adopted", "a/y", 7, events.sequencer(2))
    size_tracking.apply_event(hist, events.sqs(events.envelope(again)))
    assert points_of(hist, "adopted") == [12]
