"""Starting totals and reconcile: keys, totals and prefix totals rebuilt from one full listing."""

from __future__ import annotations

from s3sizer.lambdas.history import Drift, History, ListedVersion, PrefixTotals

from .conftest import BUCKET, TABLE

PUT, DELETE = "ObjectCreated:Put", "ObjectRemoved:Delete"


def plain(*objects: tuple[str, int]) -> list[ListedVersion]:
    """An unversioned bucket's listing, as the stack passes it."""
    return [ListedVersion(key, None, size, True, False) for key, size in objects]


def corrupt_totals(ddb, total_size, object_count, max_size, version, updated_at) -> None:
    ddb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"B#{BUCKET}"},
            "sk": {"S": "TOTALS"},
            "total_size": {"N": str(total_size)},
            "object_count": {"N": str(object_count)},
            "max_size": {"N": str(max_size)},
            "version": {"N": str(version)},
            "updated_at": {"S": updated_at},
        },
    )


def test_setup_records_the_starting_totals_of_a_bucket_with_objects(hist):
    drift = hist.reset_from_listing(BUCKET, plain(("a b.txt", 10), ("ü/+%", 32)))
    assert drift == Drift(total_size=42, object_count=2, drift_bytes=42, drift_objects=2)
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.max_size) == (42, 2, 42)
    assert {(s.key, s.size, s.exists) for s in hist.keys(BUCKET)} == {
        ("a b.txt", 10, True),
        ("ü/+%", 32, True),
    }
    assert [p.total_size for p in hist.points(BUCKET)] == [42]
    assert hist.prefix_totals(BUCKET) == [PrefixTotals("ü/", 32, 1)]


def test_setup_of_an_empty_bucket_still_draws_the_starting_point(hist):
    assert hist.reset_from_listing(BUCKET, []) == Drift(0, 0, 0, 0)
    assert hist.totals(BUCKET).version == 1
    assert [p.total_size for p in hist.points(BUCKET)] == [0]


def test_any_record_supersedes_a_baseline_entry(hist):
    hist.reset_from_listing(BUCKET, plain(("k", 10)))
    assert hist.apply(BUCKET, "k", "01", 15, event=PUT) == "applied"
    assert hist.totals(BUCKET).total_size == 15


def test_s3sizers_own_keys_are_left_out_of_a_listing(hist):
    listing = plain((".s3sizer/plot.png", 100), (".s3sizer/mine.txt", 5))
    assert hist.reset_from_listing(BUCKET, listing).object_count == 1


def test_reconcile_reports_the_drift_and_fixes_totals_and_keys(hist, ddb):
    # GIVEN a tracked bucket whose records went astray: totals corrupted, one key's size wrong,
    # one key never recorded, one recorded key gone from the bucket.
    hist.apply(BUCKET, "kept", "0A", 5, event=PUT)
    hist.apply(BUCKET, "resized", "0B", 7, event=PUT)
    hist.apply(BUCKET, "gone", "0C", 100, event=PUT)
    version, updated_at = hist.totals(BUCKET).version, hist.totals(BUCKET).updated_at
    corrupt_totals(ddb, 999, 9, max_size=1000, version=version, updated_at=updated_at)

    drift = hist.reset_from_listing(BUCKET, plain(("kept", 5), ("resized", 70), ("unseen", 1)))

    assert drift == Drift(total_size=76, object_count=3, drift_bytes=76 - 999, drift_objects=-6)
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count) == (76, 3)
    assert totals.max_size == 1000  # the largest size ever is not forgotten
    assert totals.version > version
    states = {s.key: (s.size, s.exists) for s in hist.keys(BUCKET)}
    assert states == {
        "kept": (5, True),
        "resized": (70, True),
        "unseen": (1, True),
        "gone": (0, False),
    }
    assert hist.points(BUCKET)[-1].total_size == 76
    # AND records already applied stay duplicates afterwards
    assert hist.apply(BUCKET, "kept", "0A", 5, event=PUT) == "duplicate"
    assert hist.apply(BUCKET, "gone", "0C", 100, event=PUT) == "duplicate"
    assert hist.totals(BUCKET).total_size == 76


def test_reconcile_without_drift_writes_no_point(hist):
    hist.apply(BUCKET, "a", "01", 5, event=PUT)
    before = hist.totals(BUCKET)
    assert hist.reset_from_listing(BUCKET, plain(("a", 5))) == Drift(5, 1, 0, 0)
    assert hist.totals(BUCKET) == before
    assert len(hist.points(BUCKET)) == 1


# -- versioned listings ----------------------------------------------------------------------


def versioned_listing() -> list[ListedVersion]:
    """ListObjectVersions' order: each key's versions newest first, markers among them."""
    return [
        ListedVersion("doc", "v3", 30, True, False),
        ListedVersion("doc", "v2", 20, False, False),
        ListedVersion("doc", "v1", 10, False, False),
        ListedVersion("hidden", "m1", 0, True, True),
        ListedVersion("hidden", "h1", 7, False, False),
    ]


def test_a_versioned_listing_counts_current_versions_only(hist):
    # Besides: 37 noncurrent bytes in 3 versions (v2, v1, h1), 1 delete marker.
    expected = Drift(30, 1, 30, 1, breakdown=(37, 3, 1, 0))
    assert hist.reset_from_listing(BUCKET, versioned_listing()) == expected
    assert hist.key_state(BUCKET, "doc").version_id == "v3"


def test_version_ids_survive_a_reconcile(hist):
    hist.reset_from_listing(BUCKET, versioned_listing())
    # deleting the current version by id makes v2 current
    assert hist.apply(BUCKET, "doc", "0A", None, event=DELETE, version_id="v3") == "applied"
    assert hist.totals(BUCKET).total_size == 20
    # removing the marker brings "hidden" back
    hist.apply(BUCKET, "hidden", "0A", None, event=DELETE, version_id="m1")
    assert (hist.totals(BUCKET).total_size, hist.totals(BUCKET).object_count) == (27, 2)
    # a late create of a listed version changes nothing: the listing already showed it
    assert hist.apply(BUCKET, "doc", "01", 10, event=PUT, version_id="v1") == "duplicate"
    assert hist.totals(BUCKET).total_size == 27


def test_a_record_applied_before_a_reconcile_stays_a_duplicate(hist):
    hist.apply(BUCKET, "doc", "05", 20, event=PUT, version_id="v2")
    hist.reset_from_listing(BUCKET, versioned_listing())
    assert hist.apply(BUCKET, "doc", "05", 20, event=PUT, version_id="v2") == "duplicate"
    assert hist.key_state(BUCKET, "doc").version_id == "v3"


# -- long keys, batches and prefixes ---------------------------------------------------------


def test_a_listing_of_1024_byte_keys_is_recorded(hist):
    keys = ["k" * 1023, "k" * 1024, "ü" * 512, *(f"{i:04d}" + "x" * 1020 for i in range(30))]
    listing = plain(*((key, 1) for key in keys))
    assert hist.reset_from_listing(BUCKET, listing).object_count == len(keys)
    assert {s.key for s in hist.keys(BUCKET)} == set(keys)


class FlakyBatches:
    """The real client, but each BatchWriteItem leaves its last item unprocessed the first time."""

    def __init__(self, client):
        self._client = client
        self.batches = []

    def batch_write_item(self, RequestItems):
        (table, requests), *_ = RequestItems.items()
        self.batches.append(len(requests))
        if len(requests) > 1:
            self._client.batch_write_item(RequestItems={table: requests[:-1]})
            return {"UnprocessedItems": {table: requests[-1:]}}
        return self._client.batch_write_item(RequestItems=RequestItems)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_reset_writes_in_batches_of_25_and_retries_unprocessed_items(ddb, clock, sleeps):
    flaky = FlakyBatches(ddb)
    hist = History(TABLE, flaky, now=clock, sleep=sleeps.append, prefix_depth=0)
    listing = plain(*((f"k{i}", i) for i in range(60)))
    assert hist.reset_from_listing(BUCKET, listing).object_count == 60
    assert flaky.batches == [25, 1, 25, 1, 10, 1]
    assert len(sleeps) == 3
    assert {s.key: s.size for s in hist.keys(BUCKET)} == {f"k{i}": i for i in range(60)}


def test_reset_rebuilds_the_prefix_totals(hist):
    hist.apply(BUCKET, "old/x", "01", 50, event=PUT)
    listing = plain(("a/b/c.txt", 1), ("a//b", 2), ("dir/", 4), ("top", 8), ("a/b/d", 16))
    hist.reset_from_listing(BUCKET, listing, prefix_depth=2)
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
    assert [p.total_size for p in hist.prefix_points(BUCKET, "old/")] == [50, 0]
    # a smaller depth afterwards drops the deeper prefixes
    hist.reset_from_listing(BUCKET, listing, prefix_depth=1)
    assert [p.prefix for p in hist.prefix_totals(BUCKET)] == ["a/", "dir/"]


def test_key_and_size_pairs_still_mean_an_unversioned_listing(hist):
    assert hist.reset_from_listing(BUCKET, [("a", 1), ("b/c", 2)]) == Drift(3, 2, 3, 2)


def test_a_late_duplicate_of_an_overwritten_record_stays_a_duplicate(hist):
    # GIVEN "k" put at 10 B (recorded), then overwritten at 20 B (its record lost), reconciled
    hist.apply(BUCKET, "k", "01", 10, event=PUT)
    hist.reset_from_listing(BUCKET, plain(("k", 20)))
    # WHEN the first record is delivered again THEN the listed size stands
    assert hist.apply(BUCKET, "k", "01", 10, event=PUT) == "duplicate"
    assert hist.totals(BUCKET).total_size == 20
    # AND a newer record still applies
    assert hist.apply(BUCKET, "k", "03", 30, event=PUT) == "applied"
    assert hist.totals(BUCKET).total_size == 30
