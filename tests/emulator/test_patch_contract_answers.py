"""The contract of the patches that build DynamoDB's answers (patches/dynamodb_answers.py), size
its items and check a batch's keys (dynamodb.py): each answers what moto's own code answers, or
what AWS answers where moto differs, and is really taken (counted, never timed)."""

from __future__ import annotations

import copy
import inspect
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from s3sizer.emulator import Emulator
from s3sizer.emulator.patches import dynamodb, dynamodb_answers, dynamodb_sizes, hooks

from .test_patch_contract import _answer, _client, _ranged_table


@pytest.fixture(scope="module")
def aws():
    with Emulator(port=0, retry_backoff=0.01) as emulator:
        yield emulator


_VALUES = [
    {"S": "plain"},
    {"S": ""},
    {"S": "\u00fc\U0001f600"},
    {"N": "12.50"},
    {"N": "-1E+3"},
    {"BOOL": True},
    {"BOOL": False},
    {"NULL": True},
    {"B": b"\x00\xffbinary"},
    {"SS": ["a", "b\u00e9"]},
    {"NS": ["1", "2.5"]},
    {"BS": [b"\x01", b"\x02\x03"]},
    {"L": []},
    {"M": {}},
    {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x09"}, {"M": {"k": {"SS": ["y"]}}}]},
    {"M": {"null": {"M": {"k": {"S": "P"}, "b": {"N": "1"}, "z": {"N": "402"}}}}},
    {"M": {"deep": {"L": [{"L": [{"M": {"b": {"BS": [b"\x04"]}, "n": {"NULL": True}}}]}]}}},
]


def _items() -> list[dict]:
    return [
        {"pk": {"S": "p"}, "sk": {"S": f"K#{i:02d}"}, "v": value, "n": {"N": str(i)}}
        for i, value in enumerate(_VALUES)
    ]


@pytest.fixture(scope="module")
def rich_table(aws):
    ddb = _client(aws, "dynamodb")
    _ranged_table(ddb, "answers")
    for item in _items():
        ddb.put_item(TableName="answers", Item=item)
    return ddb


_QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}},
    {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "Limit": 4,
     "ExpressionAttributeValues": {":p": {"S": "p"}, ":a": {"S": "K#03"}, ":b": {"S": "K#14"}}},
    {"KeyConditionExpression": "pk = :p", "ScanIndexForward": False,
     "FilterExpression": "n > :z", "ExpressionAttributeValues": {":p": {"S": "p"},
                                                                 ":z": {"N": "4"}}},
    {"KeyConditionExpression": "pk = :p", "ProjectionExpression": "sk, v",
     "ExpressionAttributeValues": {":p": {"S": "p"}}},
]  # fmt: skip


def test_a_query_answers_as_moto_s_copying_query_and_its_walk_do(rich_table, monkeypatch):
    import moto.dynamodb.models.table as table_module
    import moto.dynamodb.responses as responses

    before = dict(hooks.FAST_PATHS)
    fast = [_answer(rich_table.query, TableName="answers", **asked) for asked in _QUERIES]
    for path in (dynamodb_answers.UNCOPIED, dynamodb_answers.DIRECT_ANSWER):
        assert hooks.FAST_PATHS[path] > before.get(path, 0), f"'{path}' was not taken"
    monkeypatch.setattr(table_module, "copy", copy)
    monkeypatch.setattr(responses, "dynamo_to_dict", responses.dynamo_to_dict.__wrapped__)
    own = [_answer(rich_table.query, TableName="answers", **asked) for asked in _QUERIES]
    assert fast == own
    assert fast[0][1]["Items"] == _items()


def test_a_query_with_a_projection_copies_and_leaves_the_stored_items_whole(rich_table):
    before = hooks.FAST_PATHS[dynamodb_answers.UNCOPIED]
    projected = rich_table.query(TableName="answers", **_QUERIES[3])["Items"]
    assert hooks.FAST_PATHS[dynamodb_answers.UNCOPIED] == before
    assert [set(item) for item in projected] == [{"sk", "v"}] * len(_VALUES)
    assert rich_table.query(TableName="answers", **_QUERIES[0])["Items"] == _items()


def test_an_answer_built_directly_is_moto_s_walk_s_own(aws):
    import moto.dynamodb.responses as responses
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    items = [Item(DynamoType(i["pk"]), DynamoType(i["sk"]), i) for i in _items()]
    shapes = [
        {"Items": [item.attrs for item in items], "Count": 3, "LastEvaluatedKey": _items()[0]},
        {"Attributes": items[5].attrs},
        {"Table": {"TableName": "t", "Created": Decimal("1.5"), "Tags": [{"Key": "k"}]}},
        [DynamoType(v) for v in _VALUES],
        {"Item": items[0]},  # a model with to_json: moto's own walk
        "plain",
        None,
    ]
    own = responses.dynamo_to_dict.__wrapped__
    for shape in shapes:
        assert responses.dynamo_to_dict(shape) == own(shape), shape


@pytest.mark.parametrize("value", _VALUES, ids=lambda v: str(v)[:24])
def test_an_item_s_size_is_moto_s_own(aws, value):
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    typed = DynamoType(value)
    assert dynamodb_sizes.moto_size(typed, bytesize) == typed.size()


def _binary(value) -> bool:
    if isinstance(value, bytes):
        return True
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(_binary(v) for v in inner)


def _batch(key: str, **attrs) -> dict:
    return {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"S": key}, **attrs}}}


def _unbatch(key: str) -> dict:
    return {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"S": key}}}}


@pytest.mark.parametrize(
    "requests",
    [
        [_batch("K#1"), _unbatch("K#1")],
        [_batch("K#1", a={"N": "1"}), _batch("K#2"), _batch("K#1", a={"N": "2"})],
        [_unbatch("K#3"), _unbatch("K#3")],
    ],
    ids=["put-and-delete", "two-puts", "two-deletes"],
)
def test_a_batch_with_two_requests_on_one_item_is_refused_as_aws_refuses_it(rich_table, requests):
    with pytest.raises(ClientError) as refused:
        rich_table.batch_write_item(RequestItems={"answers": requests})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "contains duplicates" in refused.value.response["Error"]["Message"]
    stored = rich_table.query(TableName="answers", KeyConditionExpression="pk = :b",
                              ExpressionAttributeValues={":b": {"S": "b"}})["Items"]  # fmt: skip
    assert stored == []


def test_a_batch_of_distinct_items_answers_as_moto_s_own(rich_table, monkeypatch):
    from moto.dynamodb.responses import DynamoHandler

    # No binary values: moto 5.2.0 (the declared floor) dumps a batch's items to JSON whole.
    plain = [value for value in _VALUES if not _binary(value)]
    batches = [
        [_batch(f"K#{i}", v=value) for i, value in enumerate(plain)],
        [_unbatch("K#1"), _batch("K#1x"), _unbatch("K#missing")],
        [_batch("K#2", v={"S": "again"})],  # one put, no duplicate in the batch
    ]
    before = hooks.FAST_PATHS[dynamodb.KEYS_CHECKED], hooks.FAST_PATHS[dynamodb.PLAIN_JSON]
    fast = [_answer(rich_table.batch_write_item, RequestItems={"answers": b}) for b in batches]
    after = hooks.FAST_PATHS[dynamodb.KEYS_CHECKED], hooks.FAST_PATHS[dynamodb.PLAIN_JSON]
    assert after == (before[0] + len(batches), before[1] + len(batches))
    query = {"TableName": "answers", "KeyConditionExpression": "pk = :b",
             "ExpressionAttributeValues": {":b": {"S": "b"}}}  # fmt: skip
    fast_items = rich_table.query(**query)["Items"]
    rich_table.batch_write_item(
        RequestItems={"answers": [_unbatch(i["sk"]["S"]) for i in fast_items]}
    )
    monkeypatch.setattr(  # moto's own, under the duplicates check and the plain-JSON answer
        DynamoHandler, "batch_write_item", inspect.unwrap(DynamoHandler.batch_write_item)
    )
    own = [_answer(rich_table.batch_write_item, RequestItems={"answers": b}) for b in batches]
    assert fast == own
    assert rich_table.query(**query)["Items"] == fast_items
