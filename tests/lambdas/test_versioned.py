"""Versioned buckets, long keys and where key items live: each case a real bucket produces."""

from __future__ import annotations

import pytest

from s3sizer.lambdas import layout
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import BUCKET, TABLE

PUT, DELETE = "ObjectCreated:Put", "ObjectRemoved:Delete"
MARKER = "ObjectRemoved:DeleteMarkerCreated"


def sizes(hist) -> tuple[int, int]:
    totals = hist.totals(BUCKET)
    return totals.total_size, totals.object_count


@pytest.mark.parametrize("delete_first", [False, True])
def test_put_then_delete_by_version_ends_empty_in_either_order(hist, delete_first):
    put = events.created(BUCKET, "k", 10, "01", version_id="v1")
    delete = events.removed(BUCKET, "k", "02", version_id="v1")
    for record in [delete, put] if delete_first else [put, delete]:
        apply_event(hist, events.envelope(record))
    assert sizes(hist) == (0, 0)


def test_put_then_delete_by_version_in_one_batch_in_either_order(hist):
    put = events.created(BUCKET, "k", 10, "01", version_id="v1")
    delete = events.removed(BUCKET, "k", "02", version_id="v1")
    apply_event(hist, events.sqs(events.envelope(delete), events.envelope(put)))
    assert sizes(hist) == (0, 0)


def test_deleting_the_current_version_makes_the_previous_one_current(hist):
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")
    hist.apply(BUCKET, "k", "02", 30, event=PUT, version_id="v2")
    assert sizes(hist) == (30, 1)
    assert hist.apply(BUCKET, "k", "03", None, event=DELETE, version_id="v2") == "applied"
    assert sizes(hist) == (10, 1)
    assert hist.key_state(BUCKET, "k").version_id == "v1"
    assert hist.apply(BUCKET, "k", "04", None, event=DELETE, version_id="v1") == "applied"
    assert sizes(hist) == (0, 0)


def test_removing_a_delete_marker_brings_the_object_back(hist):
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")
    hist.apply(BUCKET, "k", "02", None, event=MARKER, version_id="m1")
    assert sizes(hist) == (0, 0)
    hist.apply(BUCKET, "k", "03", None, event=DELETE, version_id="m1")
    assert sizes(hist) == (10, 1)


def test_a_marker_delivered_before_the_put_it_hides(hist):
    hist.apply(BUCKET, "k", "02", None, event=MARKER, version_id="m1")
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")
    assert sizes(hist) == (0, 0)


def test_suspended_versioning_overwrites_the_null_version_in_place(hist):
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")  # before the suspension
    hist.apply(BUCKET, "k", "02", 5, event=PUT, version_id="null")
    assert sizes(hist) == (5, 1)
    hist.apply(BUCKET, "k", "03", 8, event=PUT, version_id="null")  # replaces the null version
    assert sizes(hist) == (8, 1)
    hist.apply(BUCKET, "k", "04", None, event=DELETE, version_id="null")
    assert sizes(hist) == (10, 1)  # v1 is current again


def test_a_null_delete_marker_replaces_the_null_version(hist):
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")
    hist.apply(BUCKET, "k", "02", 5, event=PUT, version_id="null")
    hist.apply(BUCKET, "k", "03", None, event=MARKER, version_id="null")
    assert sizes(hist) == (0, 0)
    hist.apply(BUCKET, "k", "04", None, event=DELETE, version_id="null")  # removes the marker
    assert sizes(hist) == (10, 1)  # the null object it replaced is gone for good


def test_eventbridge_deletion_types(hist):
    created = events.eventbridge(BUCKET, "k", "01", size=10, version_id="v1")
    marker = events.eventbridge(
        BUCKET, "k", "02", version_id="m1", deletion_type="Delete Marker Created"
    )
    removed = events.eventbridge(BUCKET, "k", "03", version_id="m1")
    apply_event(hist, events.sqs(created, marker))
    assert sizes(hist) == (0, 0)
    apply_event(hist, events.sqs(removed))
    assert sizes(hist) == (10, 1)


def test_tombstones_are_capped_oldest_first(hist):
    from s3sizer.lambdas import versions

    for i in range(versions.MAX_TOMBSTONES + 5):
        hist.apply(BUCKET, "k", f"{2 * i + 1:04X}", 1, event=PUT, version_id=f"v{i}")
        hist.apply(BUCKET, "k", f"{2 * i + 2:04X}", None, event=DELETE, version_id=f"v{i}")
    state = hist.key_state(BUCKET, "k")
    assert len(state.versions) == versions.MAX_TOMBSTONES + 1  # and the dropped ones' floor
    assert "v0" not in state.versions and f"v{versions.MAX_TOMBSTONES + 4}" in state.versions
    assert versions.dropped_floor(state.versions) == "000A"  # v4's delete, the newest dropped
    assert sizes(hist) == (0, 0)


def _late_create_history(hist, listed: list[set[str]]) -> None:
    """v0 created at sequencer 0001, then 37 newer versions created and deleted for good, each
    delivered at once; S3's listings of the key, as the tracker asks, go into ``listed``."""
    from s3sizer.lambdas import versions

    def versions_of(bucket, key):
        listed.append((bucket, key))
        return held

    held: set[str] = set()
    hist.versions_of = versions_of
    for i in range(1, versions.MAX_TOMBSTONES + 6):
        hist.apply(BUCKET, "k", f"{2 * i + 1:04X}", 1, event=PUT, version_id=f"v{i}")
        hist.apply(BUCKET, "k", f"{2 * i + 2:04X}", None, event=DELETE, version_id=f"v{i}")
    return held


def test_a_create_later_than_its_keys_capped_tombstones_asks_s3_and_is_stale_when_gone(hist):
    """v0's create comes after the deletes of 37 newer versions (a batch retried after its
    visibility timeout): its own delete's tombstone, had it come first, would have been
    dropped by the cap. S3 has no v0 now, so it counts nowhere."""
    listed: list = []
    _late_create_history(hist, listed)
    assert listed == []  # creates and deletes in order ask nothing
    hist.apply(BUCKET, "k", "0001", 5, event=PUT, version_id="v0")
    assert listed == [(BUCKET, "k")]
    assert sizes(hist) == (0, 0)
    assert "v0" not in hist.key_state(BUCKET, "k").versions


def test_a_late_create_that_s3_still_holds_counts(hist):
    listed: list = []
    held = _late_create_history(hist, listed)
    held.add("v0")  # never deleted: its create only came late
    hist.apply(BUCKET, "k", "0001", 5, event=PUT, version_id="v0")
    assert listed == [(BUCKET, "k")] and sizes(hist) == (5, 1)
    hist.apply(BUCKET, "k", "0001", 5, event=PUT, version_id="v0")  # again: a duplicate
    assert listed == [(BUCKET, "k")] and sizes(hist) == (5, 1)


def test_a_late_create_without_a_way_to_ask_s3_fails_and_comes_again(hist):
    _late_create_history(hist, [])
    hist.versions_of = None
    with pytest.raises(RuntimeError, match="needs S3's word"):
        hist.apply(BUCKET, "k", "0001", 5, event=PUT, version_id="v0")
    assert sizes(hist) == (0, 0)


# -- long keys and the layout ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["k" * 1023, "k" * 1024, "ü" * 512, "€" * 341 + "k"],
    ids=["1023-ascii", "1024-ascii", "1024-two-byte", "1024-three-byte"],
)
def test_keys_up_to_s3s_limit_are_tracked(hist, ddb, key):
    assert len(key.encode()) in (1023, 1024)
    apply_event(hist, events.envelope(events.created(BUCKET, key, 7, "01")))
    assert sizes(hist) == (7, 1)
    state = hist.key_state(BUCKET, key)
    assert state.key == key and state.exists
    apply_event(hist, events.envelope(events.removed(BUCKET, key, "02")))
    assert sizes(hist) == (0, 0)
    (item,) = [i for i in ddb.scan(TableName=TABLE)["Items"] if "versions" in i]
    assert item["key"]["S"] == key and len(item["sk"]["S"].encode()) < 100


def test_two_long_keys_that_share_a_long_beginning_stay_apart(hist):
    a, b = "x" * 1000 + "a", "x" * 1000 + "b"
    apply_event(hist, events.envelope(events.created(BUCKET, a, 1, "01")))
    apply_event(hist, events.envelope(events.created(BUCKET, b, 2, "01")))
    assert sizes(hist) == (3, 2)
    assert hist.key_state(BUCKET, a).size == 1 and hist.key_state(BUCKET, b).size == 2


def test_key_items_are_spread_away_from_the_totals_partition(hist, ddb):
    batch = events.envelope(*(events.created(BUCKET, f"k{i}", 1, "01") for i in range(64)))
    apply_event(hist, batch)
    items = ddb.scan(TableName=TABLE)["Items"]
    key_partitions = {i["pk"]["S"] for i in items if "versions" in i}
    assert f"B#{BUCKET}" not in key_partitions
    assert key_partitions <= set(layout.key_partitions(BUCKET))
    assert len(key_partitions) > layout.KEY_SHARDS // 2
    assert sizes(hist) == (64, 64)
