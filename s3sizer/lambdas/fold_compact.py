"""Rows of closed shards, folded into the base items, so that readers' rows stay few.

DynamoDB closes a stream's shards now and then and opens new ones; Lambda reads a parent shard
to its end before its children. So once the fold sees a batch of a bucket from one shard, a row
of that bucket from an ancestor of that shard (DescribeStream's ``ParentShardId``, followed up)
will never move again: its figures are
added into the base item (the bucket's ``TOTALS``, a prefix's own item, and those of the
prefixes the row holds) and the row deleted, in
one transaction conditioned on the row's ``last_seq``. The sum readers take is the same before
and after. Rows of redriven batches stay: a redrive repeated after a lost answer must find them.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import layout as lay
from . import rows

_FIGURES = ("total_size", "object_count", *lay.BREAKDOWN)


def ancestors(shards: list[dict], shard_id: str) -> set[str]:
    """The shards ``shard_id`` descends from: Lambda has read each of them to its end."""
    parent_of = {s["ShardId"]: s.get("ParentShardId") for s in shards}
    found: set[str] = set()
    parent = parent_of.get(shard_id)
    while parent and parent not in found:
        found.add(parent)
        parent = parent_of.get(parent)
    return found


def closed_rows(held: list[dict], done: set[str]) -> list[dict]:
    """The bucket's ``TOTALS#<shard>`` rows (of ``held``) of the shards in ``done``."""
    return [i for i in held if i["sk"]["S"].removeprefix(rows.TOTALS_ROWS) in done]


def compact(h, bucket: str, row: dict, held: list[dict]) -> bool:
    """Fold one finished shard's rows of the bucket (its totals row and its prefix rows) into
    the base items; False when something moved meanwhile (the next fold tries again)."""
    shard = row["sk"]["S"].removeprefix(rows.TOTALS_ROWS)
    writes = []
    for item in _prefix_rows(h, bucket, shard):
        own = lay.prefix_address(bucket, item["prefix"]["S"])
        writes += [_delete(h, item), _add_into(h, own, item)]
    base = next((i for i in held if i["sk"]["S"] == lay.TOTALS_SK), {})
    peaks = [int(i["max_size"]["N"]) for i in (base, row) if "max_size" in i]
    peak = max(peaks) if peaks else None
    address = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    # The totals row goes last, with the prefixes it holds: while it stays, the next fold finds
    # this shard's rows again.
    last = [_add_into(h, lay.prefix_address(bucket, i["prefix"]["S"]), i)
            for i in rows.row_prefix_items(bucket, [row])]  # fmt: skip
    last += [_delete(h, row), _add_into(h, address, row, peak=peak)]
    groups = [writes[at : at + 100] for at in range(0, len(writes), 100)]  # pairs never split
    for group in [*groups, last]:  # a row holds at most a few dozen prefixes: one transaction
        try:
            h.client.transact_write_items(TransactItems=group)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            return False
    return True


def _prefix_rows(h, bucket: str, shard: str):
    tag = f"{rows.ROW_TAG}{shard}"
    kwargs = {
        "TableName": h.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": lay.prefix_pk(bucket)}},
        "ConsistentRead": True,
    }
    while True:
        page = h.client.query(**kwargs)
        yield from (i for i in page.get("Items", []) if i["sk"]["S"].endswith(tag))
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete(h, item: dict) -> dict:
    # Only the row as read: one untrack deleted meanwhile stays deleted, and nothing of it is
    # added back to the base items.
    condition = {"ConditionExpression": "#q = :q"}
    values = {":q": item.get(rows.LAST_SEQ, {"S": ""})}
    return {
        "Delete": {
            "TableName": h.table_name,
            "Key": lay.address(item["pk"]["S"], item["sk"]["S"]),
            "ExpressionAttributeNames": {"#q": rows.LAST_SEQ},
            "ExpressionAttributeValues": values,
            **condition,
        }
    }


def _add_into(h, address: dict, item: dict, peak: int | None = None) -> dict:
    names, values, adds = {}, {}, []
    carried = [name for name in item if name in _FIGURES or name.startswith("c#")]
    for i, name in enumerate(carried):
        names[f"#a{i}"], values[f":a{i}"] = name, item[name]
        adds.append(f"#a{i} :a{i}")
    expression = f"ADD {', '.join(adds)}" if adds else ""
    sets = []
    if "prefix" in item:
        names |= {"#p": "prefix", "#d": "depth"}
        values |= {":p": item["prefix"], ":d": item.get("depth", lay.n(0))}
        sets.append("#p = if_not_exists(#p, :p), #d = if_not_exists(#d, :d)")
    if peak is not None:  # the larger of the base's and the row's
        names["#m"], values[":m"] = "max_size", lay.n(peak)
        sets.append("#m = :m")
    if sets:
        expression = f"SET {', '.join(sets)} {expression}".strip()
    update = {
        "TableName": h.table_name,
        "Key": address,
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    return {"Update": update}
