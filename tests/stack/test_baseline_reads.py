"""A quiet baseline (no route delivers events meanwhile) reads only the key partitions that hold
key items when it starts: a first baseline reads none of them, and one over a bucket recorded
only in part still ends exact."""

from __future__ import annotations

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History
from s3sizer.stack.baseline_run import BaselineRun, listing_client
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_run import BUCKET, assert_exact, keys

# The same local AWS and bucket as the baseline's other tests.
stack, live = base.stack, base.live

PROBE = {":a": {"S": "K#"}, ":b": {"S": "K$"}}  # a partition's one-item look for any key item


def key_reads(client) -> list[str]:
    """The key partition of each Query that reads a span's key items: neither a one-item probe
    nor the run's one read of the long keys' items."""
    partitions = set(lay.key_partitions(BUCKET))
    read: list[str] = []

    def count(params, **_) -> None:
        values = params.get("ExpressionAttributeValues", {})
        pk = values.get(":pk", {}).get("S")
        probe = params.get("Limit") == 1 and all(values.get(k) == v for k, v in PROBE.items())
        spans = params.get("KeyConditionExpression", "").endswith("sk BETWEEN :a AND :b")
        if pk in partitions and spans and not probe:
            read.append(pk)

    client.meta.events.register("before-parameter-build.dynamodb.Query", count)
    return read


def quiet_run(stack) -> History:
    h = History(stack.names.table, stack.client("dynamodb"), prefix_depth=2)
    read = key_reads(h.client)
    BaselineRun(
        h, listing_client(stack.aws), BUCKET, versioned=False, depth=2, workers=3, live=False
    ).run()
    h.key_reads = read
    return h


def test_a_first_quiet_baseline_reads_no_key_partition(stack, live):
    # GIVEN a bucket of many keys over several prefixes, and nothing recorded yet
    for i, key in enumerate(keys(60)):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"q" * (i % 9 + 1))

    # WHEN a quiet baseline runs
    h = quiet_run(stack)

    # THEN it read no key partition's items, and the totals equal the listing
    assert h.key_reads == []
    assert_exact(live)


def test_a_quiet_baseline_over_a_partly_recorded_bucket_reads_those_partitions_and_is_exact(
    stack, live
):
    # GIVEN a recorded bucket, half of whose key partitions then lose their items, and objects
    # put and deleted with no event
    for i, key in enumerate(keys(60)):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"r" * (i % 9 + 1))
    quiet_run(stack)
    ddb = stack.client("dynamodb")
    emptied = lay.key_partitions(BUCKET)[:8]
    for pk in emptied:
        for item in live.h._query(pk):
            ddb.delete_item(TableName=stack.names.table, Key={"pk": item["pk"], "sk": item["sk"]})
    for i, key in enumerate(keys(60)[:12]):
        live.s3.delete_object(Bucket=BUCKET, Key=key)
        live.s3.put_object(Bucket=BUCKET, Key=f"{key}-new", Body=b"n" * (i + 3))

    # WHEN a quiet baseline runs again
    h = quiet_run(stack)

    # THEN it read only the partitions that still held items, and it is exact again
    assert h.key_reads and not set(h.key_reads) & set(emptied)
    assert_exact(live)
    recorded = {
        item["key"]["S"]: int(item["size"]["N"])
        for pk in lay.key_partitions(BUCKET)
        for item in live.h._query(pk)
        if item.get("exists", {}).get("BOOL")
    }
    listed = {
        o["Key"]: o["Size"]
        for page in live.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    }
    assert recorded == listed
