"""Random histories of a bucket, delivered as AWS delivers them, end exact.

A history of puts, overwrites, deletes, version deletes, delete markers and their removal,
lifecycle expirations, and versioning enabled or suspended midway is played on a model of S3
(s3model.py), over keys with prefixes, spaces, '+', '%', any Unicode, and exactly 1,024 UTF-8
bytes. Its notifications reach the tracker's handler through one route's shape (a direct S3
event per record; SQS batches of S3 notifications; SQS batches of EventBridge events; or a mix
of them, as while the route changes), shuffled, duplicated, in random batches, while DynamoDB
throttles, loses responses, leaves reads unprocessed, cancels transactions, other invocations
write in between, and containers die. Whatever fails comes back, as Lambda, SQS or a redrive
send it again. The transaction and read limits are scaled down at random, so that a few keys
are cut into chunks and pages as a large batch is.

Afterwards the totals, each key and the prefix totals equal the model's listing (ListObjectsV2
and ``--prefix``), ``max_size`` is at least every total the tracker recorded, and delivering
everything once more changes nothing.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from itertools import count

import pytest
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas import batch, size_tracking, versions
from s3sizer.lambdas import classes as storage_classes
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History, table_definition
from s3sizer.lambdas.own_keys import is_own_key

from . import events
from .conftest import TABLE
from .s3model import ENABLED, ModelBucket, Notice, Op

# -- histories -----------------------------------------------------------------------------


def exactly_1024_bytes(stem: str) -> str:
    """The stem, filled up to S3's longest key: 1,024 bytes of UTF-8."""
    room = 1024 - len(stem.encode())
    return stem + "ü" * (room // 2) + "x" * (room % 2)


FIXED_KEYS = [
    "a/b/c",
    "a/b/d e+f.txt",
    "a/x",
    "é/ü/€ 1+1=2",
    "dir//two",
    "top",
    "100% real+",
    "folder/",
    " lead/ space ",
    "a+b/c d%2B",
]
SEGMENTS = st.text(st.characters(codec="utf-8") | st.sampled_from(" +%"), max_size=6)
TEXT = st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join).filter(bool)  # "a/", "a//b"...
# s3sizer's own keys are not the user's objects: the tracker ignores exactly those.
KEYS = st.one_of(st.sampled_from(FIXED_KEYS), TEXT, st.builds(exactly_1024_bytes, TEXT))
KEYS = KEYS.filter(lambda key: not is_own_key(key))
KINDS = st.sampled_from(
    ["put"] * 5
    + ["delete"] * 3
    + ["delete-version"] * 2
    + ["expire-current", "expire-noncurrent", "expire-marker"] * 2
    + ["enable", "suspend"]
    + ["transition"] * 2
)
SIZES = st.integers(0, 1000) | st.integers(0, 5 * 1024**4)
GAPS = st.sampled_from([0, 1, 999, 1000, 1500, 60_000])
# Steps of several magnitudes give sequencers with various numbers of trailing zeros.
STEPS = st.sampled_from([1, 0xF, 0x10, 0x100, 0x10000, 0x1000000, 1 << 32, 1 << 48])


@st.composite
def histories(draw) -> list[Op]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    op = st.builds(
        Op,
        kind=KINDS,
        key=st.sampled_from(keys),
        size=SIZES,
        pick=st.integers(0, 7),
        gap_ms=GAPS,
        seq_step=STEPS,
        seq_zeros=st.integers(0, 3),
        cls_pick=st.integers(0, 6),
    )
    ops = draw(st.lists(op, min_size=6, max_size=24))
    if draw(st.booleans()):  # most buckets worth tracking are versioned from the start
        ops.insert(0, Op("enable", keys[0]))
    return ops


# -- DynamoDB failing -----------------------------------------------------------------------

FAULTS = [
    "throttled",
    "lost",
    "retried",
    "unprocessed",
    "conflict",
    "concurrent",
    "crash-before",
    "crash-after",
]


class Crash(Exception):
    """The function's container dies (a timeout, out of memory): the invocation never answers."""


class FaultyDynamoDB:
    """The real client, but the n-th request (reads and writes, from 0) fails as ``faults[n]``.

    throttled: refused before it runs; lost: it ran, the answer timed out; retried: it ran, and
    botocore sent the same request again (a write then finds its own conditions failed);
    unprocessed: a read answers nothing but UnprocessedKeys; conflict: a transaction cancelled
    by a concurrent one; concurrent: another invocation runs to its end just before the request
    (its writes then fail this one's conditions); crash-before/after: the container dies before
    or after the request.
    """

    def __init__(self, client, faults: list[str | None], meanwhile=lambda: None):
        self._client, self.faults, self._requests = client, list(faults), count()
        self._meanwhile = meanwhile

    def _next_fault(self) -> str | None:
        n = next(self._requests)
        return self.faults[n] if n < len(self.faults) else None

    def batch_get_item(self, **kwargs):
        fault = self._next_fault()
        if fault == "unprocessed":
            ((table, request),) = kwargs["RequestItems"].items()
            return {"Responses": {table: []}, "UnprocessedKeys": {table: request}}
        return self._request("batch_get_item", fault, kwargs)

    def transact_write_items(self, **kwargs):
        fault = self._next_fault()
        if fault == "conflict":
            items = kwargs["TransactItems"]
            reasons = [{"Code": "None"} for _ in items]
            reasons[len(items) // 2] = {"Code": "TransactionConflict", "Message": "conflict"}
            error = {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": reasons,
            }
            raise ClientError(error, "TransactWriteItems")
        return self._request("transact_write_items", fault, kwargs)

    def _request(self, name: str, fault: str | None, kwargs: dict):
        call = getattr(self._client, name)
        if fault == "throttled":
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, name)
        if fault == "crash-before":
            raise Crash
        if fault == "concurrent":
            self._meanwhile()
        response = call(**kwargs)
        if fault == "lost":
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
        if fault == "retried":
            return call(**kwargs)
        if fault == "crash-after":
            raise Crash
        return response

    def __getattr__(self, name):
        return getattr(self._client, name)


# -- delivery ------------------------------------------------------------------------------

DIRECT, QUEUED = "direct", "queued"  # an event of its own; the body of an SQS message
ROUTES = ["direct", "sqs", "eventbridge", "mixed"]
_IDS = count(1)


@dataclass(frozen=True)
class Delivery:
    how: str
    body: dict
    message_id: str
    notice: Notice | None = None  # what it reports: its lookups see the bucket after it


def rendered(notice: Notice, bucket: str, route: str) -> Delivery:
    """The notice in the shape its route gives the function."""
    message_id = f"00000000-0000-4000-9000-{next(_IDS):012d}"
    if route == "eventbridge":
        return Delivery(QUEUED, notice.eventbridge(bucket), message_id, notice)
    body = events.envelope(notice.s3_record(bucket))  # S3 sends one record per notification
    return Delivery(DIRECT if route == "direct" else QUEUED, body, message_id, notice)


def deliveries(notices: list[Notice], bucket: str, route: str, draw, *, again=()) -> list:
    """Each notice, with some of ``again`` once more (S3 and SQS deliver at least once), shuffled."""
    extra = draw(st.lists(st.sampled_from(again), max_size=6)) if again else []
    out = []
    for notice in notices + extra:
        shape = route if route != "mixed" else draw(st.sampled_from(ROUTES[:3]))
        out.append(rendered(notice, bucket, shape))
    return draw(st.permutations(out))


def failure_record(event: dict) -> dict:
    """What Lambda keeps of a direct invocation whose retries are spent (on-failure destination)."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-24T21:09:05.123Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:s3sizer:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"errorType": "ClientError", "errorMessage": "Rate exceeded"},
    }


def sqs_batch(messages: list[Delivery]) -> dict:
    event = events.sqs(*(d.body for d in messages))
    for record, delivery in zip(event["Records"], messages, strict=True):
        record["messageId"] = delivery.message_id  # a redelivered message keeps its id
    return event


class Queue:
    """What is still to be delivered, and the invocations that deliver it."""

    def __init__(self, draw):
        self.pending: list[Delivery] = []
        self.sent: set[Notice] = set()  # what S3 had sent by the time of an invocation
        self._draw = draw

    def drain(self, deliveries: list[Delivery]) -> None:
        """Invoke the handler until everything went through; what fails comes back later."""
        self.pending.extend(deliveries)
        for _ in range(10_000):
            if not self.pending:
                return
            self.step()
        raise AssertionError("the deliveries never ended")

    def step(self) -> None:
        """One invocation: a direct event, or an SQS batch of up to 10 messages."""
        if not self.pending:
            return
        head = self.pending.pop(0)
        self.sent.add(head.notice)
        if head.how == DIRECT:
            try:
                size_tracking.handler(head.body, None)
            except (Crash, ClientError, BotoCoreError, RuntimeError):
                # Lambda retries the event; once its retries are spent a redrive brings it back,
                # as the event itself or, moved into the queue, as Lambda's failure record.
                if self._draw(st.booleans()):
                    head = Delivery(QUEUED, failure_record(head.body), head.message_id, head.notice)
                self._again(head)
            return
        messages, limit = [head], self._draw(st.integers(1, 10))
        while self.pending and len(messages) < limit and self.pending[0].how == QUEUED:
            messages.append(self.pending.pop(0))
            self.sent.add(messages[-1].notice)
        try:
            answer = size_tracking.handler(sqs_batch(messages), None)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        except Crash:  # the whole batch becomes visible again
            failed = {d.message_id for d in messages}
        for delivery in messages:
            if delivery.message_id in failed:
                self._again(delivery)

    def _again(self, delivery: Delivery) -> None:
        self.pending.insert(self._draw(st.integers(0, len(self.pending))), delivery)


# -- what a listing shows ------------------------------------------------------------------


def listed_prefixes(key: str, depth: int) -> list[str]:
    """The prefixes up to each of the key's first ``depth`` slashes."""
    parts = key.split("/")
    return ["/".join(parts[: i + 1]) + "/" for i in range(min(depth, len(parts) - 1))]


def assert_exact(reader: History, bucket: str, listing: dict[str, int], depth: int) -> None:
    totals = reader.totals(bucket)
    assert (totals.total_size, totals.object_count) == (sum(listing.values()), len(listing))
    assert {s.key: s.size for s in reader.keys(bucket) if s.exists} == listing
    expected = {}
    for prefix in {p for key in listing for p in listed_prefixes(key, depth)}:
        under = [size for key, size in listing.items() if key.startswith(prefix)]
        expected[prefix] = (sum(under), len(under))  # ListObjectsV2 --prefix
    recorded = {p.prefix: (p.total_size, p.object_count) for p in reader.prefix_totals(bucket)}
    assert recorded == expected
    recorded_totals = [totals.total_size] + [p.total_size for p in reader.points(bucket)]
    assert totals.max_size >= max(recorded_totals)


_BATCH_LINE = re.compile(r"batch: applied=(\d+) .* rejected=(\d+) ")


def batch_lines(caplog) -> list[tuple[int, int]]:
    """(applied, rejected) of each batch the function logged."""
    lines = [r.getMessage() for r in caplog.records if r.name == size_tracking.logger.name]
    return [(int(m[1]), int(m[2])) for line in lines if (m := _BATCH_LINE.match(line))]


# -- the property ----------------------------------------------------------------------------


def test_random_histories_end_exact_on_every_route(function_env, ddb, caplog):
    check_random_histories(function_env, ddb, caplog, examples=20)


@pytest.mark.heavy
def test_many_more_random_histories_end_exact(function_env, ddb, caplog):
    check_random_histories(function_env, ddb, caplog, examples=200)


def check_random_histories(function_env, ddb, caplog, examples: int) -> None:
    monkeypatch = function_env(size_tracking)
    caplog.set_level(logging.INFO, logger=size_tracking.logger.name)

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        history=histories(),
        route=st.sampled_from(ROUTES),
        depth=st.integers(0, 2),
        faults=st.lists(st.none() | st.sampled_from(FAULTS), max_size=16),
        # One key at depth 2 needs 7 items: 7 and 12 cut a batch of a few keys into chunks.
        transaction_items=st.sampled_from([7, 12, batch.TRANSACTION_ITEMS]),
        read_items=st.sampled_from([2, batch.READ_ITEMS]),
        # 1 and 2 drop tombstones in short histories: late creates then ask S3 (late_creates).
        tombstones=st.sampled_from([1, 2, versions.MAX_TOMBSTONES]),
        classes=st.booleans(),
        data=st.data(),
    )
    def check(
        history, route, depth, faults, transaction_items, read_items, tombstones, classes, data
    ):
        # A fresh table: moto sorts a whole table on each query, so a shared one slows down.
        ddb.delete_table(TableName=TABLE)
        ddb.create_table(**table_definition(TABLE))
        bucket = f"b-{uuid.uuid4().hex}"
        model = ModelBucket()
        quiet = data.draw(st.integers(0, len(history)), label="the bucket is quiet after op")
        for op in history[:quiet]:
            model.play(op)
        early, listing_then = list(model.notices), model.listing()
        held_then = model.version_ids()
        for op in history[quiet:]:
            model.play(op)
        monkeypatch.setenv("PREFIX_DEPTH", str(depth))
        size_tracking._config.cache_clear()
        tracker = size_tracking._config()
        queue = Queue(data.draw)
        tracker.client = faulty = FaultyDynamoDB(tracker.client, faults, queue.step)
        reader = History(TABLE, ddb, prefix_depth=depth)
        if classes:  # storage classes tracked: HeadObject sees the bucket as it is by then
            from s3sizer.lambdas.usage import set_storage_classes

            set_storage_classes(reader, bucket, True)
            tracker.class_of = lambda _, key, vid: model.class_seen(
                key, vid or "null", queue.sent, lambda seen: data.draw(st.sampled_from(seen))
            )
        # What ListObjectVersions answers of a key while the early notices are delivered (the
        # bucket as it was then), and after (as it is at the end).
        s3_now = [held_then]
        tracker.versions_of = lambda _, key: s3_now[0].get(key, set())
        monkeypatch.setattr(versions, "MAX_TOMBSTONES", tombstones)
        monkeypatch.setattr(versions, "_UNDER_EITHER_CAP", tombstones)
        # Scaled down, a few keys make the chunks and reads of a large batch.
        monkeypatch.setattr(batch, "TRANSACTION_ITEMS", transaction_items)
        monkeypatch.setattr(batch, "READ_ITEMS", read_items)
        monkeypatch.setattr(storage_classes, "LOOKUP_THREADS", 1)  # Hypothesis draws the answers
        caplog.clear()

        # Exact at a quiet moment, then at the end, with late duplicates of the early notices.
        queue.drain(deliveries(early, bucket, route, data.draw, again=early))
        assert_exact(reader, bucket, listing_then, depth)
        late = model.notices[len(early) :]
        s3_now[0] = model.version_ids()
        queue.drain(deliveries(late, bucket, route, data.draw, again=model.notices))
        assert_exact(reader, bucket, model.listing(), depth)
        assert all(rejected == 0 for _, rejected in batch_lines(caplog))
        totals = reader._get(lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK))
        held = {c: f for c, f in lay.classes_from(totals).items() if any(f)}
        assert held == (model.classes() if classes else {})

        # Everything once more, without faults: duplicates change nothing, not even a point.
        faulty.faults.clear()
        before = reader.totals(bucket)
        caplog.clear()
        queue.drain(deliveries(model.notices, bucket, route, data.draw))
        assert reader.totals(bucket) == before
        assert all(applied == 0 for applied, _ in batch_lines(caplog))

    check()


def test_the_model_keeps_versions_as_s3_documents():
    """The model itself, on the cases S3's user guide draws."""
    model = ModelBucket()
    model.play(Op("put", "k", 7))
    model.play(Op("enable", "k"))
    model.play(Op("put", "k", 9))
    model.play(Op("delete", "k"))  # a marker on top
    assert model.listing() == {}
    marker = model.stacks["k"][-1]
    model.play(Op("delete-version", "k", pick=2))  # deleting the marker brings 9 back
    assert model.listing() == {"k": 9} and marker not in model.stacks["k"]
    model.play(Op("suspend", "k"))
    model.play(Op("delete", "k"))  # the null object (7) goes, a null marker tops the stack
    assert [(v.vid, v.marker) for v in model.stacks["k"]][-1] == ("null", True)
    assert [v.size for v in model.stacks["k"]] == [9, 0]
    model.play(Op("put", "k", 3))  # replaces the null marker
    assert model.listing() == {"k": 3} and len(model.stacks["k"]) == 2
    assert model.state != ENABLED
    names = [n.name for n in model.notices]
    assert names == [
        "ObjectCreated:Put",
        "ObjectCreated:Put",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectCreated:Put",
    ]
    assert model.notices[0].version_id is None and model.notices[-1].version_id == "null"
    sequencers = [n.sequencer for n in model.notices]
    padded = [s.ljust(32, "0") for s in sequencers]
    assert padded == sorted(padded) and len(set(padded)) == len(padded)
