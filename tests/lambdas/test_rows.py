"""Every reader adds up the fold's rows: the totals, the prefixes, the usage reports, untrack.

A table holds a bucket's base ``TOTALS`` (what the transaction path counted) and two rows of
stream shards (what the fold counted), and prefix items with rows of their own; every read
shows the sums, and a bucket the fold never wrote reads exactly as before.
"""

from __future__ import annotations

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas import rows
from s3sizer.lambdas.history import History, Totals
from s3sizer.lambdas.uploads import UPLOADS_SK
from s3sizer.lambdas.usage import usage_items
from s3sizer.stack.forget import forget_bucket

from .conftest import TABLE

FOLDED_BUCKET, PLAIN_BUCKET = "folded", "plain"


def totals_item(sk_item: dict, size, count, **extra) -> dict:
    return {
        **sk_item,
        "total_size": lay.n(size),
        "object_count": lay.n(count),
        **{name: lay.n(value) for name, value in extra.items()},
    }


def prefix_item(address: dict, prefix: str, size: int, count: int, noncurrent: int = 0) -> dict:
    return {
        **address,
        "prefix": {"S": prefix},
        "depth": lay.n(prefix.count("/")),
        "total_size": lay.n(size),
        "object_count": lay.n(count),
        "noncurrent_bytes": lay.n(noncurrent),
    }


def fill(ddb) -> None:
    base = totals_item(
        lay.address(lay.bucket_pk(FOLDED_BUCKET), lay.TOTALS_SK),
        100,
        2,
        max_size=150,
        version=3,
        noncurrent_bytes=5,
    )
    base |= {
        "updated_at": {"S": "2026-11-24T21:06:05.123Z"},
        lay.CLASSES_FLAG: {"BOOL": True},
        lay.class_attribute("GLACIER", "current_bytes"): lay.n(40),
    }
    one = totals_item(rows.totals_row_address(FOLDED_BUCKET, "shard-1"), 30, 1, noncurrent_bytes=2)
    one |= {
        "updated_at": {"S": "2026-11-24T21:07:00.000Z"},
        lay.class_attribute("GLACIER", "current_bytes"): lay.n(8),
    }
    two = totals_item(rows.totals_row_address(FOLDED_BUCKET, "shard-2"), -10, 0)
    two["updated_at"] = {"S": "2026-11-24T21:06:30.000Z"}
    uploads = {**lay.address(lay.bucket_pk(FOLDED_BUCKET), UPLOADS_SK), "bytes": lay.n(9)}
    settings = {**lay.settings_address(FOLDED_BUCKET), "prefix_depth": lay.n(2)}
    items = [base, one, two, uploads, settings]
    b = FOLDED_BUCKET
    items += [
        prefix_item(lay.prefix_address(b, "a/"), "a/", 50, 1, noncurrent=1),
        prefix_item(rows.prefix_row_address(b, "a/", "shard-1"), "a/", 20, 1, noncurrent=2),
        # a prefix only the fold ever counted: rows of two shards, no item of its own
        prefix_item(rows.prefix_row_address(b, "b/", "shard-1"), "b/", 10, 2),
        prefix_item(rows.prefix_row_address(b, "b/", "shard-2"), "b/", -3, -1),
        # a prefix whose rows emptied it: not listed
        prefix_item(lay.prefix_address(b, "c/"), "c/", 40, 1),
        prefix_item(rows.prefix_row_address(b, "c/", "shard-2"), "c/", -40, -1),
        prefix_item(lay.prefix_address(b, "a/d/"), "a/d/", 4, 1),
    ]
    items += [
        totals_item(
            lay.address(lay.bucket_pk(PLAIN_BUCKET), lay.TOTALS_SK), 7, 1, max_size=9, version=2
        ),
        prefix_item(lay.prefix_address(PLAIN_BUCKET, "x/"), "x/", 7, 1),
    ]
    for item in items:
        ddb.put_item(TableName=TABLE, Item=item)


def test_the_totals_are_the_base_and_every_row(ddb, hist):
    fill(ddb)
    assert hist.totals(FOLDED_BUCKET) == Totals(120, 3, 150, "2026-11-24T21:07:00.000Z", 3)
    item = hist.totals_item(FOLDED_BUCKET)
    assert lay.breakdown_from(item) == (7, 0, 0, 0)
    assert lay.tracks_classes(item)
    assert lay.classes_from(item)["GLACIER"][0] == 48
    assert hist.totals(PLAIN_BUCKET) == Totals(7, 1, 9, None, 2)
    assert hist.totals("never-written") == lay.EMPTY_TOTALS


def test_the_prefixes_add_their_rows(ddb, hist):
    fill(ddb)
    found = [(p.prefix, p.total_size, p.object_count) for p in hist.prefix_totals(FOLDED_BUCKET)]
    assert found == [("a/", 70, 2), ("b/", 7, 1), ("a/d/", 4, 1)]
    shallow = hist.prefix_totals(FOLDED_BUCKET, depth=1, top=1)
    assert [(p.prefix, p.total_size) for p in shallow] == [("a/", 70)]
    items = {i["prefix"]["S"]: i for i in hist.prefix_items(FOLDED_BUCKET)}
    assert set(items) == {"a/", "b/", "c/", "a/d/"}
    # the prefix's own item keeps its address, whatever order the rows came in
    assert items["a/"]["sk"] == lay.prefix_address(FOLDED_BUCKET, "a/")["sk"]
    assert items["a/"]["noncurrent_bytes"] == lay.n(3)
    assert (items["c/"]["total_size"], items["c/"]["object_count"]) == (lay.n(0), lay.n(0))
    plain = [(p.prefix, p.total_size) for p in hist.prefix_totals(PLAIN_BUCKET)]
    assert plain == [("x/", 7)]


def test_the_usage_reports_add_the_rows_on_a_fold_stack(ddb, hist):
    fill(ddb)
    hist.write_path = "fold"
    found = usage_items(hist, [FOLDED_BUCKET, PLAIN_BUCKET, "never-written"])
    totals = found[FOLDED_BUCKET][lay.TOTALS_SK]
    assert (totals["total_size"], totals["object_count"]) == (lay.n(120), lay.n(3))
    assert totals["noncurrent_bytes"] == lay.n(7)
    assert found[FOLDED_BUCKET][UPLOADS_SK]["bytes"] == lay.n(9)
    assert found[PLAIN_BUCKET][lay.TOTALS_SK]["total_size"] == lay.n(7)
    assert found[PLAIN_BUCKET][UPLOADS_SK] is None
    assert found["never-written"] == {lay.TOTALS_SK: None, UPLOADS_SK: None}
    # the transaction path's one BatchGetItem reads the same from a table without rows
    hist.write_path = "transaction"
    assert usage_items(hist, [PLAIN_BUCKET])[PLAIN_BUCKET][lay.TOTALS_SK]["total_size"] == lay.n(7)


def test_untrack_leaves_no_row_behind(ddb):
    fill(ddb)
    forget_bucket(ddb, TABLE, FOLDED_BUCKET, sleep=lambda seconds: None)
    left = [i for i in ddb.scan(TableName=TABLE)["Items"] if FOLDED_BUCKET in i["pk"]["S"]]
    assert left == []
    assert History(TABLE, ddb).totals(PLAIN_BUCKET).total_size == 7
