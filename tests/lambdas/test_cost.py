"""Each record costs the same number of requests whatever the bucket's size. Counted, not timed."""

from __future__ import annotations

from collections import Counter

from s3sizer.lambdas import size_tracking

from . import events


class RequestCounter:
    """Counts every API call the client makes, through botocore's before-call event."""

    def __init__(self, client):
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **_):
        self.calls[model.name] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def requests_per_record(hist, ddb, bucket: str, objects: int) -> list[Counter[str]]:
    hist.reset_from_listing(bucket, ((f"obj-{i:05d}", 100) for i in range(objects)))
    counter = RequestCounter(ddb)
    workload = [
        events.created(bucket, "new key.txt", 10, "0A"),  # a new key
        events.created(bucket, "obj-00003", 50, "0B"),  # an overwrite of a baseline key
        events.removed(bucket, "obj-00004", "0C"),  # a delete
        events.created(bucket, "obj-00003", 50, "0B"),  # a duplicate
        events.created(bucket, "obj-00003", 70, "0A"),  # a stale record
    ]
    costs = []
    for record in workload:
        size_tracking.apply_event(hist, events.envelope(record), ignore_prefix=".s3sizer/")
        costs.append(counter.take())
    return costs


def test_requests_per_record_do_not_grow_with_the_bucket(hist, ddb):
    small = requests_per_record(hist, ddb, "small-bucket", 10)
    large = requests_per_record(hist, ddb, "large-bucket", 10_000)
    assert small == large
    applied = Counter({"TransactGetItems": 1, "TransactWriteItems": 1})
    skipped = Counter({"TransactGetItems": 1})
    assert small == [applied, applied, applied, skipped, skipped]
    # and the totals of the large bucket are exact: +10, 100 -> 50, -100
    totals = hist.totals("large-bucket")
    assert (totals.total_size, totals.object_count) == (10_000 * 100 + 10 - 50 - 100, 10_000)
