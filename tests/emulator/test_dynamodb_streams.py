"""DynamoDB Streams: one record per change of an item, for every write path, as DynamoDB writes
them; none for a write that changes nothing, fails its condition, or is in a cancelled transaction."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from .helpers import poll
from .stream_helpers import batches, mapped_function, pks, put, stream_records, streamed_table

pytestmark = pytest.mark.emulator


def _changes(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def test_records_reach_the_function_in_order_with_the_documented_shape(emulator, tmp_path):
    arn = streamed_table(emulator, "streams-shape")
    records_file, _ = mapped_function(emulator, tmp_path, "streams-shape", arn)
    ddb = emulator.client("dynamodb")
    # WHEN an item is created, changed, written again unchanged, and removed, around another
    put(emulator, "streams-shape", "a", colour="red")
    ddb.update_item(
        TableName="streams-shape", Key={"pk": {"S": "a"}}, UpdateExpression="SET colour = :c",
        ExpressionAttributeValues={":c": {"S": "blue"}},
    )  # fmt: skip
    put(emulator, "streams-shape", "b", colour="green")
    put(emulator, "streams-shape", "b", colour="green")  # changes nothing
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.put_item(
            TableName="streams-shape", Item={"pk": {"S": "b"}, "colour": {"S": "x"}},
            ConditionExpression="attribute_not_exists(pk)",
        )  # fmt: skip
    ddb.delete_item(TableName="streams-shape", Key={"pk": {"S": "a"}})
    ddb.delete_item(TableName="streams-shape", Key={"pk": {"S": "never-there"}})
    # THEN the function gets one record per change, in order
    delivered = poll(lambda: [r for b in batches(records_file) for r in b][3:] and [
        r for b in batches(records_file) for r in b])  # fmt: skip
    assert _changes(delivered) == [
        ("INSERT", "a"),
        ("MODIFY", "a"),
        ("INSERT", "b"),
        ("REMOVE", "a"),
    ]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in delivered]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4
    insert, modify, _, remove = delivered
    assert set(insert) == {
        "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
        "eventSourceARN",
    }  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{32}", insert["eventID"])
    assert (insert["eventVersion"], insert["eventSource"]) == ("1.1", "aws:dynamodb")
    assert (insert["awsRegion"], insert["eventSourceARN"]) == ("us-east-1", arn)
    stream = insert["dynamodb"]
    assert stream["Keys"] == {"pk": {"S": "a"}}
    assert stream["NewImage"] == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert "OldImage" not in stream
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(stream["ApproximateCreationDateTime"], float)
    assert stream["ApproximateCreationDateTime"] == int(stream["ApproximateCreationDateTime"])
    assert isinstance(stream["SizeBytes"], int) and stream["SizeBytes"] > 0
    assert len(stream["SequenceNumber"]) >= 21
    assert modify["dynamodb"]["OldImage"]["colour"] == {"S": "red"}
    assert modify["dynamodb"]["NewImage"]["colour"] == {"S": "blue"}
    assert remove["dynamodb"]["OldImage"]["colour"] == {"S": "blue"}
    assert "NewImage" not in remove["dynamodb"]


@pytest.mark.parametrize(
    ("view", "images"),
    [("KEYS_ONLY", set()), ("NEW_IMAGE", {"NewImage"}), ("OLD_IMAGE", {"OldImage"}),
     ("NEW_AND_OLD_IMAGES", {"NewImage", "OldImage"})],
)  # fmt: skip
def test_each_stream_view_type_carries_its_images(emulator, view, images):
    table = f"streams-view-{view.lower().replace('_', '-')}"
    arn = streamed_table(emulator, table, view)
    put(emulator, table, "k", n="1")
    put(emulator, table, "k", n="2")
    [_, modify] = stream_records(emulator, arn)
    assert set(modify["dynamodb"]) - {"Keys"} & {"NewImage", "OldImage"} == images
    assert modify["dynamodb"]["StreamViewType"] == view
    assert modify["dynamodb"]["Keys"] == {"pk": {"S": "k"}}


def test_an_update_that_creates_an_item_writes_one_record_and_a_no_op_update_none(emulator):
    arn = streamed_table(emulator, "streams-update")
    ddb = emulator.client("dynamodb")
    for value in ("1", "1", "2"):
        ddb.update_item(
            TableName="streams-update", Key={"pk": {"S": "u"}}, UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": value}},
        )  # fmt: skip
    records = stream_records(emulator, arn)
    assert _changes(records) == [("INSERT", "u"), ("MODIFY", "u")]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "u"}, "n": {"N": "1"}}
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}


def test_batch_writes_and_transactions_produce_records_and_cancelled_ones_none(emulator, tmp_path):
    arn = streamed_table(emulator, "streams-writes")
    records_file, _ = mapped_function(emulator, tmp_path, "streams-writes", arn)
    ddb = emulator.client("dynamodb")
    put(emulator, "streams-writes", "gone")
    ddb.batch_write_item(RequestItems={"streams-writes": [
        {"PutRequest": {"Item": {"pk": {"S": "b1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "b2"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "gone"}}}},
    ]})  # fmt: skip
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "streams-writes", "Item": {"pk": {"S": "cancelled"}}}},
            {"ConditionCheck": {"TableName": "streams-writes", "Key": {"pk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])  # fmt: skip
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "streams-writes", "Item": {"pk": {"S": "t1"}}}},
        {"Update": {"TableName": "streams-writes", "Key": {"pk": {"S": "b1"}},
                    "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}},
        {"Delete": {"TableName": "streams-writes", "Key": {"pk": {"S": "b2"}}}},
    ])  # fmt: skip
    expected = [
        ("INSERT", "gone"), ("INSERT", "b1"), ("INSERT", "b2"), ("REMOVE", "gone"),
        ("INSERT", "t1"), ("MODIFY", "b1"), ("REMOVE", "b2"),
    ]  # fmt: skip
    delivered = poll(
        lambda: (
            len(_changes([r for b in batches(records_file) for r in b])) >= len(expected)
            and [r for b in batches(records_file) for r in b]
        )
    )
    assert _changes(delivered) == expected
    assert _changes(stream_records(emulator, arn)) == expected
    assert "Item" not in ddb.get_item(TableName="streams-writes", Key={"pk": {"S": "cancelled"}})
    assert [pks(b) for b in batches(records_file)][-1][-1] == "b2"


def test_a_disabled_stream_gets_no_more_records(emulator):
    arn = streamed_table(emulator, "streams-disabled")
    streams = emulator.client("dynamodbstreams")
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    put(emulator, "streams-disabled", "before")
    emulator.client("dynamodb").update_table(
        TableName="streams-disabled", StreamSpecification={"StreamEnabled": False}
    )
    put(emulator, "streams-disabled", "after")
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert _changes(records) == [("INSERT", "before")]
