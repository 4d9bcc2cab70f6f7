"""Starting totals and reconcile: the key index and the totals rebuilt from one full listing."""

from __future__ import annotations

from s3sizer.lambdas.history import Drift, History, KeyState

from .conftest import BUCKET, TABLE

PUT = "ObjectCreated:Put"


def corrupt_totals(ddb, total_size: int, object_count: int, max_size: int, version: int) -> None:
    ddb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"B#{BUCKET}"},
            "sk": {"S": "TOTALS"},
            "total_size": {"N": str(total_size)},
            "object_count": {"N": str(object_count)},
            "max_size": {"N": str(max_size)},
            "version": {"N": str(version)},
            "updated_at": {"S": "2026-11-24T21:06:05.123Z"},
        },
    )


def test_setup_records_the_starting_totals_of_a_bucket_with_objects(hist):
    drift = hist.reset_from_listing(BUCKET, [("a b.txt", 10), ("ü/+%", 32)])
    assert drift == Drift(total_size=42, object_count=2, drift_bytes=42, drift_objects=2)
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.max_size) == (42, 2, 42)
    assert sorted(hist.keys(BUCKET), key=lambda s: s.key) == [
        KeyState("a b.txt", "", 10, True, None),
        KeyState("ü/+%", "", 32, True, None),
    ]
    assert [p.total_size for p in hist.points(BUCKET)] == [42]


def test_setup_of_an_empty_bucket_still_draws_the_starting_point(hist):
    assert hist.reset_from_listing(BUCKET, []) == Drift(0, 0, 0, 0)
    assert hist.totals(BUCKET).version == 1
    assert [p.total_size for p in hist.points(BUCKET)] == [0]


def test_any_record_supersedes_a_baseline_entry(hist):
    hist.reset_from_listing(BUCKET, [("k", 10)])
    assert hist.apply(BUCKET, "k", "01", 15, event=PUT) == "applied"
    assert hist.totals(BUCKET).total_size == 15


def test_reconcile_reports_the_drift_and_fixes_totals_and_keys(hist, ddb):
    # GIVEN a tracked bucket whose records went astray: totals corrupted, one key's size wrong,
    # one key never recorded, one recorded key gone from the bucket.
    hist.apply(BUCKET, "kept", "0A", 5, event=PUT)
    hist.apply(BUCKET, "resized", "0B", 7, event=PUT)
    hist.apply(BUCKET, "gone", "0C", 100, event=PUT)
    version = hist.totals(BUCKET).version
    corrupt_totals(ddb, total_size=999, object_count=9, max_size=1000, version=version)
    listing = [("kept", 5), ("resized", 70), ("unseen", 1)]

    # WHEN reconcile runs over a full listing
    drift = hist.reset_from_listing(BUCKET, listing)

    # THEN it reports listing minus recorded, and the totals and the index match the listing
    assert drift == Drift(total_size=76, object_count=3, drift_bytes=76 - 999, drift_objects=-6)
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count) == (76, 3)
    assert totals.max_size == 1000  # the largest size ever is not forgotten
    assert totals.version == version + 1
    states = {s.key: s for s in hist.keys(BUCKET)}
    assert states["kept"] == KeyState("kept", "0A", 5, True, None)
    assert states["resized"] == KeyState("resized", "0B", 70, True, None)  # sequencer kept
    assert states["unseen"] == KeyState("unseen", "", 1, True, None)
    assert states["gone"] == KeyState("gone", "0C", 0, False, None)
    assert hist.points(BUCKET)[-1].total_size == 76

    # AND records already applied stay duplicates afterwards
    assert hist.apply(BUCKET, "gone", "0C", 100, event=PUT) == "duplicate"
    assert hist.totals(BUCKET).total_size == 76


def test_reconcile_without_drift_writes_no_point(hist):
    hist.apply(BUCKET, "a", "01", 5, event=PUT)
    before = hist.totals(BUCKET)
    assert hist.reset_from_listing(BUCKET, [("a", 5)]) == Drift(5, 1, 0, 0)
    assert hist.totals(BUCKET) == before
    assert len(hist.points(BUCKET)) == 1


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
    hist = History(TABLE, flaky, now=clock, sleep=sleeps.append)
    listing = [(f"k{i}", i) for i in range(60)]
    assert hist.reset_from_listing(BUCKET, listing).object_count == 60
    assert flaky.batches == [25, 1, 25, 1, 10, 1]
    assert len(sleeps) == 3
    assert {s.key: s.size for s in hist.keys(BUCKET)} == dict(listing)
