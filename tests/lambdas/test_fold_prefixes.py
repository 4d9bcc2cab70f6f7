"""The fold's prefixes inside the bucket's shard row, their history, and untrack's order."""

from __future__ import annotations

from datetime import timedelta

from s3sizer.lambdas import fold, fold_compact, fold_prefixes, history, rows
from s3sizer.lambdas import layout as lay
from s3sizer.stack import forget

from .conftest import BUCKET, TABLE
from .fold_helpers import delete_key, track, write_key
from .test_fold import _fold, _prefixes, _totals


def _partition(client, pk: str) -> list[dict]:
    return client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": pk}}, ConsistentRead=True,
    )["Items"]  # fmt: skip


def _row(client, stream) -> dict:
    key = rows.totals_row_address(BUCKET, stream.shard_id)
    return client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]


def test_a_bucket_of_few_prefixes_keeps_them_in_its_row_within_one_write_unit(streamed):
    client, hist, stream = streamed
    for i, prefix in enumerate(["logs/", "img/", "raw/", "tmp/"]):
        write_key(client, TABLE, BUCKET, f"{prefix}k", [10 + i], 1)
    _fold(hist, stream, stream.read())
    assert _partition(client, lay.prefix_pk(BUCKET)) == []  # no prefix rows, no prefix items
    row = _row(client, stream)
    assert set(rows.row_prefixes(row)) == {"logs/", "img/", "raw/", "tmp/"}
    assert rows.item_size(row) <= fold_prefixes.MOST_ROW_BYTES
    assert _prefixes(client) == {
        "logs/": (10, 1),
        "img/": (11, 1),
        "raw/": (12, 1),
        "tmp/": (13, 1),
    }


def test_prefixes_that_do_not_fit_get_rows_of_their_own_and_every_sum_holds(streamed):
    client, hist, stream = streamed
    names = [f"{'p' * 60}{i:03d}/" for i in range(80)]  # long names: some fill the row
    for i, prefix in enumerate(names):
        write_key(client, TABLE, BUCKET, f"{prefix}k", [i + 1], 1)
    assert _fold(hist, stream, stream.read())["batchItemFailures"] == []
    row = _row(client, stream)
    held = set(rows.row_prefixes(row))
    own = {i["prefix"]["S"] for i in _partition(client, lay.prefix_pk(BUCKET))}
    assert held and own and held.isdisjoint(own) and held | own == set(names)
    assert rows.item_size(row) <= fold_prefixes.MOST_ROW_BYTES
    assert _prefixes(client) == {p: (i + 1, 1) for i, p in enumerate(names)}
    write_key(client, TABLE, BUCKET, f"{names[0]}k", [5], 2)  # in the row: moves there
    write_key(client, TABLE, BUCKET, f"{names[-1]}k", [7], 2)  # in its own row: moves there
    _fold(hist, stream, stream.read())
    expected = {p: (i + 1, 1) for i, p in enumerate(names)} | {names[0]: (5, 1), names[-1]: (7, 1)}
    assert _prefixes(client) == expected
    assert _totals(client).total_size == sum(s for s, _ in expected.values())


def test_a_prefix_history_shows_every_step_though_its_own_points_are_sparse(streamed, clock):
    client, hist, stream = streamed
    steps = []
    for size in (10, 25, 5):  # three steps within a minute: one own point
        write_key(client, TABLE, BUCKET, "logs/k", [size], len(steps) + 1)
        _fold(hist, stream, stream.read())
        steps.append((clock(), size))
        clock.advance(10)
    own = _partition(client, lay.prefix_points_pk(BUCKET, "logs/"))
    assert len(own) == 1
    assert [p.total_size for p in hist.prefix_points(BUCKET, "logs/")] == [10, 25, 5]
    assert [p.total_size for p in hist.prefix_points(BUCKET, "logs/", 15)] == [5]
    window = hist.prefix_windows(BUCKET, 25, top=1)[0]
    assert (window.start_size, [p.total_size for p in window.points]) == (10, [25, 5])
    # The last point at or before a time: found past the own point, in the bucket's points.
    for when, size in steps:
        assert hist.point_at_or_before(BUCKET, when, "logs/").total_size == size
    assert hist.point_at_or_before(BUCKET, steps[0][0] - timedelta(seconds=1), "logs/") is None
    first, before = hist.first_point(BUCKET, "logs/")
    assert (first.total_size, before) == (10, 0)
    # A minute on, the next step gets an own point again.
    clock.advance(fold_prefixes.PREFIX_POINT_SECONDS)
    write_key(client, TABLE, BUCKET, "logs/k", [8], 4)
    _fold(hist, stream, stream.read())
    assert len(_partition(client, lay.prefix_points_pk(BUCKET, "logs/"))) == 2
    assert hist.point_at_or_before(BUCKET, clock(), "logs/").total_size == 8


class UntrackFirst:
    """The real client, but the bucket is untracked just before the fold's transaction."""

    def __init__(self, client):
        self.client, self.done = client, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def transact_write_items(self, **kwargs):
        if not self.done:
            self.done = True
            forget.forget_bucket(self.client, TABLE, BUCKET, sleep=lambda _: None)
        return self.client.transact_write_items(**kwargs)


def test_a_step_that_races_untrack_writes_nothing_new_row_or_old(streamed):
    client, hist, stream = streamed
    for first_fold in (True, False):
        track(client, TABLE, BUCKET)
        if not first_fold:  # the row exists: the step is held by its last sequence number
            write_key(client, TABLE, BUCKET, "logs/a", [3], 1)
            _fold(hist, stream, stream.read())
        write_key(client, TABLE, BUCKET, "logs/b", [4], 1)
        records = stream.read()
        hist.client = UntrackFirst(client)
        try:
            counts = fold.fold_event(hist, stream.client, {"Records": records})["counts"]
        finally:
            hist.client = client
        assert counts["ignored"] >= 1 and counts["folded"] == 0
        left = [i for i in client.scan(TableName=TABLE)["Items"] if i["pk"]["S"].startswith("B#")]
        assert [i for i in left if "#K" not in i["pk"]["S"]] == []  # only the racing key items
        for item in left:  # what a racing tracker left: the fold never counts it again
            client.delete_item(TableName=TABLE, Key=lay.address(item["pk"]["S"], item["sk"]["S"]))


def test_a_busy_prefix_takes_the_place_of_one_idle_for_an_hour(streamed, clock):
    client, hist, stream = streamed
    names = [f"{'q' * 60}{i:03d}/" for i in range(80)]  # the listing's first fill the row
    for i, prefix in enumerate(names):
        write_key(client, TABLE, BUCKET, f"{prefix}k", [i + 1], 1)
    _fold(hist, stream, stream.read())
    busy = names[-1]
    assert busy not in rows.row_prefixes(_row(client, stream))
    clock.advance(60)  # not idle long enough: the busy prefix stays in its own row
    write_key(client, TABLE, BUCKET, f"{busy}k", [100], 2)
    _fold(hist, stream, stream.read())
    held = rows.row_prefixes(_row(client, stream))
    assert busy not in held
    clock.advance(fold_prefixes.IDLE_SECONDS)
    write_key(client, TABLE, BUCKET, f"{busy}k", [200], 3)
    _fold(hist, stream, stream.read())
    now_held = rows.row_prefixes(_row(client, stream))
    assert busy in now_held and len(set(held) - set(now_held)) >= 1
    assert rows.item_size(_row(client, stream)) <= fold_prefixes.MOST_ROW_BYTES
    expected = {p: (i + 1, 1) for i, p in enumerate(names)} | {busy: (200, 1)}
    assert _prefixes(client) == expected
    assert [p.total_size for p in hist.prefix_points(BUCKET, busy)] == [len(names), 100, 200]


def test_a_step_that_empties_a_prefix_late_is_found_at_or_before(streamed, clock):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "logs/k", [10], 1)
    _fold(hist, stream, stream.read())
    clock.advance(fold_prefixes.PREFIX_POINT_SECONDS + 100)
    delete_key(client, TABLE, BUCKET, "logs/k")
    _fold(hist, stream, stream.read())
    assert [p.total_size for p in hist.prefix_points(BUCKET, "logs/")] == [10, 0]
    clock.advance(10)
    assert hist.point_at_or_before(BUCKET, clock(), "logs/").total_size == 0


def test_untrack_leaves_no_points_of_a_prefix_the_fold_emptied(streamed):
    client, hist, stream = streamed
    write_key(client, TABLE, BUCKET, "logs/k", [10], 1)
    _fold(hist, stream, stream.read())
    delete_key(client, TABLE, BUCKET, "logs/k")
    _fold(hist, stream, stream.read())
    forget.forget_bucket(client, TABLE, BUCKET, sleep=lambda _: None)
    left = [i for i in client.scan(TableName=TABLE)["Items"] if i["pk"]["S"].startswith("B#")]
    assert left == []


def _idle_prefixes(streamed, clock, count: int) -> list[str]:
    """``count`` prefixes ``busy-NN/`` of one key each (NN + 1 bytes), folded into the row, and
    then idle for an hour."""
    client, hist, stream = streamed
    names = [f"busy-{i:02d}/" for i in range(count)]
    for i, prefix in enumerate(names):
        write_key(client, TABLE, BUCKET, f"{prefix}k", [i + 1], 1)
    _fold(hist, stream, stream.read())
    clock.advance(fold_prefixes.IDLE_SECONDS)
    return names


class AroundPartitionReads:
    """The real client, with steps run around a reader's reads of the prefix partition (each
    after it read the rows): ``before[i]`` just before its i-th read, and ``after`` just after
    the read that ran the last of them."""

    def __init__(self, client, before, after=None):
        self.client, self.before, self.after = client, list(before), after

    def __getattr__(self, name):
        return getattr(self.client, name)

    def query(self, **kwargs):
        values = kwargs.get("ExpressionAttributeValues", {})
        if values.get(":pk") != {"S": lay.prefix_pk(BUCKET)} or not self.before:
            return self.client.query(**kwargs)
        self.before.pop(0)()
        page = self.client.query(**kwargs)
        if not self.before and self.after:
            self.after()
        return page


def test_a_compaction_between_the_rows_and_the_prefixes_counts_nothing_twice(streamed):
    client, hist, stream = streamed
    # A finished parent shard's row that holds 10 bytes of logs/ (as a fold of it left it).
    parent = rows.totals_row_address(BUCKET, "parent")
    figures = {"logs/": [10, 1, 0, 0, 0, 0, 0]}
    row = {**parent, rows.LAST_SEQ: {"S": rows.padded("1")}, "total_size": lay.n(10),
           "object_count": lay.n(1), rows.PREFIX_FIGURES: rows.prefix_figures_attribute(figures)}  # fmt: skip
    client.put_item(TableName=TABLE, Item=row)
    write_key(client, TABLE, BUCKET, "logs/k", [5], 1)
    records = stream.read()

    def compacted():  # by a sibling shard's fold
        assert fold_compact.compact(history.History(TABLE, client), BUCKET, row, [])

    hist.client = AroundPartitionReads(client, [compacted])
    try:
        assert _fold(hist, stream, records)["batchItemFailures"] == []
    finally:
        hist.client = client
    assert _prefixes(client) == {"logs/": (15, 2)}
    (point,) = hist.prefix_points(BUCKET, "logs/")
    assert point.total_size == 15  # 10 + 5, not 10 + 10 + 5


def test_a_row_past_one_write_unit_shrinks_back_as_its_prefixes_go_idle(streamed, clock):
    client, hist, stream = streamed
    names = _idle_prefixes(streamed, clock, 30)  # about 1.5 KB of prefixes: past one unit
    assert set(rows.row_prefixes(_row(client, stream))) == set(names)
    assert rows.item_size(_row(client, stream)) > rows.ROW_BYTES
    write_key(client, TABLE, BUCKET, f"{names[0]}k", [100], 2)  # one prefix still busy
    _fold(hist, stream, stream.read())
    row = _row(client, stream)
    assert names[0] in rows.row_prefixes(row)
    assert rows.item_size(row) <= rows.ROW_BYTES
    expected = {p: (i + 1, 1) for i, p in enumerate(names)} | {names[0]: (100, 1)}
    assert _prefixes(client) == expected


def test_prefixes_leaving_a_row_between_a_reader_s_reads_count_once(streamed, clock):
    client, hist, stream = streamed
    names = _idle_prefixes(streamed, clock, 30)  # past one write unit
    write_key(client, TABLE, BUCKET, f"{names[0]}k", [100], 2)  # its step moves idle ones out
    pending = stream.read()
    step = [lambda: _fold(hist, stream, pending)]
    reader = history.History(TABLE, AroundPartitionReads(client, step))
    found = {i["prefix"]["S"]: int(i["total_size"]["N"]) for i in reader.prefix_items(BUCKET)}
    assert found == {p: i + 1 for i, p in enumerate(names)} | {names[0]: 100}
    assert rows.item_size(_row(client, stream)) <= rows.ROW_BYTES  # they did leave


def test_a_row_filled_by_new_prefixes_stays_within_its_most_bytes(streamed):
    # place() sizes a new entry with a point time of 0, and the step then stamps it with
    # now_ms (8 bytes, not 2): 40 new prefixes a step overshoot GROWTH_BYTES.
    client, hist, stream = streamed
    names = [f"n{i:03d}/" for i in range(200)]
    for i, prefix in enumerate(names):
        write_key(client, TABLE, BUCKET, f"{prefix}k", [i + 1], 1)
    assert _fold(hist, stream, stream.read())["batchItemFailures"] == []
    row = _row(client, stream)
    assert rows.item_size(row) <= fold_prefixes.MOST_ROW_BYTES


def test_a_prefix_that_leaves_and_rejoins_a_row_between_a_reader_s_reads_counts_once(
    streamed, clock
):
    client, hist, stream = streamed
    names = _idle_prefixes(streamed, clock, 30)  # past one write unit
    for i, prefix in enumerate(names):  # all busy but busy-01: it alone leaves the row
        if i != 1:
            write_key(client, TABLE, BUCKET, f"{prefix}k", [i + 2], 2)
    leaving = stream.read()
    clock.advance(1)
    write_key(client, TABLE, BUCKET, f"{names[1]}k", [50], 2)  # busy-01 comes back into it
    rejoining = stream.read()
    steps = [lambda: _fold(hist, stream, leaving)], lambda: _fold(hist, stream, rejoining)
    reader = history.History(TABLE, AroundPartitionReads(client, *steps))
    found = {i["prefix"]["S"]: int(i["total_size"]["N"]) for i in reader.prefix_items(BUCKET)}
    assert names[1] in rows.row_prefixes(_row(client, stream))  # it did rejoin
    assert found[names[1]] in (2, 50)  # before or after the steps; 4 counts its 2 twice


def test_a_reader_whose_reads_are_all_taken_again_misses_no_prefix(streamed, clock):
    client, hist, stream = streamed
    names = _idle_prefixes(streamed, clock, 100)  # a row of 3.5 KB: 16 leave a step
    pending = []
    for j in range(fold_prefixes.READS + 1):
        write_key(client, TABLE, BUCKET, f"{names[0]}k", [1000 + j], 2 + j)
        pending.append(stream.read())
    steps = [lambda batch=batch: _fold(hist, stream, batch) for batch in pending]
    reader = history.History(TABLE, AroundPartitionReads(client, steps[:-1], steps[-1]))
    try:
        items = reader.prefix_items(BUCKET)
    except RuntimeError:  # the reader may say it could not read them whole; never miss some
        return
    found = {i["prefix"]["S"]: int(i["total_size"]["N"]) for i in items}
    expected = {p: i + 1 for i, p in enumerate(names)} | {names[0]: 1000 + fold_prefixes.READS}
    assert _prefixes(client) == {p: (s, 1) for p, s in expected.items()}
    assert found == expected


def test_a_prefix_s_points_count_its_figures_once_beside_its_parent_s(streamed):
    """Past one Query's worth of prefix items, each prefix a step moves is read by a Query of
    its own, and a parent's (`p/`) also returns its children's items (`p/s/`): counted twice,
    a child's points were off while its totals were right."""
    client, hist, stream = streamed
    track(client, TABLE, BUCKET, depth=2)
    parents = [f"{'p' * 60}{i:03d}/" for i in range(40)]  # long names: most get rows of their own
    for i, parent in enumerate(parents):
        write_key(client, TABLE, BUCKET, f"{parent}s/k", [i + 1], 1, depth=2)
    _fold(hist, stream, stream.read())
    assert len(_partition(client, lay.prefix_pk(BUCKET))) > fold_prefixes.PARTITION_ITEMS
    for i, parent in enumerate(parents):
        write_key(client, TABLE, BUCKET, f"{parent}s/k", [100 + i], 2, depth=2)
    _fold(hist, stream, stream.read())

    figures = _prefixes(client)
    for i, parent in enumerate(parents):
        for prefix in (parent, f"{parent}s/"):
            last = hist.prefix_points(BUCKET, prefix)[-1]
            assert (last.total_size, last.object_count) == figures[prefix] == (100 + i, 1)
