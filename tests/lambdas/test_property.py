"""Exact totals whatever S3 and Lambda do: duplicates, reordering, crashes and retries.

A sequence of operations is played on a plain dict (the ground truth) and turned into the records
S3 would send. Those are delivered duplicated, shuffled within and across keys, batched into
events, with a crash injected before or after any one write followed by a retry of the whole
event, as Lambda does. Afterwards the table must agree with the dict.
"""

from __future__ import annotations

import json
import uuid
from itertools import count
from urllib.parse import unquote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas.history import History
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import TABLE

KEYS = ["a b.txt", "a+b", "100%", "50%25 off", "ünï/ключ", "plain", "dir/x y+z%20.txt"]
KINDS = {"put": "Put", "overwrite": "Put", "copy": "Copy", "multipart": "CompleteMultipartUpload"}
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["put", "overwrite", "delete", "copy", "multipart"]),
        st.sampled_from(KEYS),
        st.integers(min_value=0, max_value=5 * 1024**3),
    ),
    min_size=1,
    max_size=14,
)


class Crash(Exception):
    """The function's container dies: nothing after this point of the invocation runs."""


class CrashOnce:
    """The real client, but the k-th TransactWriteItems crashes, before or after it lands."""

    def __init__(self, client, at: int | None, after: bool):
        self._client, self._at, self._after = client, at, after
        self._writes = count(1)

    def transact_write_items(self, **kwargs):
        if next(self._writes) != self._at:
            return self._client.transact_write_items(**kwargs)
        if self._after:
            self._client.transact_write_items(**kwargs)
        raise Crash

    def __getattr__(self, name):
        return getattr(self._client, name)


def play(bucket, operations, draw) -> tuple[dict[str, int], list[dict]]:
    """The ground truth after the operations, and the records S3 sends for them, in order."""
    truth: dict[str, int] = {}
    sent: dict[str, int] = {}
    records = []
    for op, key, size in operations:
        n = sent[key] = sent.get(key, 0) + 1
        seq = events.sequencer(n, trim=draw(st.integers(0, 4)))
        seq = seq.lower() if draw(st.booleans()) else seq
        if op == "delete":
            truth.pop(key, None)
            records.append(events.removed(bucket, key, seq))
        else:
            truth[key] = size
            records.append(events.created(bucket, key, size, seq, kind=KINDS[op]))
    return truth, records


def respelled(record: dict, draw) -> dict:
    """The same record, its sequencer written with more or fewer trailing zeros (same value)."""
    copy = json.loads(json.dumps(record))
    seq = copy["s3"]["object"]["sequencer"]
    copy["s3"]["object"]["sequencer"] = seq.rstrip("0") + "0" * draw(st.integers(0, 3))
    return copy


def deliver(records, draw) -> list[dict]:
    """Duplicated, shuffled, and cut into events of one or more records."""
    extra = [respelled(r, draw) for r in draw(st.lists(st.sampled_from(records), max_size=8))]
    shuffled = draw(st.permutations(records + extra))
    batches = []
    while shuffled:
        size = draw(st.integers(1, 4))
        batches.append(events.envelope(*shuffled[:size]))
        shuffled = shuffled[size:]
    return batches


def check_history(ddb, bucket, hist, records) -> None:
    """Each point starts where the previous one ended, and no record drew two points."""
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues={":pk": {"S": f"B#{bucket}"}, ":h": {"S": "H#"}},
    )["Items"]
    items.sort(key=lambda i: i["sk"]["S"].rsplit("#", 1)[1])
    previous = 0
    for item in items:
        assert int(item["prev_total_size"]["N"]) == previous
        previous = int(item["total_size"]["N"])
    totals = hist.totals(bucket)
    assert previous == totals.total_size
    assert len(items) == totals.version
    assert totals.max_size == max([0] + [int(i["total_size"]["N"]) for i in items])
    for key in KEYS:
        sent = sum(1 for r in records if unquote_plus(r["s3"]["object"]["key"]) == key)
        assert sum(1 for i in items if i["key"]["S"] == key) <= sent


def test_totals_and_index_equal_the_ground_truth(ddb, clock):
    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations=OPERATIONS, data=st.data())
    def check(operations, data):
        bucket = f"b-{uuid.uuid4().hex}"  # a fresh partition per example, in one table
        truth, records = play(bucket, operations, data.draw)
        batches = deliver(records, data.draw)
        crash_at = data.draw(st.none() | st.integers(1, 2 * len(records)), label="crash_at")
        client = CrashOnce(ddb, crash_at, after=data.draw(st.booleans(), label="after"))
        hist = History(TABLE, client, now=clock)

        for event in batches:
            try:
                apply_event(hist, event, ignore_prefix=".s3sizer/")
            except Crash:  # Lambda retries the whole event
                apply_event(hist, event, ignore_prefix=".s3sizer/")

        totals = hist.totals(bucket)
        assert (totals.total_size, totals.object_count) == (sum(truth.values()), len(truth))
        index = {s.key: s.size for s in hist.keys(bucket) if s.exists}
        assert index == truth
        check_history(ddb, bucket, hist, records)

    check()
