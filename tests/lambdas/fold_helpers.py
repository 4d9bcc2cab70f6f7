"""A streamed history table in-process, and its stream read back as Lambda delivers it."""

from __future__ import annotations

import boto3

from s3sizer.lambdas import history, rows, tracked
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas import versions as v

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def streamed_table(client, table: str) -> str:
    """Create the history table with its stream on; the stream's ARN."""
    created = client.create_table(**history.table_definition(table), StreamSpecification=STREAM)
    return created["TableDescription"]["LatestStreamArn"]


def track(client, table: str, bucket: str, depth: int = 1, generation: str = "") -> None:
    """The bucket's settings item, as track writes it."""
    item = {**lay.settings_address(bucket), "prefix_depth": lay.n(depth)}
    item[tracked.UNMARKED_DEPTH] = lay.n(depth)
    if generation:
        item[tracked.GENERATION] = {"S": generation}
    client.put_item(TableName=table, Item=item)


class Stream:
    """Reads the stream's records once each, in order, as Lambda's records."""

    def __init__(self, stream_arn: str):
        self.arn = stream_arn
        self.client = boto3.client("dynamodbstreams", region_name="us-east-1")
        shard = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        self.shard_id = shard[0]["ShardId"]
        self.iterator = self.client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def read(self) -> list[dict]:
        """Every record written since the last read."""
        out = []
        while True:
            got = self.client.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = got.get("NextShardIterator") or self.iterator
            records = got.get("Records", [])
            if not records:
                return out
            out += [self.lambda_record(r) for r in records]

    def lambda_record(self, record: dict) -> dict:
        data = dict(record["dynamodb"])
        data["ApproximateCreationDateTime"] = float(
            int(data["ApproximateCreationDateTime"].timestamp())
        )
        return {**record, "dynamodb": data, "eventSourceARN": self.arn}


def write_key(
    client, table: str, bucket: str, key: str, sizes: list, rev: int, depth=1, generation=""
):
    """A fold-path key item whose versions are ``sizes`` (newest last; None: a marker)."""
    versions = {}
    for i, size in enumerate(sizes):
        kind = v.MARKER if size is None else v.OBJECT
        versions[f"v{i}"] = v.Entry(kind=kind, seq=f"{i + 1:016X}", size=size or 0)
    item = lay.key_item(bucket, key, versions, rev, depth)
    item[rows.FOLDED] = {"N": "1"}
    if generation:
        item[tracked.ITEM_GENERATION] = {"S": generation}
    client.put_item(TableName=table, Item=item)


def delete_key(client, table: str, bucket: str, key: str) -> None:
    client.delete_item(TableName=table, Key=lay.key_address(bucket, key))
