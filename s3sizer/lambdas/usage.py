"""Many buckets' totals and unfinished uploads in one read, for `status` and `metrics`.

Only the CLI imports this module (inside a function), so the functions' zips and roles leave
out the BatchGetItem and UpdateItem it makes (see model.lambda_modules).
"""

from __future__ import annotations

from . import layout as lay
from . import rows

# The unfinished uploads' item, beside TOTALS: written by the uploads poll (uploads.py).
from .uploads import UPLOADS_SK

_BATCH_KEYS = 100  # BatchGetItem takes up to 100 keys


def usage_items(history, buckets: list[str]) -> dict[str, dict[str, dict | None]]:
    """Each bucket's raw ``TOTALS`` and ``UPLOADS`` items (None when absent).

    On the transaction path, one BatchGetItem per 50 buckets, whatever their size. On the fold
    path the totals are the base item and the fold's rows (rows.py), which no BatchGetItem can
    name: one Query per bucket reads them with the uploads' item (``TOTALS`` < ``TOTALS#...`` <
    ``UPLOADS``, nothing else of the partition sorts between), and they are added up.
    """
    if getattr(history, "write_path", "transaction") == "fold":
        return {b: _folded_usage(history, b) for b in buckets}
    found = {b: {lay.TOTALS_SK: None, UPLOADS_SK: None} for b in buckets}
    wanted = [
        lay.address(lay.bucket_pk(b), sk) for b in buckets for sk in (lay.TOTALS_SK, UPLOADS_SK)
    ]
    table = history.table_name
    for start in range(0, len(wanted), _BATCH_KEYS):
        request = {table: {"Keys": wanted[start : start + _BATCH_KEYS], "ConsistentRead": True}}
        attempt = 0
        while request:
            got = history.client.batch_get_item(RequestItems=request)
            for item in got.get("Responses", {}).get(table, []):
                bucket = item["pk"]["S"][len("B#") :]
                if bucket in found:
                    found[bucket][item["sk"]["S"]] = item
            request = got.get("UnprocessedKeys") or {}
            if request:
                history.backoff(attempt)
                attempt += 1
    return found


def _folded_usage(history, bucket: str) -> dict[str, dict | None]:
    bounds = {":t": {"S": lay.TOTALS_SK}, ":u": {"S": UPLOADS_SK}}
    items = list(history._query(lay.bucket_pk(bucket), "sk BETWEEN :t AND :u", bounds))
    uploads = next((i for i in items if i["sk"]["S"] == UPLOADS_SK), None)
    totals = rows.sum_totals([i for i in items if i["sk"]["S"].startswith(lay.TOTALS_SK)])
    return {lay.TOTALS_SK: totals, UPLOADS_SK: uploads}


def set_storage_classes(history, bucket: str, on: bool) -> None:
    """Track the bucket's storage classes, or stop: the switch on its TOTALS item, where the
    tracker reads it with each chunk and `status` with the counters. One more ``version``, so
    that a batch that read the totals before writes again on top."""
    names = {"#c": lay.CLASSES_FLAG, "#v": "version", "#s": "total_size", "#o": "object_count"}
    values = {":one": lay.n(1), ":zero": lay.n(0)}
    if on:
        action = "SET #c = :on "
        values[":on"] = {"BOOL": True}
    else:
        action = "REMOVE #c "
    history.client.update_item(
        TableName=history.table_name,
        Key=lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK),
        UpdateExpression=action + "ADD #v :one, #s :zero, #o :zero",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
