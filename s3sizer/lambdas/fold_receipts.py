"""Which records of a dead-lettered stream batch the fold had already counted.

Lambda gives up on a batch whole: its on-failure record names the batch from its first record,
even when an attempt had committed some of the batch's steps before it crashed (a timeout is
nothing the fold can catch and report). Every committed step writes its bucket's history point
in the same transaction, named by the step's last record and its shard, and holding the step's
first record (``first_seq``): the points are the steps' receipts. ``s3sizer redrive`` passes the
batch's time span (the arrival of its first record, the time Lambda gave up), and the fold skips
the records of any step whose receipt it finds there, so a redriven batch counts nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

from . import layout as lay

# Stream arrival times come from DynamoDB and point times from the fold's own clock: both are
# AWS's time, and the span is widened by this much each side for any difference between them.
CLOCK_MARGIN = timedelta(minutes=5)
FIRST_SEQ = "first_seq"


def receipt_attributes(first: str) -> dict:
    """What a step's point carries besides its figures: the step's first record."""
    return {FIRST_SEQ: {"S": first}}


def committed_ranges(h, bucket: str, shard: str, since: str, until: str) -> list[tuple[str, str]]:
    """(first, last) padded sequence numbers of the steps of ``shard`` committed for ``bucket``
    between ``since`` and ``until`` (ISO-8601 instants)."""
    low = lay.iso_ms(lay.parse_iso(since) - CLOCK_MARGIN)
    high = lay.iso_ms(lay.parse_iso(until) + CLOCK_MARGIN)
    kwargs = {
        "TableName": h.table_name,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":pk": {"S": lay.bucket_pk(bucket)},
            ":low": {"S": f"{lay.POINT_PREFIX}{low}"},
            ":high": {"S": f"{lay.POINT_PREFIX}{high}~"},
        },
        "ProjectionExpression": "sk, #f",
        "ExpressionAttributeNames": {"#f": FIRST_SEQ},
        "ConsistentRead": True,
    }
    found = []
    while True:
        page = h.client.query(**kwargs)
        for item in page.get("Items", []):
            # sk: H#<time>#F<last sequence number>#<shard>
            parts = item["sk"]["S"].split("#")
            if len(parts) == 4 and parts[2].startswith("F") and parts[3] == shard:
                first = item.get(FIRST_SEQ, {}).get("S")
                if first:
                    found.append((first, parts[2][1:]))
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def counted(seq: str, ranges: list[tuple[str, str]]) -> bool:
    return any(first <= seq <= last for first, last in ranges)
