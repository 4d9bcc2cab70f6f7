"""The baseline: a tracker that lists the whole bucket on every event, then writes the totals.

It is the obvious design that s3sizer's tracker is compared against. It needs no per-key index
and no sequencers, because a full listing is the truth; but each event costs ⌈N/1000⌉
ListObjectsV2 pages, so its cost grows with the bucket. Its items live in the same table as
the tracker's, under a partition of their own, so the two never touch each other's data.
"""

from __future__ import annotations

from datetime import UTC, datetime

from s3sizer.lambdas.history import iso_ms

IGNORE_PREFIX = ".s3sizer/"


class ListEverythingTracker:
    def __init__(self, s3_client, dynamodb_client, table_name: str):
        self._s3 = s3_client
        self._dynamodb = dynamodb_client
        self.table_name = table_name
        self._version = 0

    def apply_event(self, event: dict) -> None:
        buckets = {record["s3"]["bucket"]["name"] for record in event.get("Records", [])}
        for bucket in sorted(buckets):
            total, count = self.list_totals(bucket)
            self._write(bucket, total, count)

    def list_totals(self, bucket: str) -> tuple[int, int]:
        total = count = 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].startswith(IGNORE_PREFIX):
                    total, count = total + item["Size"], count + 1
        return total, count

    def totals(self, bucket: str) -> tuple[int, int]:
        item = self._dynamodb.get_item(
            TableName=self.table_name, Key=_key(bucket, "TOTALS"), ConsistentRead=True
        )["Item"]
        return int(item["total_size"]["N"]), int(item["object_count"]["N"])

    def _write(self, bucket: str, total: int, count: int) -> None:
        # The totals and one history point, in one request: no condition is needed, since the
        # listing is the whole truth (concurrent listings could still land out of order).
        self._version += 1
        ts = iso_ms(datetime.now(UTC))
        sizes = {"total_size": {"N": str(total)}, "object_count": {"N": str(count)}}
        totals = {**_key(bucket, "TOTALS"), **sizes, "updated_at": {"S": ts}}
        point = {**_key(bucket, f"H#{ts}#{self._version:012d}"), **sizes, "ts": {"S": ts}}
        self._dynamodb.batch_write_item(
            RequestItems={
                self.table_name: [{"PutRequest": {"Item": totals}}, {"PutRequest": {"Item": point}}]
            }
        )


def _key(bucket: str, sk: str) -> dict:
    return {"pk": {"S": f"LIST-EVERYTHING#{bucket}"}, "sk": {"S": sk}}
