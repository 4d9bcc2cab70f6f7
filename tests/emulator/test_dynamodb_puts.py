"""The emulator's one-pass put (patches/dynamodb_puts.py) stores what moto's own put stores, with
the same stream record and size, and refuses what it refuses, with the same error."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from s3sizer.emulator import Emulator
from s3sizer.emulator.patches import dynamodb_puts, dynamodb_sizes, hooks

ACCOUNT, REGION = "123456789012", "us-east-1"
_serial = itertools.count()


@pytest.fixture(scope="module")
def tables():
    import boto3

    with Emulator(port=0) as aws:
        ddb = boto3.client(
            "dynamodb", endpoint_url=aws.endpoint_url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        for name in ("fast", "moto"):
            ddb.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[ACCOUNT][REGION]
        yield backend.tables["fast"], backend.tables["moto"]


def _outcome(put, table, attrs):
    from moto.dynamodb.models.dynamo_type import DynamoType

    shard = table.stream_shard
    records = len(shard.items)
    try:
        put(table, attrs)
    except Exception as error:
        return "refused", type(error).__name__, str(error)
    stored = table.get_item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]))
    new = [r.to_json() for r in shard.items[records:]]
    for record in new:  # each table's own names and times
        record.pop("eventID", None)
        record["dynamodb"].pop("SequenceNumber", None)
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
        record.pop("eventSourceARN", None)
    return "stored", stored.to_json(), dynamodb_sizes.size(stored), new


def _both(tables, attrs):
    from moto.dynamodb.models.table import Table

    fast, moto = tables
    return _outcome(Table.put_item, fast, attrs), _outcome(Table.put_item.__wrapped__, moto, attrs)


_numbers = hs.sampled_from(
    ["0", "1", "-1.50", "1e10", "12345678901234567890", "abc", " 1", "", "1e200"]
)
_leaf = hs.one_of(
    hs.builds(lambda s: {"S": s}, hs.text(max_size=8)),
    hs.builds(lambda n: {"N": n}, _numbers),
    hs.builds(lambda b: {"BOOL": b}, hs.booleans()),
    hs.builds(lambda b: {"NULL": b}, hs.booleans()),
    hs.builds(lambda b: {"B": b}, hs.binary(max_size=4)),
    hs.builds(lambda s: {"SS": s}, hs.lists(hs.text(max_size=3), min_size=1, max_size=3)),
    hs.just({"S": 5}),  # not a string
    hs.just({}),
)
_names = hs.one_of(hs.text(max_size=4), hs.sampled_from(["N", "S", "NULL", "M", "L"]))
_values = hs.recursive(
    _leaf,
    lambda inner: hs.one_of(
        hs.builds(lambda m: {"M": m}, hs.dictionaries(_names, inner, max_size=3)),
        hs.builds(lambda m: {"L": m}, hs.lists(inner, max_size=3)),
    ),
    max_leaves=6,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(others=hs.dictionaries(_names, _values, max_size=4))
def test_a_put_stores_and_refuses_as_moto_s_own_put(tables, others):
    n = next(_serial)
    attrs = {**others, "pk": {"S": f"p{n % 3}"}, "sk": {"S": f"s{n}"}}
    fast, moto = _both(tables, attrs)
    assert fast == moto


@pytest.mark.parametrize(
    "attrs",
    [
        {"pk": {"S": "p"}},  # no range key
        {"sk": {"S": "s"}},  # no hash key
        {"pk": {"N": "1"}, "sk": {"S": "s"}},  # a key of the wrong type
        {"pk": {"S": "k" * 2049}, "sk": {"S": "s"}},  # a key past its size
        {"pk": {"S": "p"}, "sk": {"S": "k" * 1025}},
        {"pk": {"S": "p"}, "sk": {"S": "big"}, "a": {"S": "x" * 404_990}},  # past the item's
        {"pk": {"S": "p"}, "sk": {"S": "again"}, "v": {"N": "1"}},
        {"pk": {"S": "p"}, "sk": {"S": "again"}, "v": {"N": "2"}},  # replaces: an old image
    ],
    ids=lambda a: ",".join(a)[:30],
)
def test_edge_puts_answer_as_moto_s_own(tables, attrs):
    fast, moto = _both(tables, attrs)
    assert fast == moto


def test_a_baseline_s_key_item_takes_the_one_pass(tables):
    before = hooks.FAST_PATHS[dynamodb_puts.ONE_PASS]
    key_item = {
        "pk": {"S": "B#bucket#K00"}, "sk": {"S": "K#logs/a"}, "key": {"S": "logs/a"},
        "rev": {"N": "1"}, "size": {"N": "402"}, "exists": {"BOOL": True}, "pd": {"N": "1"},
        "versions": {"M": {"null": {"M": {"k": {"S": "P"}, "b": {"N": "1"}, "z": {"N": "402"}}}}},
    }  # fmt: skip
    fast, moto = _both(tables, key_item)
    assert fast == moto and fast[0] == "stored"
    assert hooks.FAST_PATHS[dynamodb_puts.ONE_PASS] > before, (
        f"patch '{dynamodb_puts.TARGETS['put_item'].patch}': moto's put ran"
    )
