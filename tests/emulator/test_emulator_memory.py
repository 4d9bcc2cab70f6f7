"""The emulator frees what its clients delete: moto's models and the patches' own indexes hold
no item of a deleted item or table (a long-running emulator grew by every torn-down stack)."""

from __future__ import annotations

import gc
import weakref

import pytest

from s3sizer.emulator import Emulator
from s3sizer.emulator.patches import dynamodb_query, hooks

from .test_patch_contract import _client, _ranged_table, _table


@pytest.fixture(scope="module")
def aws():
    with Emulator(port=0, retry_backoff=0.01) as emulator:
        yield emulator


def test_an_item_deleted_from_its_table_is_freed(aws):
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    ddb = _client(aws, "dynamodb")
    _table(ddb, "freed")
    ddb.put_item(TableName="freed", Item={"pk": {"S": "gone"}, "v": {"N": "1"}})
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["freed"]
    stored = weakref.ref(table.get_item(DynamoType({"S": "gone"})))
    assert stored() is not None

    ddb.delete_item(TableName="freed", Key={"pk": {"S": "gone"}})
    gc.collect()

    # moto kept every model instance for its dashboard: every item ever written stayed alive.
    assert stored() is None
    assert not getattr(Item, "instances_tracked", [])


def test_a_deleted_table_s_queried_items_are_freed(aws):
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    ddb = _client(aws, "dynamodb")
    _ranged_table(ddb, "dropped")
    for sk in ("a", "b", "c"):
        ddb.put_item(TableName="dropped", Item={"pk": {"S": "p"}, "sk": {"S": sk}})
    before = hooks.FAST_PATHS[dynamodb_query.ONE_PAGE]
    page = ddb.query(  # a sort key condition: the partition is indexed in sort key order
        TableName="dropped", KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "a"}},
    )  # fmt: skip
    assert [i["sk"]["S"] for i in page["Items"]] == ["b", "c"]
    assert hooks.FAST_PATHS[dynamodb_query.ONE_PAGE] > before
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["dropped"]
    stored = weakref.ref(table.get_item(DynamoType({"S": "p"}), DynamoType({"S": "b"})))
    del table

    ddb.delete_table(TableName="dropped")
    gc.collect()

    # The query's index held the partition: every torn-down stack's items stayed alive.
    assert stored() is None


def test_a_deleted_table_with_a_stream_is_freed_without_waiting_for_a_collection(aws):
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    ddb = _client(aws, "dynamodb")
    ddb.create_table(
        TableName="streamed", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["streamed"]
    assert table.stream_shard.items  # the put's record
    stored = weakref.ref(table.get_item(DynamoType({"S": "k"})))
    del table

    gc.disable()  # a large emulator collects rarely: the table must go when its last user does
    try:
        ddb.delete_table(TableName="streamed")
        alive = stored() is not None
    finally:
        gc.enable()

    # The table and its stream's shard referred to each other: the deleted table, with its
    # items and records, waited for a full collection (about 110 MB a fold stack torn down).
    assert not alive


def test_a_stream_poller_whose_mapping_is_gone_lets_go_of_its_shard(aws):
    from s3sizer.emulator.stream_poller import StreamEventSources

    class Shard:
        items: list = []

    sources = StreamEventSources(runtime=None, dice=None, retry_backoff=0.01)
    gone = Shard()
    sources.start("123456789012", "us-east-1", "no-such-mapping", gone, 0)
    shard = weakref.ref(gone)
    del gone
    first = sources._pollers[0]
    first.thread.join(timeout=10)  # no such mapping: the poller ends at once
    assert not first.thread.is_alive()
    del first

    sources.start("123456789012", "us-east-1", "another-gone-mapping", Shard(), 0)
    gc.collect()

    assert shard() is None  # an ended poller is no longer kept, nor its shard
    sources.stop()
