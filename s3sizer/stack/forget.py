"""Untrack's deletion of a bucket's items: side by side, counted, and finished when run again.

A bucket of 10^8 objects has 10^8 key items. Deleted 25 a BatchWriteItem one after another
(about 20 ms a request on AWS, docs/scaling.md) they took about 22 hours, with nothing shown. The
bucket's partitions (its 16 key partitions, and those of its totals, prefixes, points and
baseline ranges) are swept side by side instead, one worker each, and the items deleted are
counted for a progress bar.

A run stopped half-way (Ctrl-C, a lost connection) used to leave the rest behind for good: the
settings go first (so that the tracker ignores the bucket's events), and a bucket without them
is not tracked, so `untrack` of it was refused. So a marker item (``STACK`` /
``FORGET#<bucket>``) is written before anything is deleted and deleted after everything else.
While it is there, `untrack` of the bucket finishes the deletion, `track` of it finishes it
before it adopts the bucket again, and `status` names it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from s3sizer import interrupts
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.rows import LAST_SEQ, TOTALS_ROWS, row_prefixes
from s3sizer.stack.estate import STACK_PK, registry_address, stack_items
from s3sizer.stack.sweep import delete_partition

FORGET_SK_PREFIX = "FORGET#"
# Partitions swept at once: the 16 key partitions hold nearly every item.
SWEEP_WORKERS = lay.KEY_SHARDS


def marker_address(bucket: str) -> dict:
    return lay.address(STACK_PK, FORGET_SK_PREFIX + bucket)


def unfinished(client, table: str) -> list[str]:
    """The buckets whose untrack stopped before all their items were deleted (one Query)."""
    items = stack_items(client, table, FORGET_SK_PREFIX)
    return [item["sk"]["S"].removeprefix(FORGET_SK_PREFIX) for item in items]


def forget_bucket(
    ddb,
    table: str,
    bucket: str,
    *,
    sleep,
    workers: int = SWEEP_WORKERS,
    on_deleted: Callable[[int], None] = lambda count: None,
) -> None:
    """Every item of the bucket, in an order that leaves nothing behind (docs/architecture.md,
    "Many buckets"): the marker, with its settings and registry items deleted in the same
    transaction, so that the tracker ignores its events from then on; then the totals, after
    which no tracker transaction of the bucket can commit (each one holds only while the
    totals are at the version it read, or while the settings exist); then the fold's rows,
    after which no fold step can, each row's prefixes kept in the marker before the row goes;
    only then the partitions, found and swept with nothing left to write into them; the marker
    last. Run again after a stop, it goes on where it stopped: each deletion of an item already
    gone does nothing. (On the fold path a key item is one PutItem, which cannot check the
    settings: one that read them before may still land after the sweep, and the fold, which
    ignores buckets without settings, never counts it.)"""
    from s3sizer.stack.apply import retry

    marker = {"TableName": table, "Key": marker_address(bucket)}
    stamp = {":s": {"S": datetime.now(UTC).isoformat()}}
    untracked = [
        {"Update": {**marker, "UpdateExpression": "SET since = if_not_exists(since, :s)",
                    "ExpressionAttributeValues": stamp}},
        {"Delete": {"TableName": table, "Key": lay.settings_address(bucket)}},
        {"Delete": {"TableName": table, "Key": registry_address(bucket)}},
    ]  # fmt: skip
    # The tracker's transactions check the settings item: one in flight cancels this one.
    retry(
        lambda: ddb.transact_write_items(TransactItems=untracked),
        retry_on=lambda exc: "TransactionConflict" in str(exc),
        sleep=sleep,
    )
    ddb.delete_item(TableName=table, Key=lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK))
    _delete_fold_rows(ddb, table, bucket, marker)
    held = _kept_in_marker(ddb, marker)  # this run's rows', and those a stopped run deleted
    points = [lay.prefix_points_pk(bucket, prefix) for prefix in sorted(held)]
    points += prefix_points_partitions(ddb, table, bucket)
    how = {"sleep": sleep, "workers": workers, "on_deleted": on_deleted}
    # The points first: they are found from the prefix items, which a stop must leave for the
    # run again to find them by.
    sweep(ddb, table, list(dict.fromkeys(points)), **how)
    sweep(ddb, table, base_partitions(bucket), **how)
    ddb.delete_item(**marker)


def _kept_in_marker(ddb, marker: dict) -> set[str]:
    kept = ddb.get_item(**marker, ConsistentRead=True).get("Item", {})
    return {prefix["S"] for prefix in kept.get("held", {}).get("L", [])}


def _keep_in_marker(ddb, marker: dict, prefixes: set[str]) -> None:
    """Prefixes whose points a fold row names, kept before the row goes: nothing else may."""
    ddb.update_item(
        **marker,
        UpdateExpression="SET held = list_append(if_not_exists(held, :none), :held)",
        ExpressionAttributeValues={
            ":none": {"L": []},
            ":held": {"L": [{"S": prefix} for prefix in sorted(prefixes)]},
        },
    )


def sweep(
    ddb, table: str, pks: list[str], *, sleep, workers: int, on_deleted: Callable[[int], None]
) -> None:
    """Every item of these partitions, ``workers`` partitions at a time. A failure or a Ctrl-C
    stops the others before their next request, and is raised."""
    stop = threading.Event()
    with ThreadPoolExecutor(max(1, min(workers, len(pks))), "untrack") as pool:
        futures = []
        task = functools.partial(
            delete_partition, ddb, table, sleep=sleep, stop=stop.is_set, on_deleted=on_deleted
        )
        try:
            for pk in pks:  # a Ctrl-C here too stops what was submitted
                futures.append(pool.submit(task, pk))
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
        except BaseException as exc:
            stop.set()
            for future in futures:
                future.cancel()
            interrupts.finishing(exc, "ending the deletions under way")  # up to a request each
            raise


def base_partitions(bucket: str) -> list[str]:
    """The bucket's partitions named by the bucket alone: totals (the fold's rows beside them)
    and points, key items, prefixes (and their rows), the baseline's ranges."""
    return [
        lay.bucket_pk(bucket),
        *lay.key_partitions(bucket),
        lay.prefix_pk(bucket),
        lay.range_pk(bucket),
    ]


def prefix_points_partitions(client, table: str, bucket: str) -> list[str]:
    """The partitions of the points of the bucket's prefixes, found from its prefix items."""
    pks: list[str] = []
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": lay.prefix_pk(bucket)}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**kwargs)
        pks += [lay.prefix_points_pk(bucket, i["prefix"]["S"]) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return pks
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete_fold_rows(ddb, table: str, bucket: str, marker: dict) -> None:
    """The fold's rows of the bucket, deleted before the sweep: a fold step writes into a row
    that exists only under its last sequence number as read (a new row only while the settings
    exist), so none commits after this, and the sweep finds every point one wrote. The
    prefixes a row holds, whose points partitions the sweep must find too, are kept in the
    marker first, and the row deleted only as it was read (a step that moved it meanwhile is
    read again)."""
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :t)",
        "ExpressionAttributeValues": {
            ":pk": {"S": lay.bucket_pk(bucket)},
            ":t": {"S": TOTALS_ROWS},
        },
        "ConsistentRead": True,
    }
    held: set[str] = set()
    while True:
        page = ddb.query(**kwargs)
        for row in page.get("Items", []):
            key = {"pk": row["pk"], "sk": row["sk"]}
            while row is not None:
                new = set(row_prefixes(row)) - held
                if new:
                    _keep_in_marker(ddb, marker, new)
                    held |= new
                try:
                    ddb.delete_item(TableName=table, Key=key, **_as_read(row))
                    break
                except ddb.exceptions.ConditionalCheckFailedException:
                    row = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _as_read(row: dict) -> dict:
    """A deletion's condition: the row is still at the last sequence number it was read at."""
    if LAST_SEQ not in row:
        return {
            "ConditionExpression": "attribute_not_exists(#l)",
            "ExpressionAttributeNames": {"#l": LAST_SEQ},
        }
    return {
        "ConditionExpression": "#l = :l",
        "ExpressionAttributeNames": {"#l": LAST_SEQ},
        "ExpressionAttributeValues": {":l": row[LAST_SEQ]},
    }
