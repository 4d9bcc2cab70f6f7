"""The fold function: key items' changes, from the table's stream, folded into shard rows."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from s3sizer.lambdas import fold, history, rows, tracked
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas import versions as v

from .conftest import BUCKET, TABLE
from .fold_helpers import delete_key, track, write_key


def _fold(hist, stream, records) -> dict:
    return fold.fold_event(hist, stream.client, {"Records": records})


def _totals(client, bucket=BUCKET) -> lay.Totals:
    items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
        ExpressionAttributeValues={":p": {"S": lay.bucket_pk(bucket)}, ":t": {"S": "TOTALS"}},
    )["Items"]  # fmt: skip
    return lay.totals_from(rows.sum_totals(items))


def _prefixes(client, bucket=BUCKET) -> dict[str, tuple[int, int]]:
    """Each prefix's figures: its own item and rows, and what the bucket's rows hold of it."""
    items = history.History(TABLE, client).prefix_items(bucket)
    return {
        i["prefix"]["S"]: (int(i["total_size"]["N"]), int(i["object_count"]["N"]))
        for i in items
        if any(int(i[name]["N"]) for name in ("total_size", "object_count"))
    }


def test_each_key_change_moves_the_bucket_and_its_prefixes_once(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "a/one", [10], 1)
    write_key(client, TABLE, BUCKET, "a/two", [5], 1)
    write_key(client, TABLE, BUCKET, "b/three", [7], 1)
    write_key(client, TABLE, BUCKET, "a/one", [10, 4], 2)  # overwritten: 4 bytes now
    delete_key(client, TABLE, BUCKET, "a/two")
    outcome = _fold(hist, stream, stream.read())
    assert outcome["batchItemFailures"] == []
    assert outcome["counts"]["folded"] == 5
    totals = _totals(client)
    assert (totals.total_size, totals.object_count) == (11, 2)
    assert totals.max_size == 22  # 10 + 5 + 7 before the overwrite
    assert _prefixes(client) == {"a/": (4, 1), "b/": (7, 1)}


def test_a_batch_folded_again_counts_nothing_twice(streamed):
    client, hist, stream = streamed
    for n in range(6):
        write_key(client, TABLE, BUCKET, f"k{n}", [n + 1], 1)
    records = stream.read()
    _fold(hist, stream, records[:4])
    again = _fold(hist, stream, records)  # Lambda read again from an earlier checkpoint
    assert again["counts"]["already"] == 4 and again["counts"]["folded"] == 2
    assert _fold(hist, stream, records[2:5])["counts"]["already"] == 3  # a bisected half
    assert (_totals(client).total_size, _totals(client).object_count) == (21, 6)


def test_transaction_path_items_and_other_items_are_not_folded(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "mine", [3], 1)
    item = lay.key_item(BUCKET, "theirs", {}, 1)  # no ``f``: it counted itself
    client.put_item(TableName=TABLE, Item=item)
    client.put_item(TableName=TABLE, Item={**lay.address("B#x", "UPLOADS"), "n": lay.n(1)})
    counts = _fold(hist, stream, stream.read())["counts"]
    assert (counts["folded"], counts["skipped"]) == (1, 2)


def test_an_untracked_bucket_is_ignored_and_gets_no_rows(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, "other-bucket", "k", [3], 1)
    counts = _fold(hist, stream, stream.read())["counts"]
    assert counts["ignored"] == 1
    assert _totals(client, "other-bucket") == lay.EMPTY_TOTALS


def test_a_failed_step_reports_its_first_record_and_the_rest_waits(streamed, monkeypatch):
    client, hist, stream = streamed
    track(client, TABLE, "second-bucket")
    stream.read()
    write_key(client, TABLE, BUCKET, "k1", [1], 1)
    write_key(client, TABLE, "second-bucket", "k2", [2], 1)
    write_key(client, TABLE, BUCKET, "k3", [4], 1)
    records = stream.read()
    real = hist.client.transact_write_items
    calls = []

    def failing(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")
        return real(**kwargs)

    monkeypatch.setattr(hist.client, "transact_write_items", failing)
    outcome = _fold(hist, stream, records)
    second = records[1]["dynamodb"]["SequenceNumber"]
    assert outcome["batchItemFailures"] == [{"itemIdentifier": second}]
    assert _totals(client).total_size == 1  # k3 waits for the retry
    monkeypatch.setattr(hist.client, "transact_write_items", real)
    assert _fold(hist, stream, records[1:])["counts"]["folded"] == 2
    assert _totals(client).total_size == 5 and _totals(client, "second-bucket").total_size == 2


def test_redriven_records_land_in_rows_of_their_own_once(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "k1", [8], 1)
    records = stream.read()
    info = {
        "shardId": stream.shard_id,
        "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
    }
    event = {"Records": records, "redrive": info}
    assert fold.fold_event(hist, stream.client, event)["counts"]["folded"] == 1
    assert fold.fold_event(hist, stream.client, event)["counts"]["already"] == 1
    assert _totals(client).total_size == 8


def test_a_prefix_moves_when_the_key_is_counted_deeper(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "a/b/k", [6], 1, depth=1)
    write_key(client, TABLE, BUCKET, "a/b/k", [6], 2, depth=2)  # a baseline deepened it
    _fold(hist, stream, stream.read())
    assert _prefixes(client) == {"a/": (6, 1), "a/b/": (6, 1)}
    write_key(client, TABLE, BUCKET, "a/b/k", [6], 3, depth=0)
    _fold(hist, stream, stream.read())
    assert _prefixes(client) == {}  # both emptied
    assert _totals(client).total_size == 6


def test_points_and_the_largest_size_come_per_fold(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "k", [100], 1)
    _fold(hist, stream, stream.read())
    write_key(client, TABLE, BUCKET, "k", [100, None], 2)  # a delete marker: 0 bytes
    _fold(hist, stream, stream.read())
    assert [(p.total_size, p.object_count) for p in hist.points(BUCKET)] == [(100, 1), (0, 0)]
    assert _totals(client).max_size == 100


@pytest.mark.parametrize("version_ids", [(None, None), ("v1", "v2")])
def test_a_size_a_key_passes_through_inside_one_batch_is_the_largest_size(
    streamed, clock, version_ids
):
    """A put of 20 MB and one of 1 byte over it, in one tracker batch: the key item ends at
    1 byte, and carries the 20 MB it passed through, which the fold counts in max_size."""
    from s3sizer.lambdas.size_tracking import apply_event

    from . import events

    client, hist, stream = streamed
    tracker = history.History(TABLE, client, now=clock, prefix_depth=1)
    tracker.write_path, tracker.settings_required = "fold", True
    big, small = (
        events.created(BUCKET, "d/a", size, events.sequencer(seq), version_id=vid)
        for size, seq, vid in ((20_000_000, 1, version_ids[0]), (1, 2, version_ids[1]))
    )
    apply_event(tracker, events.envelope(events.created(BUCKET, "base", 100, "0A")))
    _fold(hist, stream, stream.read())

    assert apply_event(tracker, events.envelope(big, small))["counts"]["applied"] == 2
    _fold(hist, stream, stream.read())

    totals = _totals(client)
    assert (totals.total_size, totals.max_size) == (101, 20_000_100)
    # A later write of the key by one change carries nothing it passed through.
    later = events.created(
        BUCKET, "d/a", 5, events.sequencer(3), version_id="v3" if version_ids[0] else None
    )
    apply_event(tracker, events.envelope(later))
    _fold(hist, stream, stream.read())
    assert (_totals(client).total_size, _totals(client).max_size) == (105, 20_000_100)


def test_random_histories_folded_in_random_batches_equal_the_key_items(streamed):
    client, hist, stream = streamed
    rng = random.Random(7)
    keys = [f"{rng.choice('abc')}/{n}" for n in range(12)]
    revs: dict[str, int] = {}
    held: dict[str, list] = {}
    for _ in range(120):
        key = rng.choice(keys)
        if key in held and rng.random() < 0.25:
            delete_key(client, TABLE, BUCKET, key)
            held.pop(key)
            continue
        sizes = [*held.get(key, []), rng.choice([None, rng.randrange(1, 500)])]
        held[key] = sizes[-3:]
        revs[key] = revs.get(key, 0) + 1
        write_key(client, TABLE, BUCKET, key, held[key], revs[key])
    records = stream.read()
    at = 0
    while at < len(records):  # batches of random sizes, each now and then delivered twice
        end = min(len(records), at + rng.randrange(1, 30))
        _fold(hist, stream, records[at:end])
        if rng.random() < 0.3:
            _fold(hist, stream, records[max(0, at - 5) : end])
        at = end
    current = {k: s[-1] for k, s in held.items() if s[-1] is not None}
    totals = _totals(client)
    assert (totals.total_size, totals.object_count) == (sum(current.values()), len(current))
    want: dict[str, list[int]] = {}
    for key, size in current.items():
        mine = want.setdefault(key.split("/")[0] + "/", [0, 0])
        mine[0], mine[1] = mine[0] + size, mine[1] + 1
    found = {p: f for p, f in _prefixes(client).items() if f != (0, 0)}
    assert found == {p: tuple(f) for p, f in want.items()}


class _Streams:
    """DescribeStream and a record read back, as a stream with overlapping shards answers."""

    def __init__(self, shards, holds):
        self.shards, self.holds = shards, holds

    def describe_stream(self, **kwargs):
        return {"StreamDescription": {"Shards": self.shards}}

    def get_shard_iterator(self, *, ShardId, SequenceNumber, **kwargs):
        return {"ShardIterator": f"{ShardId}|{SequenceNumber}"}

    def get_records(self, *, ShardIterator, Limit):
        shard, number = ShardIterator.split("|")
        held = [n for n in self.holds[shard] if int(n) >= int(number)]
        return {"Records": [{"dynamodb": {"SequenceNumber": held[0]}}] if held else []}


def test_the_shard_of_a_batch_is_found_by_range_then_by_reading_back():
    fold._SHARDS.clear()
    shards = [
        {"ShardId": "old", "SequenceNumberRange": {"StartingSequenceNumber": "100",
                                                   "EndingSequenceNumber": "199"}},
        {"ShardId": "a", "ParentShardId": "old",
         "SequenceNumberRange": {"StartingSequenceNumber": "200"}},
        {"ShardId": "b", "ParentShardId": "old",
         "SequenceNumberRange": {"StartingSequenceNumber": "205"}},
    ]  # fmt: skip
    streams = _Streams(shards, {"old": ["150"], "a": ["201", "230"], "b": ["210", "240"]})
    assert fold.shard_of(streams, "arn:s", "150") == "old"
    assert fold.shard_of(streams, "arn:s", "201") == "a"
    assert fold.shard_of(streams, "arn:s", "240") == "b"
    with pytest.raises(RuntimeError, match="no shard"):
        fold.shard_of(streams, "arn:s", "50")


def test_rows_of_a_finished_parent_shard_are_compacted_into_the_base(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "a/k1", [10], 1)
    _fold(hist, stream, stream.read())
    # Pretend the shard read so far was a parent, closed, and a child now carries the stream.
    parent = stream.shard_id
    parent_row = client.get_item(TableName=TABLE, Key=rows.totals_row_address(BUCKET, parent))
    assert "Item" in parent_row
    shards = [
        {"ShardId": parent, "SequenceNumberRange": {"StartingSequenceNumber": "0",
                                                    "EndingSequenceNumber": "1"}},
        {"ShardId": "child", "ParentShardId": parent,
         "SequenceNumberRange": {"StartingSequenceNumber": "0"}},
    ]  # fmt: skip
    fold._SHARDS[stream.arn] = (float("inf"), shards)
    write_key(client, TABLE, BUCKET, "a/k2", [5], 1)
    records = stream.read()
    counts = fold.fold_event(hist, _Streams(shards, {"child": []}), {"Records": records})["counts"]
    assert counts["compacted"] == 1
    left = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
        ExpressionAttributeValues={":p": {"S": lay.bucket_pk(BUCKET)}, ":t": {"S": "TOTALS"}},
    )["Items"]  # fmt: skip
    assert sorted(i["sk"]["S"] for i in left) == ["TOTALS", "TOTALS#child"]
    totals = _totals(client)
    assert (totals.total_size, totals.object_count, totals.max_size) == (15, 2, 15)
    assert _prefixes(client) == {"a/": (15, 2)}
    prefix_items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": lay.prefix_pk(BUCKET)}},
    )["Items"]  # fmt: skip
    assert not any(parent in i["sk"]["S"] for i in prefix_items)


def test_an_item_left_by_an_earlier_tracking_counts_nothing(streamed):
    client, hist, stream = streamed
    track(client, TABLE, "again", generation="first")
    write_key(client, TABLE, "again", "kept", [4], 1, generation="first")
    _fold(hist, stream, stream.read())
    assert _totals(client, "again").total_size == 4
    # untrack: the settings go, the rows and items are swept; a racing tracker's write stays.
    client.delete_item(TableName=TABLE, Key=lay.settings_address("again"))
    for item in client.scan(TableName=TABLE)["Items"]:
        if item["pk"]["S"].startswith("B#again"):
            client.delete_item(TableName=TABLE, Key=lay.address(item["pk"]["S"], item["sk"]["S"]))
    write_key(client, TABLE, "again", "stray", [50], 1, generation="first")
    track(client, TABLE, "again", generation="second")  # tracked again before the fold ran
    _fold(hist, stream, stream.read())
    assert _totals(client, "again").total_size == 0
    write_key(client, TABLE, "again", "stray", [50], 2, generation="second")  # its baseline
    write_key(client, TABLE, "again", "new", [1], 1, generation="second")
    _fold(hist, stream, stream.read())
    totals = _totals(client, "again")
    assert (totals.total_size, totals.object_count) == (51, 2)


class _Timeout(BaseException):
    """What Lambda's timeout is to the fold: nothing it can catch and report."""


def _crash_between_steps(hist, stream, records, monkeypatch) -> None:
    """An attempt that commits the batch's first step, then times out in its second."""
    real, calls = hist.client.transact_write_items, []

    def crashing(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise _Timeout
        return real(**kwargs)

    monkeypatch.setattr(hist.client, "transact_write_items", crashing)
    with pytest.raises(_Timeout):
        _fold(hist, stream, records)
    monkeypatch.setattr(hist.client, "transact_write_items", real)


def _two_buckets_written(client, stream) -> list[dict]:
    track(client, TABLE, "second-bucket")
    stream.read()
    write_key(client, TABLE, BUCKET, "k1", [3], 1)
    write_key(client, TABLE, "second-bucket", "k2", [2], 1)
    return stream.read()


def test_a_batch_dead_lettered_after_a_crash_between_steps_is_redriven_once(
    streamed, clock, monkeypatch
):
    """Every retry failed: the dead letter names the whole batch, but the step the crashed
    attempt committed left its receipt, and redrive folds only the rest."""
    client, hist, stream = streamed
    records = _two_buckets_written(client, stream)
    arrived = lay.iso_ms(clock())
    _crash_between_steps(hist, stream, records, monkeypatch)
    clock.advance(90)  # ten retries later, Lambda gives up
    redrive = {
        "shardId": stream.shard_id,
        "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
        "firstArrival": arrived[:19] + "Z",  # DDBStreamBatchInfo's arrival: whole seconds
        "failedAt": lay.iso_ms(clock()),
    }

    outcome = fold.fold_event(hist, stream.client, {"Records": records, "redrive": redrive})

    assert (outcome["counts"]["already"], outcome["counts"]["folded"]) == (1, 1)
    assert _totals(client).total_size == 3
    assert _totals(client, "second-bucket").total_size == 2
    again = fold.fold_event(hist, stream.client, {"Records": records, "redrive": redrive})
    assert again["counts"]["folded"] == 0  # the same letter redriven twice counts nothing more
    assert _totals(client).total_size == 3


@pytest.mark.parametrize("span", ["an hour before", "none"])
def test_receipts_are_looked_for_only_in_the_dead_letter_s_time_span(
    streamed, clock, monkeypatch, span
):
    """Between the batch's arrival and Lambda's giving up, with a margin for the two clocks. A
    request without that span (an older CLI's) finds no receipt and folds every record."""
    client, hist, stream = streamed
    records = _two_buckets_written(client, stream)
    _crash_between_steps(hist, stream, records, monkeypatch)
    redrive = {
        "shardId": stream.shard_id,
        "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
    }
    if span != "none":
        redrive["firstArrival"] = lay.iso_ms(clock() - timedelta(hours=1, minutes=1))
        redrive["failedAt"] = lay.iso_ms(clock() - timedelta(hours=1))

    fold.fold_event(hist, stream.client, {"Records": records, "redrive": redrive})

    assert _totals(client).total_size == 6  # 3 bytes, counted twice
    assert _totals(client, "second-bucket").total_size == 2


def test_a_key_the_transaction_path_wrote_moves_by_its_change_once_the_fold_takes_it(streamed):
    """A stack moved to the fold path: its older key items carry no mark and no generation, and
    counted themselves in the base totals; a fold-path write over one moves the rows by the
    change only."""
    client, hist, stream = streamed
    track(client, TABLE, BUCKET, generation="now")

    def put(key: str, size: int | None, rev: int, mark: dict) -> None:
        kind = v.OBJECT if size is not None else v.MARKER
        versions = {"null": v.Entry(kind=kind, seq=f"{rev:016X}", size=size or 0)}
        item = lay.key_item(BUCKET, key, versions, rev, 1)
        client.put_item(TableName=TABLE, Item={**item, **mark})

    put("a/kept", 100, 1, {})  # the transaction path's, counted in the base totals
    put("a/gone", 20, 1, {})
    base = {**lay.address(lay.bucket_pk(BUCKET), lay.TOTALS_SK), "version": lay.n(2)}
    client.put_item(
        TableName=TABLE, Item={**base, "total_size": lay.n(120), "object_count": lay.n(2)}
    )
    prefix = {**lay.prefix_address(BUCKET, "a/"), "prefix": {"S": "a/"}, "depth": lay.n(1)}
    client.put_item(
        TableName=TABLE,
        Item={**prefix, "total_size": lay.n(120), "object_count": lay.n(2), "version": lay.n(1)},
    )
    stream.read()
    mark = {rows.FOLDED: lay.n(1), tracked.ITEM_GENERATION: {"S": "now"}}
    put("a/kept", 40, 2, mark)  # overwritten on the fold path
    put("a/gone", None, 2, mark)  # deleted on the fold path
    _fold(hist, stream, stream.read())
    totals = _totals(client)
    assert (totals.total_size, totals.object_count) == (40, 1)
    assert _prefixes(client) == {"a/": (40, 1)}


def test_a_late_record_of_an_earlier_tracking_over_an_unmarked_key_counts_nothing(streamed):
    """A fold-path write over a key the transaction path wrote, folded only after the bucket was
    untracked and tracked again: its writer's generation is gone, so it moves nothing, and the
    new tracking's baseline write counts the key once."""
    client, hist, stream = streamed
    track(client, TABLE, BUCKET, generation="first")

    def put(size: int, rev: int, mark: dict) -> None:
        versions = {"null": v.Entry(kind=v.OBJECT, seq=f"{rev:016X}", size=size)}
        client.put_item(
            TableName=TABLE, Item={**lay.key_item(BUCKET, "a/k", versions, rev, 1), **mark}
        )

    def marked(generation: str) -> dict:
        return {rows.FOLDED: lay.n(1), tracked.ITEM_GENERATION: {"S": generation}}

    put(100, 1, {})  # the transaction path's, counted in the base totals
    base = lay.address(lay.bucket_pk(BUCKET), lay.TOTALS_SK)
    client.put_item(
        TableName=TABLE,
        Item={**base, "version": lay.n(2), "total_size": lay.n(100), "object_count": lay.n(1)},
    )
    stream.read()
    put(40, 2, marked("first"))
    late = stream.read()  # not folded yet: the fold lags, or its batch waits in the DLQ
    client.delete_item(TableName=TABLE, Key=lay.settings_address(BUCKET))  # untrack
    client.delete_item(TableName=TABLE, Key=base)
    key = lay.key_item(BUCKET, "a/k", {}, 0, 1)
    client.delete_item(TableName=TABLE, Key={"pk": key["pk"], "sk": key["sk"]})
    swept = stream.read()
    track(client, TABLE, BUCKET, generation="second")
    put(40, 3, marked("second"))  # the new tracking's baseline

    _fold(hist, stream, late + swept + stream.read())

    totals = _totals(client)
    assert (totals.total_size, totals.object_count) == (40, 1)
