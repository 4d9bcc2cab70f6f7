"""The tracker writes a bucket's items only while the bucket is tracked.

`untrack` (the CLI's ForgetBucket) deletes the bucket's ``SETTINGS`` item, then its ``TOTALS``
item, and only then sweeps its partitions. Every transaction of the tracker holds only while
one of the two still exists: a chunk that writes the totals does so under the ``version`` it
read (which a deleted item fails), and one that does not carries a ConditionCheck of the
settings item. So a chunk that read the bucket as tracked and commits after untrack began its
sweep is cancelled, finds the settings gone, and counts its records ``ignored``: nothing of the
bucket is written after the sweep has looked.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import layout as lay
from . import rows

# The settings item's attribute: the depth a key item without ``pd`` counts at (written before
# key items recorded their depth; docs/tracking.md, "A baseline while the bucket is written").
UNMARKED_DEPTH = "unmarked_depth"
# On the fold path: the settings item's ``generation``, written anew each time the bucket starts
# being tracked, and copied by every fold-path writer into the key items it writes (``g``). The
# fold counts an item only while its generation is the settings item's: an item written by a
# tracker that raced untrack, left behind, is worth nothing to a later tracking of the bucket.
GENERATION, ITEM_GENERATION = "generation", "g"


def settings_check(table: str, bucket: str) -> dict:
    """A transaction item that holds only while the bucket's settings item exists."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": lay.settings_address(bucket),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }


def create_totals(h, bucket: str) -> bool:
    """Zero totals for a tracked bucket that has none yet, in one transaction with a check of
    its settings item: False when the bucket is no longer tracked. Every later chunk writes the
    totals under their version, which holds only until untrack deletes them. Zero totals read
    as no totals at all (``layout.totals_from``)."""
    empty = {
        **lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK),
        **{name: lay.n(0) for name in ("total_size", "object_count", "version")},
    }
    put = {"TableName": h.table_name, "Item": empty}
    put["ConditionExpression"] = "attribute_not_exists(pk)"
    try:
        h.client.transact_write_items(
            TransactItems=[settings_check(h.table_name, bucket), {"Put": put}]
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        # The totals made meanwhile (a concurrent chunk, a baseline), or the settings gone.
        return h._get(lay.settings_address(bucket)) is not None
    return True


def unmarked_depth(settings: dict, depth: int) -> int:
    """The depth the bucket's key items without ``pd`` count at (``depth`` when the settings
    item does not say)."""
    found = settings.get(UNMARKED_DEPTH)
    return depth if found is None else int(found["N"])


def generation(settings: dict | None) -> str:
    """The bucket's tracking generation ("" for a settings item written before there were any)."""
    return (settings or {}).get(GENERATION, {}).get("S", "")


def item_generation(item: dict | None) -> str:
    return (item or {}).get(ITEM_GENERATION, {}).get("S", "")


def fold_mark(settings: dict | None) -> dict:
    """What a fold-path writer adds to each key item it writes: the mark that the fold counts
    its change (``f``), and the bucket's tracking generation."""
    mark = {rows.FOLDED: lay.n(1)}
    if generation(settings):
        mark[ITEM_GENERATION] = {"S": generation(settings)}
    return mark
