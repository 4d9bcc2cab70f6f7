"""The contract of the patches that spare moto's per-request work (patches/moto_dispatch.py,
dynamodb_conditions.py and the stream records' images): each answers what moto's own code
answers, and is really taken (counted, never timed)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from s3sizer.emulator import Emulator
from s3sizer.emulator.patches import dynamodb_conditions, hooks, moto_dispatch

from .test_patch_contract import _client, _table


@pytest.fixture(scope="module")
def aws():
    with Emulator(port=0, retry_backoff=0.01) as emulator:
        yield emulator


def test_a_request_finds_its_service_in_moto_s_folder_as_listed_once(aws):
    from moto import backends

    before = hooks.FAST_PATHS[moto_dispatch.MODULES_LISTED_ONCE]
    _client(aws, "s3").list_buckets()
    _client(aws, "dynamodb").list_tables()
    assert hooks.FAST_PATHS[moto_dispatch.MODULES_LISTED_ONCE] > before, (
        f"patch '{moto_dispatch.TARGETS['modules'].patch}': moto listed its folder"
    )
    listed = backends.list_of_moto_modules()
    assert list(listed) == list(backends.list_of_moto_modules.__wrapped__())
    assert list(listed) == [], "one pass over the names, as moto's generator"


def test_a_handler_s_methods_are_moto_s_own_and_include_those_a_patch_added(aws):
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response
    from moto.sqs.responses import SQSResponse

    sqs = _client(aws, "sqs")
    url = sqs.create_queue(QueueName="dispatch-contract")["QueueUrl"]
    before = hooks.FAST_PATHS[moto_dispatch.METHODS_LISTED_ONCE]
    sqs.get_queue_attributes(QueueUrl=url)
    # An action only a patch of the emulator answers (moto lacks it) is still found.
    assert sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:123456789012:x")
    assert hooks.FAST_PATHS[moto_dispatch.METHODS_LISTED_ONCE] > before, (
        f"patch '{moto_dispatch.TARGETS['method_names'].patch}': moto listed a class per request"
    )
    own = responses.method_names_from_class.__wrapped__
    for handler in (DynamoHandler, S3Response, SQSResponse):
        names = responses.method_names_from_class(handler)
        assert names == own(handler)
        names.append("not-a-method")  # the caller's own list: the next answer is unchanged
        assert responses.method_names_from_class(handler) == own(handler)
    assert "list_message_move_tasks" in responses.method_names_from_class(SQSResponse)


def test_a_stream_record_s_images_stay_as_they_were_written(aws):
    ddb = _client(aws, "dynamodb")
    arn = ddb.create_table(
        TableName="images-contract", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]  # fmt: skip
    first = {"pk": {"S": "a"}, "m": {"M": {"l": {"L": [{"N": "1"}, {"SS": ["x"]}]}}},
             "b": {"B": b"\x00\x01"}, "ns": {"NS": ["1", "2"]}}  # fmt: skip
    ddb.put_item(TableName="images-contract", Item=first)
    ddb.update_item(
        TableName="images-contract", Key={"pk": {"S": "a"}},
        UpdateExpression="SET m.l[0] = :two ADD ns :three",
        ExpressionAttributeValues={":two": {"N": "2"}, ":three": {"NS": ["3"]}},
    )  # fmt: skip
    streams = _client(aws, "dynamodbstreams")
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    inserted, modified = streams.get_records(ShardIterator=iterator)["Records"]
    assert inserted["dynamodb"]["NewImage"] == first
    assert modified["dynamodb"]["OldImage"] == first
    assert modified["dynamodb"]["NewImage"]["m"] == {"M": {"l": {"L": [{"N": "2"}, {"SS": ["x"]}]}}}
    assert sorted(modified["dynamodb"]["NewImage"]["ns"]["NS"]) == ["1", "2", "3"]


_CONDITIONS = [
    ("attribute_not_exists(pk)", None, None),
    ("#r = :r", {"#r": "rev"}, {":r": {"N": "3"}}),
    ("#r = :r", {"#r": "rev"}, {":r": {"N": "4"}}),  # the same text, other values
    (
        "size(tags) > :n AND (begins_with(sk, :p) OR rev IN (:a, :b))",
        None,
        {":n": {"N": "1"}, ":p": {"S": "K#"}, ":a": {"N": "1"}, ":b": {"N": "3"}},
    ),
    ("NOT rev BETWEEN :low AND :high", None, {":low": {"N": "1"}, ":high": {"N": "2"}}),
    ("m.l[0] = :m", None, {":m": {"M": {"k": {"L": [{"S": "x"}]}}}}),
]
_ITEMS = [
    None,
    {"pk": {"S": "a"}, "sk": {"S": "K#1"}, "rev": {"N": "3"}, "tags": {"SS": ["x", "y"]}},
    {"pk": {"S": "a"}, "sk": {"S": "P#1"}, "rev": {"N": "4"},
     "m": {"M": {"l": {"L": [{"M": {"k": {"L": [{"S": "x"}]}}}]}}}},
]  # fmt: skip


@pytest.mark.parametrize(("expression", "names", "values"), _CONDITIONS, ids=lambda v: str(v)[:30])
def test_a_condition_parsed_once_answers_as_moto_s_own_parse(aws, expression, names, values):
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    def parsed(parse):
        parser = ConditionExpressionParser(expression, names, values)
        op = parse(parser)
        return op, parser.expr_attr_names_found, parser.expr_attr_values_found

    def answers(op) -> list:
        items = [
            None if attrs is None else Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
            for attrs in _ITEMS
        ]
        found = []
        for item in items:
            try:
                found.append(op.expr(item))
            except Exception as error:  # moto's own answer, whatever it is
                found.append((type(error), str(error)))
        return found

    own = parsed(ConditionExpressionParser.parse.__wrapped__)
    first = parsed(ConditionExpressionParser.parse)
    before = hooks.FAST_PATHS[dynamodb_conditions.PARSED_ONCE]
    again = parsed(ConditionExpressionParser.parse)
    assert hooks.FAST_PATHS[dynamodb_conditions.PARSED_ONCE] == before + 1, (
        f"patch '{dynamodb_conditions.TARGETS['parse'].patch}': parsed again"
    )
    for got in (first, again):
        assert got[1:] == own[1:]
        assert answers(got[0]) == answers(own[0])


def test_a_condition_that_does_not_parse_fails_each_time_as_moto_s_does(aws):
    ddb = _client(aws, "dynamodb")
    _table(ddb, "conditions-contract")
    from moto.dynamodb.comparisons import ConditionExpressionParser

    def error(parse) -> tuple:
        with pytest.raises(Exception) as raised:
            parse(ConditionExpressionParser("attribute_not_exists(pk) AND", None, None))
        return type(raised.value), str(raised.value)

    own = error(ConditionExpressionParser.parse.__wrapped__)
    assert error(ConditionExpressionParser.parse) == own
    assert error(ConditionExpressionParser.parse) == own  # not kept: failed again
    ddb.put_item(
        TableName="conditions-contract",
        Item={"pk": {"S": "a"}},
        ConditionExpression="attribute_not_exists(#p)",
        ExpressionAttributeNames={"#p": "pk"},
    )
    for _ in range(2):  # a name the expression does not use is refused every time
        with pytest.raises(ClientError, match="unused"):
            ddb.put_item(TableName="conditions-contract", Item={"pk": {"S": "b"}},
                         ConditionExpression="attribute_not_exists(#p)",
                         ExpressionAttributeNames={"#p": "pk", "#u": "unused"})  # fmt: skip
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.put_item(
            TableName="conditions-contract",
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(#p)",
            ExpressionAttributeNames={"#p": "pk"},
        )


def _recorder(aws, action: str) -> bytes:
    import urllib.request

    method = "GET" if action.startswith("download") else "POST"
    request = urllib.request.Request(
        f"{aws.endpoint_url}/moto-api/recorder/{action}", method=method
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
        return response.read()


def test_concurrent_requests_are_recorded_whole_and_the_download_holds_them_all(aws):
    import base64
    import json
    from concurrent.futures import ThreadPoolExecutor

    s3 = _client(aws, "s3")
    s3.create_bucket(Bucket="recorded-contract")
    bodies = {f"k{n}": bytes([n]) * (150_000 + n) for n in range(12)}
    _recorder(aws, "reset-recording")
    _recorder(aws, "start-recording")
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket="recorded-contract", Key=key,
                                                Body=bodies[key]), bodies))  # fmt: skip
    _recorder(aws, "stop-recording")
    entries = [json.loads(line) for line in _recorder(aws, "download-recording").splitlines()]
    puts = {e["url"].rsplit("/", 1)[1]: e for e in entries if e["method"] == "PUT"}
    assert puts.keys() == bodies.keys()
    for key, entry in puts.items():
        assert entry["body_encoded"] and base64.b64decode(entry["body"]) == bodies[key]
    assert s3.get_object(Bucket="recorded-contract", Key="k3")["Body"].read() == bodies["k3"]
    _recorder(aws, "reset-recording")
    assert _recorder(aws, "download-recording") == b""


def test_an_account_s_backends_are_moto_s_own_whether_found_or_created(aws):
    from moto.core.base_backend import BackendDict
    from moto.sns.models import sns_backends

    before = hooks.FAST_PATHS[moto_dispatch.BACKEND_WITHOUT_LOCK]
    _client(aws, "dynamodb").list_tables()
    assert hooks.FAST_PATHS[moto_dispatch.BACKEND_WITHOUT_LOCK] > before, (
        f"patch '{moto_dispatch.TARGETS['backend'].patch}': moto took its lock"
    )
    account = "210987654321"  # not seen yet: created by moto, under its lock
    assert account not in sns_backends
    created = sns_backends[account]
    assert account in sns_backends and sns_backends in BackendDict._instances
    assert sns_backends[account] is created
    assert BackendDict.__getitem__.__wrapped__(sns_backends, account) is created


@pytest.mark.parametrize(
    "value",
    ["2026-12-05T10:14:33.000Z", "1999-01-31T23:59:59.123Z", "2026-12-05T10:14:33Z",
     "2026-12-05T10:14:33.000+01:00", "2026-12-05", "1764929673", "2026-12-05T10:14:33.000Z\n",
     "\u0662\u0660\u0662\u0666-12-05T10:14:33.000Z", "2026-02-30T10:14:33.000Z",
     "2026-12-05T24:00:00.000Z"],
)  # fmt: skip
@pytest.mark.parametrize("form", ["iso8601", "iso8601_zeroed", "rfc822", "unixtimestamp"])
def test_a_timestamp_is_written_as_moto_s_own_serializer_writes_it(aws, value, form):
    from moto.core.serialize import TimestampSerializer

    serializer = TimestampSerializer(form)

    def written(convert):
        try:
            return convert(serializer, value, form)
        except Exception as error:  # moto's own answer, whatever it is
            return type(error), str(error)

    own = written(TimestampSerializer._convert_timestamp_to_str.__wrapped__)
    assert written(TimestampSerializer._convert_timestamp_to_str) == own


def test_a_listing_s_timestamps_are_moto_s_own_and_read_without_dateutil(aws):
    from datetime import UTC, datetime

    s3 = _client(aws, "s3")
    s3.create_bucket(Bucket="stamps-contract")
    for n in range(3):
        s3.put_object(Bucket="stamps-contract", Key=f"k{n}", Body=b"x")
    before = hooks.FAST_PATHS[moto_dispatch.STAMP_READ_DIRECTLY]
    contents = s3.list_objects_v2(Bucket="stamps-contract")["Contents"]
    assert hooks.FAST_PATHS[moto_dispatch.STAMP_READ_DIRECTLY] >= before + 3, (
        f"patch '{moto_dispatch.TARGETS['timestamps'].patch}': dateutil read each stamp"
    )
    for entry in contents:
        head = s3.head_object(Bucket="stamps-contract", Key=entry["Key"])
        assert entry["LastModified"] == head["LastModified"]
        assert abs(entry["LastModified"] - datetime.now(UTC)).total_seconds() < 600
