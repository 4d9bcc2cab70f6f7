"""The contract between the emulator's patches and moto: every target still fits, every patch is
undone on deactivate, and each fast path is really taken (counted, never timed)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from s3sizer.emulator import Emulator, patches
from s3sizer.emulator.patches import (
    dynamodb,
    dynamodb_parse,
    dynamodb_query,
    dynamodb_sizes,
    hooks,
    sqs,
    stream_mappings,
    stream_records,
)


@pytest.mark.parametrize("target", patches.all_targets(), ids=lambda t: t.dotted)
def test_every_patched_moto_attribute_still_has_the_signature_its_patch_expects(target):
    assert target.problem() is None, f"patch '{target.patch}': {target.problem()}"


def _current_values() -> dict[str, object]:
    return {
        t.dotted: vars(t.resolve_owner()).get(t.attribute, "(inherited)")
        for t in patches.all_targets()
    }


@pytest.fixture(scope="module")
def in_process():
    before = _current_values()
    with Emulator(port=0, retry_backoff=0.01) as aws:
        during = _current_values()
        yield aws, before, during
    assert _current_values() == before, "a patch was not undone on deactivate"


def _client(aws, service: str):
    import boto3

    return boto3.client(
        service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def _table(ddb, name: str) -> None:
    """A table keyed by a string `pk`, on demand."""
    ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def _ranged_table(ddb, name: str) -> None:
    """A table keyed by a string `pk` and a string sort key `sk`, on demand."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def test_activate_replaces_every_target_and_deactivate_restores_it(in_process):
    _, before, during = in_process
    replaced = {t.dotted for t in patches.all_targets()}
    changed = {name for name in replaced if before[name] is not during[name]}
    required_only = {patches.lambda_.TARGETS["get_param"].dotted}
    assert changed == replaced - required_only


def test_a_transaction_keeps_the_table_instead_of_copying_it(in_process):
    aws, _, _ = in_process
    ddb = _client(aws, "dynamodb")
    _table(ddb, "contract")
    before = hooks.FAST_PATHS[dynamodb.NO_TABLE_COPY]
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "contract", "Item": {"pk": {"S": "a"}}}}]
    )
    assert hooks.FAST_PATHS[dynamodb.NO_TABLE_COPY] > before, (
        f"patch '{dynamodb.TARGETS['copy'].patch}': moto copied the whole table"
    )


def test_a_query_reads_one_partition(in_process):
    aws, _, _ = in_process
    ddb = _client(aws, "dynamodb")
    _ranged_table(ddb, "partitions")
    for i in range(12):
        ddb.put_item(
            TableName="partitions", Item={"pk": {"S": f"p{i % 3}"}, "sk": {"S": f"{i:02d}"}}
        )
    before = hooks.FAST_PATHS[dynamodb_query.ONE_PARTITION]
    found = ddb.query(
        TableName="partitions",
        KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "p1"}, ":s": {"S": "03"}},
    )["Items"]
    assert [item["sk"]["S"] for item in found] == ["04", "07", "10"]
    assert hooks.FAST_PATHS[dynamodb_query.ONE_PARTITION] > before, (
        f"patch '{dynamodb_query.TARGETS['query'].patch}': moto read the whole table"
    )


def test_an_item_is_sized_once_and_still_refused_past_moto_s_limit(in_process):
    aws, _, _ = in_process
    ddb = _client(aws, "dynamodb")
    ddb.create_table(
        TableName="sizes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    before = hooks.FAST_PATHS[dynamodb.ITEM_SIZE_ONCE]
    fits = {f"a{i}": {"S": "x" * 40_000} for i in range(10)}  # 400,020 bytes with the names
    ddb.put_item(TableName="sizes", Item={"pk": {"S": "fits"}, **fits})
    assert hooks.FAST_PATHS[dynamodb.ITEM_SIZE_ONCE] > before, (
        f"patch '{dynamodb.TARGETS['item_init'].patch}': moto summed the item at each attribute"
    )
    too_large = {**fits, "b": {"S": "x" * 5_000}}
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName="sizes", Item={"pk": {"S": "too-large"}, **too_large})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "maximum allowed size" in refused.value.response["Error"]["Message"]
    stored = ddb.get_item(TableName="sizes", Key={"pk": {"S": "fits"}})["Item"]
    assert stored == {"pk": {"S": "fits"}, **fits}
    assert "Item" not in ddb.get_item(TableName="sizes", Key={"pk": {"S": "too-large"}})


def test_an_sqs_mapping_is_taken_off_motos_invoke_on_send(in_process):
    aws, _, _ = in_process
    queue_arn = _client(aws, "sqs").get_queue_attributes(
        QueueUrl=_client(aws, "sqs").create_queue(QueueName="contract")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    lambda_client = _client(aws, "lambda")
    role = _client(aws, "iam").create_role(RoleName="contract", AssumeRolePolicyDocument="{}")
    lambda_client.create_function(
        FunctionName="contract", Runtime="python3.11", Role=role["Role"]["Arn"],
        Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    before = hooks.FAST_PATHS[sqs.DETACHED]
    lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="contract")
    assert hooks.FAST_PATHS[sqs.DETACHED] == before + 1, (
        f"patch '{sqs.TARGETS['create_mapping'].patch}': moto would invoke on send"
    )


def test_a_stream_mapping_is_taken_off_motos_invoke_on_write(in_process):
    aws, _, _ = in_process
    table = _client(aws, "dynamodb").create_table(
        TableName="contract-stream", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )  # fmt: skip
    role = _client(aws, "iam").create_role(
        RoleName="contract-stream", AssumeRolePolicyDocument="{}"
    )
    lambda_client = _client(aws, "lambda")
    lambda_client.create_function(
        FunctionName="contract-stream", Runtime="python3.11", Role=role["Role"]["Arn"],
        Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    before = dict(hooks.FAST_PATHS)
    lambda_client.create_event_source_mapping(
        EventSourceArn=table["TableDescription"]["LatestStreamArn"],
        FunctionName="contract-stream", StartingPosition="LATEST", Enabled=False,
    )  # fmt: skip
    _client(aws, "dynamodb").put_item(TableName="contract-stream", Item={"pk": {"S": "a"}})
    assert hooks.FAST_PATHS[stream_mappings.DETACHED] == before.get(stream_mappings.DETACHED, 0) + 1
    assert hooks.FAST_PATHS[stream_records.NOT_INVOKED] > before.get(
        stream_records.NOT_INVOKED, 0
    ), f"patch '{stream_records.TARGETS['add'].patch}': moto wrote the record and invoked"


def test_a_target_that_changed_refuses_to_install_naming_its_patch():
    changed = hooks.Target("an example patch", "moto.s3.models", "S3Backend", "put_object",
                           ("self", "no_such_parameter"))  # fmt: skip
    with pytest.raises(Exception, match="an example patch"):
        hooks.PatchSet().replace(changed, lambda original: original)


def test_sqs_counts_and_receives_take_the_fast_paths(in_process):
    aws, _, _ = in_process
    client = _client(aws, "sqs")
    url = client.create_queue(QueueName="contract-fast")["QueueUrl"]
    before = dict(hooks.FAST_PATHS)
    client.send_message(QueueUrl=url, MessageBody="x")
    client.receive_message(QueueUrl=url)
    for path, target in ((sqs.ONE_CLOCK_READ, "messages"), (sqs.RETENTION_READ, "retention")):
        assert hooks.FAST_PATHS[path] > before.get(path, 0), (
            f"patch '{sqs.TARGETS[target].patch}': moto's slow path ran"
        )


def _answer(call, **kwargs):
    """What the emulator answered: the response without its request id, or the error."""
    try:
        response = call(**kwargs)
    except ClientError as error:
        return "error", error.response["Error"]
    response.pop("ResponseMetadata", None)
    return "answer", response


def _pages_table(aws, name: str):
    import boto3
    from botocore.config import Config

    ddb = boto3.client(
        "dynamodb", endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),  # moto's own errors, once each
    )  # fmt: skip
    _ranged_table(ddb, name)
    keys = ["K#a", "K#a b", "K#b", "K#b\u00fc", "K#c", "K#\U0010ffff", "L#a", "P#1"]
    for i, sk in enumerate(keys * 2):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"p{i // len(keys)}"}, "sk": {"S": sk},
                                           "n": {"N": str(i)}, "s": {"S": "x" * i}})  # fmt: skip
    for i in range(7):  # three of these fill moto's 1 MB page
        ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "sk": {"S": f"K#{i}"},
                                           "s": {"S": "x" * 300_000}})  # fmt: skip
    return ddb


_CONDITIONS = [
    ("pk = :p", {}),
    ("pk = :p AND sk BETWEEN :a AND :b", {":a": {"S": "K#a"}, ":b": {"S": "K#c"}}),
    ("pk = :p AND sk BETWEEN :a AND :b", {":a": {"S": "K#0"}, ":b": {"S": "K#2"}}),
    ("pk = :p AND begins_with(sk, :a)", {":a": {"S": "K#b"}}),
    ("pk = :p AND sk > :a", {":a": {"S": "K#a b"}}),
    ("pk = :p AND sk <= :a", {":a": {"S": "K#b"}}),
    ("pk = :p AND sk = :a", {":a": {"S": "K#c"}}),
    ("pk = :p AND sk < :a", {":a": {"N": "3"}}),  # an operand of another type: moto's error
]
_STARTS = [
    None,
    {"pk": {"S": "p0"}, "sk": {"S": "K#a b"}},  # an item's key
    {"pk": {"S": "p0"}, "sk": {"S": "K#bb"}},  # between two items
    {"pk": {"S": "p1"}, "sk": {"S": "K#b"}},  # another partition's
    {"pk": {"S": "p0"}, "sk": {"N": "1"}},  # a sort key of another type
    {"pk": {"S": "p0"}},  # no sort key
    {"pk": {"S": "big"}, "sk": {"S": "K#1"}},
]


# Backward in the heavy tier (7 s): the default run compares the forward pages.
@pytest.mark.parametrize("forward", [True, pytest.param(False, marks=pytest.mark.heavy)])
def test_a_query_page_answers_as_moto_s_own_query_does(in_process, monkeypatch, forward):
    from moto.dynamodb.models.table import Table

    aws, _, _ = in_process
    ddb = _pages_table(aws, f"pages-{forward}")
    asked = [
        {"KeyConditionExpression": condition, "ScanIndexForward": forward,
         "ExpressionAttributeValues": {":p": {"S": pk}, **values}, **limit, **start}
        for pk in ("p0", "big")
        for condition, values in _CONDITIONS
        for limit in ({}, {"Limit": 1}, {"Limit": 2}, {"Limit": 5}, {"Limit": 40})
        for start in [{}] + [{"ExclusiveStartKey": s} for s in _STARTS if s]
    ]  # fmt: skip
    before = hooks.FAST_PATHS[dynamodb_query.ONE_PAGE]
    walked_no_further = hooks.FAST_PATHS[dynamodb_query.NO_STOP_WALK]
    sized = hooks.FAST_PATHS[dynamodb_query.SIZE_KNOWN]
    no_match = hooks.FAST_PATHS[dynamodb_query.NO_MATCH_WALK]
    fast = [_answer(ddb.query, TableName=f"pages-{forward}", **kwargs) for kwargs in asked]
    assert hooks.FAST_PATHS[dynamodb_query.SIZE_KNOWN] > sized  # moto's own sizes compared below
    assert hooks.FAST_PATHS[dynamodb_query.ONE_PAGE] > before, (
        f"patch '{dynamodb_query.TARGETS['query'].patch}': moto walked the whole partition"
    )
    assert hooks.FAST_PATHS[dynamodb_query.NO_STOP_WALK] > walked_no_further
    assert hooks.FAST_PATHS[dynamodb_query.NO_MATCH_WALK] > no_match  # BETWEEN K#0 AND K#2
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    own = [_answer(ddb.query, TableName=f"pages-{forward}", **kwargs) for kwargs in asked]
    for kwargs, got, expected in zip(asked, fast, own, strict=True):
        assert got == expected, kwargs
    assert {kind for kind, _ in own} == {"answer", "error"}


def test_a_query_page_counts_an_item_s_size_again_after_a_write(in_process, monkeypatch):
    from moto.dynamodb.models.table import Table

    aws, _, _ = in_process
    ddb = _pages_table(aws, "pages-resized")
    asked = {"TableName": "pages-resized", "KeyConditionExpression": "pk = :p AND sk <= :a",
             "ExpressionAttributeValues": {":p": {"S": "big"}, ":a": {"S": "K#2"}}}  # fmt: skip
    ends = _answer(ddb.query, **asked)[1]  # three items fill the page: the next one ends it
    for after in range(3, 7):
        ddb.update_item(TableName="pages-resized",
                        Key={"pk": {"S": "big"}, "sk": {"S": f"K#{after}"}},
                        UpdateExpression="SET s = :s",
                        ExpressionAttributeValues={":s": {"S": "small"}})  # fmt: skip
    fast = _answer(ddb.query, **asked)
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    assert fast == _answer(ddb.query, **asked)
    assert "LastEvaluatedKey" in ends and "LastEvaluatedKey" not in fast[1]


def test_a_query_page_counts_a_replaced_item_s_size_anew(in_process, monkeypatch):
    """A put replaces an item with a new one (moto builds a new Item), so the sizes a query
    counted before hold for the items still stored: nothing clears them, nothing goes stale."""
    from moto.dynamodb.models.table import Table

    aws, _, _ = in_process
    ddb = _pages_table(aws, "pages-replaced")
    asked = {"TableName": "pages-replaced", "KeyConditionExpression": "pk = :p AND sk <= :a",
             "ExpressionAttributeValues": {":p": {"S": "big"}, ":a": {"S": "K#2"}}}  # fmt: skip
    ends = _answer(ddb.query, **asked)[1]  # sizes counted: three big items fill the page
    ddb.put_item(TableName="pages-replaced",
                 Item={"pk": {"S": "big"}, "sk": {"S": "K#3"}, "s": {"S": "small"}})  # fmt: skip
    ddb.batch_write_item(RequestItems={"pages-replaced": [
        {"PutRequest": {"Item": {"pk": {"S": "big"}, "sk": {"S": f"K#{i}"}, "s": {"S": "small"}}}}
        for i in range(4, 7)
    ]})  # fmt: skip
    fast = _answer(ddb.query, **asked)
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    assert fast == _answer(ddb.query, **asked)
    assert "LastEvaluatedKey" in ends and "LastEvaluatedKey" not in fast[1]


def test_a_query_takes_the_size_a_put_counted_and_an_update_counts_it_again(
    in_process, monkeypatch
):
    """Items a put or a batch write stored keep the size counted as they were built; an
    UpdateItem (which changes an item in place) and a transaction make the query count again."""
    from moto.dynamodb.models.table import Table

    aws, _, _ = in_process
    ddb = _pages_table(aws, "pages-written")
    asked = {"TableName": "pages-written", "KeyConditionExpression": "pk = :p",
             "ExpressionAttributeValues": {":p": {"S": "fresh"}}}  # fmt: skip
    at_write = hooks.FAST_PATHS[dynamodb_sizes.SIZE_AT_WRITE]
    ddb.batch_write_item(RequestItems={"pages-written": [
        {"PutRequest": {"Item": {"pk": {"S": "fresh"}, "sk": {"S": f"K#{i}"},
                                 "s": {"S": "x" * 300_000}}}}
        for i in range(4)
    ]})  # fmt: skip
    assert hooks.FAST_PATHS[dynamodb_sizes.SIZE_AT_WRITE] == at_write + 4
    full = _answer(ddb.query, **asked)
    assert "LastEvaluatedKey" in full[1]  # three big items fill the page
    kept = hooks.FAST_PATHS[dynamodb_sizes.KEPT_PAST_UPDATE]
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "pages-written",
                 "Item": {"pk": {"S": "fresh"}, "sk": {"S": "K#0"}, "s": {"S": "x"}}}},
        {"Update": {"TableName": "pages-written", "Key": {"pk": {"S": "fresh"}, "sk": {"S": "K#1"}},
                    "UpdateExpression": "SET s = :s", "ExpressionAttributeValues": {":s": {"S": "y"}}}},
    ])  # fmt: skip
    ddb.update_item(TableName="pages-written", Key={"pk": {"S": "fresh"}, "sk": {"S": "K#2"}},
                    UpdateExpression="SET s = :s", ExpressionAttributeValues={":s": {"S": "z"}})  # fmt: skip
    fast = _answer(ddb.query, **asked)
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    assert fast == _answer(ddb.query, **asked)
    assert "LastEvaluatedKey" not in fast[1] and len(fast[1]["Items"]) == 4
    assert hooks.FAST_PATHS[dynamodb_sizes.SIZE_AT_WRITE] == at_write + 4  # none since
    assert hooks.FAST_PATHS[dynamodb_sizes.KEPT_PAST_UPDATE] == kept + 2  # K#3's size stayed


_VALUES = {"s": {"S": "\u00fc"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}, "bs": {"BS": ["AA=="]},
           "ss": {"SS": ["a"]}, "ns": {"NS": ["1"]}, "t": {"BOOL": False}, "z": {"NULL": True},
           "l": {"L": [{"S": "x"}, {"M": {"k": {"N": "2"}}}]}, "e": {"S": ""},
           "m": {"M": {"in": {"L": [{"B": "AA=="}]}}}, "extra": {"S": "a", "Q": 1}}  # fmt: skip
_REQUESTS = [
    (
        "BatchWriteItem",
        {
            "RequestItems": {
                "t": [
                    {"PutRequest": {"Item": {"pk": {"S": "a"}, **_VALUES}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "b"}}}, "PutRequest": {"Item": {}}},
                ]
            },
            "ReturnConsumedCapacity": "TOTAL",
            "Unknown": [1],
        },
    ),
    (
        "Query",
        {
            "TableName": "t",
            "Limit": "40",
            "ScanIndexForward": False,
            "ExclusiveStartKey": {"pk": {"S": "a"}},
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "a"}},
            "Select": None,
        },
    ),
    (
        "CreateTable",
        {
            "TableName": "t",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5},
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Update": {"Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET a = :a"}}
            ]
        },
    ),
    ("ExportTableToPointInTime", {"TableArn": "a", "ExportTime": "2026-01-02T03:04:05Z"}),
    ("ExportTableToPointInTime", {"TableArn": "a", "ExportTime": 1767323045.5}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"B": "not base64!"}}}),  # moto's error
    ("PutItem", {"TableName": "t", "Item": [{"pk": {"S": "a"}}]}),  # not a map
    ("PutItem", {"TableName": "t", "Item": {"pk": "a"}}),  # not an attribute value
    ("PutItem", {"TableName": "t", "Item": {"pk": None}}),
    ("Query", {"TableName": "t", "Limit": "forty"}),
    ("Query", {"TableName": ["t"], "ExpressionAttributeValues": [":p"]}),
    ("Scan", "not an object"),
    ("Scan", None),
]


@pytest.mark.parametrize(("operation", "body"), _REQUESTS, ids=lambda v: str(v)[:40])
def test_a_request_reads_as_moto_s_own_parser_reads_it(in_process, operation, body):
    import json

    from moto.core import parse
    from moto.core.responses import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    raw = json.dumps(body).encode()

    def read(method):
        try:
            got = method(parse.JSONParser(model, map_type=dict), raw, model.input_shape)
        except Exception as error:  # moto's own error, whatever it is
            return "error", type(error), str(error)
        return "read", got, json.dumps(got, default=repr)  # the dump keeps the keys' order

    before = hooks.FAST_PATHS[dynamodb_parse.COMPILED_PARSE]
    fast = read(parse.JSONParser._parse_json_body)
    assert fast == read(parse.JSONParser._parse_json_body.__wrapped__)
    if fast[0] == "read" and isinstance(body, dict):
        assert hooks.FAST_PATHS[dynamodb_parse.COMPILED_PARSE] > before, (
            f"patch '{dynamodb_parse.TARGETS['parse_json_body'].patch}': moto's parser ran"
        )
