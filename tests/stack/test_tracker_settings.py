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
