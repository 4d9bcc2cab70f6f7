"""Helpers for the DynamoDB Streams tests: streamed tables, mapped functions, what they received."""

from __future__ import annotations

from pathlib import Path

from .helpers import create_function, read_records

# Records every batch it gets. A record whose NewImage has `poison` fails: the handler raises
# (MODE=raise), or reports it in batchItemFailures (MODE=report). A record whose NewImage has
# `once` fails only the first time it is seen, and any record fails while BLOCK_FILE exists.
STREAM_HANDLER = """
import json, os

def handler(event, context):
    records = event["Records"]
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"event": event}) + "\\n")
    if os.path.exists(os.environ["BLOCK_FILE"]):
        raise RuntimeError("blocked")
    seen_file = os.environ["RECORD_FILE"] + ".seen"
    seen = set(open(seen_file).read().split()) if os.path.exists(seen_file) else set()
    failed = []
    for r in records:
        image = r["dynamodb"].get("NewImage", {})
        number = r["dynamodb"]["SequenceNumber"]
        if "poison" in image or ("once" in image and number not in seen):
            failed.append(number)
    with open(seen_file, "a") as f:
        f.write("".join(n + "\\n" for n in failed))
    if failed and os.environ["MODE"] == "raise":
        raise RuntimeError("a record failed")
    # Reported in reverse order: the checkpoint is the lowest, not the first listed.
    return {"batchItemFailures": [{"itemIdentifier": n} for n in reversed(failed)]}
"""


def streamed_table(emulator, name: str, view: str = "NEW_AND_OLD_IMAGES") -> str:
    """A table keyed by `pk` whose stream has `view`; returns the stream's ARN."""
    table = emulator.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return table["TableDescription"]["LatestStreamArn"]


def mapped_function(emulator, tmp_path: Path, name: str, stream_arn: str, mode="raise", **mapping):
    """A STREAM_HANDLER function mapped to the stream; returns (its record file, mapping UUID)."""
    records = tmp_path / f"{name}.records"
    create_function(
        emulator, name, STREAM_HANDLER,
        env={"RECORD_FILE": str(records), "BLOCK_FILE": str(tmp_path / f"{name}.block"),
             "MODE": mode},
    )  # fmt: skip
    options = {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10, **mapping}
    uuid = emulator.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=name, **options
    )["UUID"]
    return records, uuid


def batches(records_file: Path) -> list[list[dict]]:
    return [entry["event"]["Records"] for entry in read_records(records_file)]


def pks(batch: list[dict]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in batch]


def put(emulator, table: str, pk: str, **attributes: str) -> None:
    item = {"pk": {"S": pk}, **{name: {"S": value} for name, value in attributes.items()}}
    emulator.client("dynamodb").put_item(TableName=table, Item=item)


def stream_records(emulator, stream_arn: str) -> list[dict]:
    """Every record of the stream, read with the DynamoDB Streams API."""
    streams = emulator.client("dynamodbstreams")
    [shard] = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return streams.get_records(ShardIterator=iterator)["Records"]
