"""Random histories end exact on the fold path too (docs/tracking.md, "The fold path").

The same histories, routes, shapes and faults as test_histories.py, with the tracker writing
only key items (``WRITE_PATH=fold``) to a table whose stream the fold function folds. The fold
sees Lambda's delivery of a stream: its records in order, in batches of random sizes, each
retried from the record it reports (or whole, when it crashes), given up on into a dead letter
that is redriven at the end, and earlier ranges delivered again, while its own DynamoDB calls
fail as the tracker's do. Afterwards the rows add up to the
model's listing, per bucket and per prefix, and delivering everything once more changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas import (
    batch,
    fold,
    fold_apply,
    key_writes,
    rows,
    size_tracking,
    tracked,
    versions,
)
from s3sizer.lambdas import classes as storage_classes
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History

from .conftest import TABLE
from .fold_helpers import Stream, streamed_table
from .s3model import ModelBucket
from .test_histories import (
    FAULTS,
    ROUTES,
    Crash,
    FaultyDynamoDB,
    Queue,
    assert_exact,
    batch_lines,
    deliveries,
    histories,
)


class FaultyWrites(FaultyDynamoDB):
    """FaultyDynamoDB, with PutItem, Query and GetItem failing too (the fold path's calls)."""

    def put_item(self, **kwargs):
        return self._request("put_item", self._next_fault(), kwargs)

    def query(self, **kwargs):
        fault = self._next_fault()
        return self._request("query", None if fault in ("retried", "concurrent") else fault, kwargs)


def fold_all(hist, stream: Stream, draw) -> None:
    """Every record written so far, folded as Lambda delivers a shard: in order, in batches,
    from the checkpoint; a crash retries the batch, a report retries from its record, and a
    retry may be the last one: the batch goes to the dead-letter queue, and is redriven at the
    end as `s3sizer redrive` does it (with the batch's time span)."""
    records = stream.read()
    at, letters = 0, []
    arrived = _now()
    for _ in range(10_000):
        if at >= len(records):
            for letter in letters:
                _redrive(hist, stream, *letter)
            return
        size = draw(st.integers(1, 12), label="fold batch")
        if at and draw(st.integers(0, 4)) == 0:  # a range Lambda delivers again
            start = draw(st.integers(0, at - 1))
            _fold_once(hist, stream, records[start:at])
        chunk = records[at : at + size]
        failures = _fold_once(hist, stream, chunk)
        if failures == []:
            at += len(chunk)
            arrived = _now()
            continue
        if failures:  # the retry starts from the reported record
            numbers = [r["dynamodb"]["SequenceNumber"] for r in chunk]
            chunk = chunk[numbers.index(failures[0]["itemIdentifier"]) :]
        if draw(st.integers(0, 5), label="retries exhausted") == 0:
            letters.append((chunk, arrived, _now()))
            at = records.index(chunk[-1]) + 1
            arrived = _now()
        else:
            at = records.index(chunk[0])
    raise AssertionError("the fold never caught up")


def _now() -> str:
    return lay.iso_ms(datetime.now(UTC))


def _redrive(hist, stream: Stream, records: list, arrived: str, failed_at: str) -> None:
    """The letter folded again until a run succeeds whole, as a user reruns redrive."""
    redrive = {
        "shardId": stream.shard_id,
        "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
        "firstArrival": arrived,
        "failedAt": failed_at,
    }
    for _ in range(1_000):
        try:
            outcome = fold.fold_event(hist, stream.client, {"Records": records, "redrive": redrive})
        except Crash:
            continue
        if not outcome["batchItemFailures"]:
            return
    raise AssertionError("the redrive never succeeded")


def _fold_once(hist, stream: Stream, records: list):
    try:
        return fold.fold_event(hist, stream.client, {"Records": records})["batchItemFailures"]
    except Crash:
        return None


@pytest.fixture
def streams(aws):
    """moto in-process (``aws``) whose tables record their streams as the emulator's do."""
    from s3sizer.emulator.patches import stream_records
    from s3sizer.emulator.patches.hooks import PatchSet

    patches = PatchSet()
    stream_records.install(patches)
    try:
        yield
    finally:
        patches.undo()


def test_random_histories_end_exact_on_the_fold_path(function_env, streams, caplog):
    check_fold_histories(function_env, caplog, examples=20)


def check_fold_histories(function_env, caplog, examples: int) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    monkeypatch = function_env(size_tracking)
    monkeypatch.setenv("WRITE_PATH", "fold")
    monkeypatch.setattr(key_writes, "WRITERS", 1)  # the faults' order stays the draw's
    caplog.set_level(logging.INFO, logger=size_tracking.logger.name)
    tables = iter(range(1_000_000))

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
        fold_faults=st.lists(st.none() | st.sampled_from(FAULTS), max_size=12),
        read_items=st.sampled_from([2, batch.READ_ITEMS]),
        # 1 and 2 drop tombstones in short histories: late creates then ask S3 (late_creates).
        tombstones=st.sampled_from([1, 2, versions.MAX_TOMBSTONES]),
        classes=st.booleans(),
        data=st.data(),
    )
    def check(history, route, depth, faults, fold_faults, read_items, tombstones, classes, data):
        table = f"{TABLE}-{next(tables)}"
        monkeypatch.setenv("TABLE_NAME", table)
        stream = Stream(streamed_table(ddb, table))
        bucket = f"b-{uuid.uuid4().hex}"
        settings_item = {**lay.settings_address(bucket), "prefix_depth": lay.n(depth)}
        settings_item[tracked.UNMARKED_DEPTH] = lay.n(depth)
        ddb.put_item(TableName=table, Item=settings_item)
        model = ModelBucket()
        quiet = data.draw(st.integers(0, len(history)), label="the bucket is quiet after op")
        for op in history[:quiet]:
            model.play(op)
        early, listing_then = list(model.notices), model.listing()
        s3_now = [model.version_ids()]  # what ListObjectVersions answers: the bucket then
        for op in history[quiet:]:
            model.play(op)
        monkeypatch.setenv("PREFIX_DEPTH", str(depth))
        size_tracking._config.cache_clear()
        tracker = size_tracking._config()
        assert tracker.write_path == "fold"
        queue = Queue(data.draw)
        tracker.client = faulty = FaultyWrites(tracker.client, faults, queue.step)
        reader = History(table, ddb, prefix_depth=depth)
        folder = History(table, FaultyWrites(ddb, fold_faults))
        if classes:
            from s3sizer.lambdas.usage import set_storage_classes

            set_storage_classes(reader, bucket, True)
            tracker.class_of = lambda _, key, vid: model.class_seen(
                key, vid or "null", queue.sent, lambda seen: data.draw(st.sampled_from(seen))
            )
        tracker.versions_of = lambda _, key: s3_now[0].get(key, set())
        monkeypatch.setattr(versions, "MAX_TOMBSTONES", tombstones)
        monkeypatch.setattr(versions, "_UNDER_EITHER_CAP", tombstones)
        monkeypatch.setattr(batch, "READ_ITEMS", read_items)
        monkeypatch.setattr(storage_classes, "LOOKUP_THREADS", 1)
        caplog.clear()

        queue.drain(deliveries(early, bucket, route, data.draw, again=early))
        fold_all(folder, stream, data.draw)
        assert_exact(reader, bucket, listing_then, depth)
        late = model.notices[len(early) :]
        s3_now[0] = model.version_ids()  # and the bucket at the end
        queue.drain(deliveries(late, bucket, route, data.draw, again=model.notices))
        fold_all(folder, stream, data.draw)
        assert_exact(reader, bucket, model.listing(), depth)
        assert all(rejected == 0 for _, rejected in batch_lines(caplog))
        items = ddb.query(
            TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
            ExpressionAttributeValues={":p": {"S": lay.bucket_pk(bucket)}, ":t": {"S": "TOTALS"}},
        )["Items"]  # fmt: skip
        held = {c: f for c, f in lay.classes_from(rows.sum_totals(items)).items() if any(f)}
        assert held == (model.classes() if classes else {})

        # Everything once more, without faults: nothing is written, so nothing is folded.
        faulty.faults.clear()
        before = reader.totals(bucket)
        stream.read()  # the fold's own rows and points: not key items, never folded
        queue.drain(deliveries(model.notices, bucket, route, data.draw))
        assert [r for r in stream.read() if fold_apply.bucket_of(r)] == []
        assert reader.totals(bucket) == before
        ddb.delete_table(TableName=table)

    check()


@pytest.mark.heavy
def test_many_more_random_histories_end_exact_on_the_fold_path(function_env, streams, caplog):
    check_fold_histories(function_env, caplog, examples=150)
