"""The tracker's fold path: each changed key item by its own PutItem, marked for the fold.

The same deliveries applied by the transaction path and by the fold path leave the same key
items (the fold's marked ``f`` = 1), with the same outcomes counted; the fold path writes no
totals, prefix totals or points. A key written by someone else between the read and the write
is read again, and the chunk ends right.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas import key_writes, rows, size_tracking
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History, table_definition
from s3sizer.lambdas.size_tracking import apply_event
from s3sizer.lambdas.usage import set_storage_classes

from . import events
from .conftest import BUCKET, TABLE
from .s3model import ModelBucket
from .test_histories import histories

FOLD_TABLE = "fold-history"


def folding(client, clock, **kwargs) -> History:
    hist = History(FOLD_TABLE, client, now=clock, sleep=lambda seconds: None, **kwargs)
    hist.write_path = "fold"
    return hist


def partition(ddb, table: str, pk: str) -> list[dict]:
    return ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]


def key_items(ddb, table: str, bucket: str) -> dict:
    return {i["sk"]["S"]: i for pk in lay.key_partitions(bucket) for i in partition(ddb, table, pk)}


def unmarked(item: dict) -> dict:
    """Without what only the fold path writes: its mark, and a size the key passed through."""
    return {n: value for n, value in item.items() if n not in (rows.FOLDED, lay.PASSING_SIZE)}


class UnreadWrites:
    """The real client, noting each key item put at lay.UNREAD_REV (written without a read):
    from then on that key's revision counts from 0 again on the fold path, where the
    transaction path counts on, so only its revision may differ."""

    def __init__(self, client):
        self._client, self.keys = client, set()

    def put_item(self, **kwargs):
        if kwargs["Item"].get("rev") == lay.n(lay.UNREAD_REV):
            self.keys.add(kwargs["Item"]["sk"]["S"])
        return self._client.put_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def batches(bodies: list[dict], draw) -> list[dict]:
    """Duplicated, shuffled, cut into SQS batches of one to ten messages."""
    extra = draw(st.lists(st.sampled_from(bodies), max_size=6)) if bodies else []
    shuffled = draw(st.permutations(bodies + extra))
    out = []
    while shuffled:
        size = draw(st.integers(1, 10))
        out.append(events.sqs(*shuffled[:size]))
        shuffled = shuffled[size:]
    return out


# Heavy (6 s): random histories on both write paths.
@pytest.mark.heavy
def test_the_fold_path_leaves_the_key_items_the_transaction_path_does(ddb, clock):
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        history=histories(),
        depth=st.integers(0, 2),
        eventbridge=st.booleans(),
        classes=st.booleans(),
        settings_item=st.booleans(),
        data=st.data(),
    )
    def check(history, depth, eventbridge, classes, settings_item, data):
        for table in (TABLE, FOLD_TABLE):  # fresh tables: moto sorts a whole table per query
            if table in ddb.list_tables()["TableNames"]:
                ddb.delete_table(TableName=table)
            ddb.create_table(**table_definition(table))
        bucket = f"b-{uuid.uuid4().hex}"
        model = ModelBucket()
        for op in history:
            model.play(op)
        transacting = History(TABLE, ddb, now=clock, prefix_depth=depth)
        unread = UnreadWrites(ddb)
        fold = folding(unread, clock, prefix_depth=depth)
        if settings_item:  # as a stack of many buckets: the settings item is read, and an
            # unversioned key's change is written without reading its item (key_writes.py)
            item = {**lay.settings_address(bucket), "prefix_depth": lay.n(depth)}
            if classes:
                item[lay.CLASSES_FLAG] = {"BOOL": True}
            ddb.put_item(TableName=FOLD_TABLE, Item=item)
            fold.settings_required = True
        if classes:  # storage classes tracked: the base TOTALS item carries the switch
            for hist in (transacting, fold):
                set_storage_classes(hist, bucket, True)
                hist.class_of = lambda _, key, vid: model.class_of(key, vid or "null")
        render = (lambda n: n.eventbridge(bucket)) if eventbridge else None
        render = render or (lambda n: events.envelope(n.s3_record(bucket)))
        for event in batches([render(n) for n in model.notices], data.draw):
            counted = apply_event(transacting, event)["counts"]
            assert apply_event(fold, event)["counts"] == counted

        expected, written = key_items(ddb, TABLE, bucket), key_items(ddb, FOLD_TABLE, bucket)

        def compared(items: dict) -> dict:
            return {
                sk: {n: value for n, value in item.items() if n != "rev" or sk not in unread.keys}
                for sk, item in items.items()
            }

        assert compared({sk: unmarked(i) for sk, i in written.items()}) == compared(expected)
        assert all(i[rows.FOLDED] == lay.n(1) for i in written.values())
        states = {s.key: s.size for s in fold.keys(bucket) if s.exists}
        assert states == model.listing()
        # No totals, no points, no prefixes: the classes' switch is all the bucket holds.
        left = partition(ddb, FOLD_TABLE, lay.bucket_pk(bucket))
        settings_sk = [lay.settings_address(bucket)["sk"]["S"]] if settings_item else []
        assert sorted(i["sk"]["S"] for i in left) == sorted(
            ([lay.TOTALS_SK] if classes else []) + settings_sk
        )
        assert partition(ddb, FOLD_TABLE, lay.prefix_pk(bucket)) == []

    check()


class RivalFirst:
    """The real client, but a rival invocation runs once, just before the first PutItem of
    ``key`` (in that put's thread: the chunk's other puts go on meanwhile)."""

    def __init__(self, client, key: str, rival):
        self._client, self._key, self._rival, self.puts = client, key, rival, []

    def put_item(self, **kwargs):
        self._before(kwargs["Item"]["key"]["S"])
        return self._client.put_item(**kwargs)

    def _before(self, key: str) -> None:
        if key == self._key and self._rival is not None:
            rival, self._rival = self._rival, None
            rival()
        self.puts.append(key)

    def __getattr__(self, name):
        return getattr(self._client, name)


def put(key: str, size: int, seq: int, version_id: str | None = None) -> dict:
    return events.created(BUCKET, key, size, events.sequencer(seq), version_id=version_id)


@pytest.mark.parametrize("rival_write_path", ["transaction", "fold"])
@pytest.mark.parametrize(
    ("rival_seq", "outcome", "size"),
    [(1, {"applied": 2}, 7), (3, {"applied": 1, "stale": 1}, 5)],
)
def test_a_key_written_meanwhile_is_read_again(
    ddb, clock, rival_write_path, rival_seq, outcome, size
):
    ddb.create_table(**table_definition(FOLD_TABLE))
    rival = folding(ddb, clock)
    rival.write_path = rival_write_path
    client = RivalFirst(
        ddb, "a", lambda: apply_event(rival, events.envelope(put("a", 5, rival_seq)))
    )
    hist = folding(client, clock)

    result = apply_event(hist, events.envelope(put("a", 7, 2), put("b", 1, 1)))

    assert {k: n for k, n in result["counts"].items() if n} == {**outcome, "retries": 1}
    state = hist.key_state(BUCKET, "a")
    assert (state.size, state.rev) == (size, 2 if outcome == {"applied": 2} else 1)
    assert hist.key_state(BUCKET, "b").rev == 1  # written once: only "a" was read again
    assert sorted(client.puts) == (["a", "a", "b"] if outcome == {"applied": 2} else ["a", "b"])


def test_a_rival_version_is_kept_beside_the_chunks(ddb, clock):
    ddb.create_table(**table_definition(FOLD_TABLE))
    rival = folding(ddb, clock)
    client = RivalFirst(ddb, "k", lambda: apply_event(rival, events.envelope(put("k", 3, 1, "v1"))))
    hist = folding(client, clock)

    apply_event(hist, events.envelope(put("k", 9, 2, "v2")))

    state = hist.key_state(BUCKET, "k")
    assert (state.size, state.version_id, sorted(state.versions)) == (9, "v2", ["v1", "v2"])
    assert hist.totals(BUCKET) == lay.EMPTY_TOTALS  # the fold's to count


def test_an_untracked_bucket_is_ignored_and_a_tracked_one_gets_no_totals(ddb, clock):
    ddb.create_table(**table_definition(FOLD_TABLE))
    hist = folding(ddb, clock)
    hist.settings_required = True
    event = events.envelope(put("a/x", 4, 1))

    assert apply_event(hist, event)["counts"]["ignored"] == 1
    assert key_items(ddb, FOLD_TABLE, BUCKET) == {}

    settings = {**lay.settings_address(BUCKET), "prefix_depth": lay.n(1)}
    ddb.put_item(TableName=FOLD_TABLE, Item=settings)
    assert apply_event(hist, event)["counts"]["applied"] == 1
    assert hist.key_state(BUCKET, "a/x").size == 4
    assert [i["sk"]["S"] for i in partition(ddb, FOLD_TABLE, lay.bucket_pk(BUCKET))] == [
        lay.SETTINGS_SK
    ]


def test_many_keys_go_out_at_once(ddb, clock):
    ddb.create_table(**table_definition(FOLD_TABLE))
    hist = folding(ddb, clock, prefix_depth=0)
    event = events.envelope(*(put(f"k{i}", i, 1) for i in range(3 * key_writes.WRITERS)))

    assert apply_event(hist, event)["counts"]["applied"] == 3 * key_writes.WRITERS
    assert sum(s.size for s in hist.keys(BUCKET)) == sum(range(3 * key_writes.WRITERS))


def test_the_function_takes_its_write_path_from_the_environment(function_env):
    monkeypatch = function_env(size_tracking)
    assert size_tracking._config().write_path == "transaction"
    monkeypatch.setenv("WRITE_PATH", "fold")
    size_tracking._config.cache_clear()
    assert size_tracking._config().write_path == "fold"
    monkeypatch.setenv("WRITE_PATH", "folded")
    size_tracking._config.cache_clear()
    with pytest.raises(RuntimeError, match="WRITE_PATH must be one of transaction, fold"):
        size_tracking._config()


def test_a_key_swept_by_untrack_meanwhile_is_not_written_again(ddb, clock):
    from s3sizer.stack.forget import forget_bucket

    ddb.create_table(**table_definition(FOLD_TABLE))
    settings = {**lay.settings_address(BUCKET), "prefix_depth": lay.n(0)}
    ddb.put_item(TableName=FOLD_TABLE, Item=settings)
    hist = folding(ddb, clock, prefix_depth=0)
    hist.settings_required = True
    apply_event(hist, events.envelope(put("k", 3, 1)))
    untrack = RivalFirst(
        ddb, "k", lambda: forget_bucket(ddb, FOLD_TABLE, BUCKET, sleep=lambda seconds: None)
    )
    hist.client = untrack

    counts = apply_event(hist, events.envelope(put("k", 9, 2)))["counts"]

    assert (counts["ignored"], counts["applied"]) == (1, 0)
    assert ddb.scan(TableName=FOLD_TABLE)["Items"] == []


def test_a_chunk_reads_its_keys_and_the_settings_item_only(ddb, clock):
    """One read unit per key and one for the settings item, whose storage-classes switch the
    chunk follows (a version created is looked up), copying its generation into each key."""
    ddb.create_table(**table_definition(FOLD_TABLE))
    hist = folding(ddb, clock)
    hist.settings_required = True
    settings = {**lay.settings_address(BUCKET), "prefix_depth": lay.n(1)}
    settings |= {lay.CLASSES_FLAG: {"BOOL": True}, "generation": {"S": "g1"}}
    ddb.put_item(TableName=FOLD_TABLE, Item=settings)
    looked = []
    hist.class_of = lambda bucket, key, vid: looked.append(key) or "STANDARD_IA"
    asked = []
    ddb.meta.events.register(
        "before-parameter-build.dynamodb.BatchGetItem",
        lambda params, **_: asked.extend(
            k["sk"]["S"] for k in params["RequestItems"][FOLD_TABLE]["Keys"]
        ),
    )

    assert apply_event(hist, events.envelope(put("a/x", 4, 1)))["counts"]["applied"] == 1
    assert sorted(asked) == sorted([lay.key_address(BUCKET, "a/x")["sk"]["S"], lay.SETTINGS_SK])
    assert looked == ["a/x"]
    item = ddb.get_item(TableName=FOLD_TABLE, Key=lay.key_address(BUCKET, "a/x"))["Item"]
    assert (item["f"], item["g"]) == ({"N": "1"}, {"S": "g1"})


class CountingReads:
    """The real client; the key items each BatchGetItem asks for, by key."""

    def __init__(self, client):
        self._client, self.read = client, []

    def batch_get_item(self, **kwargs):
        for request in kwargs["RequestItems"].values():
            self.read += [k["sk"]["S"] for k in request["Keys"] if k["pk"]["S"].startswith("B#")
                          and "#K" in k["pk"]["S"]]  # fmt: skip
        return self._client.batch_get_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_an_unversioned_keys_change_is_written_without_reading_its_item(ddb, clock):
    """A put, an overwrite and a delete of an unversioned key go out as one conditional
    PutItem each, with no read of the key; a duplicate, a stale record and a versioned key
    fail that condition or never try it, and are read and planned as before."""
    ddb.create_table(**table_definition(FOLD_TABLE))
    settings = {**lay.settings_address(BUCKET), "prefix_depth": lay.n(1)}
    ddb.put_item(TableName=FOLD_TABLE, Item={**settings, "generation": {"S": "g1"}})
    hist = folding(ddb, clock, prefix_depth=1)
    hist.settings_required = True
    hist.client = counting = CountingReads(ddb)
    delete = events.removed(BUCKET, "logs/k", events.sequencer(3))

    counts = [
        apply_event(hist, events.envelope(record))["counts"]
        for record in (put("logs/k", 3, 1), put("logs/k", 7, 2), put("logs/k", 5, 1), delete)
    ]
    after_delete = key_items(ddb, FOLD_TABLE, BUCKET)
    duplicate = apply_event(hist, events.envelope(delete))["counts"]
    apply_event(hist, events.envelope(put("v", 4, 5, version_id="v1")))

    assert [c["applied"] for c in counts] == [1, 1, 0, 1] and counts[2]["stale"] == 1
    assert duplicate["duplicate"] == 1
    # Read: the stale record's key (its condition failed), the duplicate's, the versioned key.
    assert [sk.removeprefix("K#") for sk in counting.read] == ["logs/k", "logs/k", "v"]
    [item] = after_delete.values()
    assert (item["exists"], item["rev"], item["pd"]) == ({"BOOL": False}, lay.n(0), lay.n(1))
    assert (item[rows.FOLDED], item["g"]) == (lay.n(1), {"S": "g1"})
    assert item["versions"]["M"]["null"]["M"]["k"] == {"S": "X"}


def test_a_read_of_a_key_written_without_a_read_is_checked_by_its_sequencer(ddb, clock):
    """Every write without a read leaves the same revision (lay.UNREAD_REV): a chunk that read
    one such item and plans older records must still fail when another such write lands in
    between, and then find its records stale (the condition checks the sequencer too)."""
    ddb.create_table(**table_definition(FOLD_TABLE))
    ddb.put_item(
        TableName=FOLD_TABLE, Item={**lay.settings_address(BUCKET), "prefix_depth": lay.n(0)}
    )
    hist = folding(ddb, clock, prefix_depth=0)
    hist.settings_required = True
    apply_event(hist, events.envelope(put("k", 3, 1)))  # written without a read
    rival = folding(ddb, clock, prefix_depth=0)
    rival.settings_required = True
    hist.client = RivalFirst(ddb, "k", lambda: apply_event(rival, events.envelope(put("k", 9, 5))))

    # Two changes of one key: read and planned (seq 2 then 3), written under the revision read.
    counts = apply_event(hist, events.envelope(put("k", 5, 2), put("k", 7, 3)))["counts"]

    [item] = key_items(ddb, FOLD_TABLE, BUCKET).values()
    assert (item["size"], item["rev"]) == (lay.n(9), lay.n(lay.UNREAD_REV))
    assert (counts["applied"], counts["stale"]) == (0, 2)
