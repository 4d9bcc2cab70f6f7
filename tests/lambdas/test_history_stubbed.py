"""The exact requests of History.apply, and its retry when a transaction is cancelled (Stubber)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from s3sizer.lambdas import history
from s3sizer.lambdas.history import History

from .conftest import TABLE

PK = {"S": "B#b"}
TOTALS_KEY = {"pk": PK, "sk": {"S": "TOTALS"}}
KEY_KEY = {"pk": PK, "sk": {"S": "K#a b"}}
READ = {
    "TransactItems": [
        {"Get": {"TableName": TABLE, "Key": TOTALS_KEY}},
        {"Get": {"TableName": TABLE, "Key": KEY_KEY}},
    ]
}
TOTALS_ITEM = {
    **TOTALS_KEY,
    "total_size": {"N": "100"},
    "object_count": {"N": "4"},
    "max_size": {"N": "150"},
    "version": {"N": "7"},
    "updated_at": {"S": "2026-11-24T21:00:00.000Z"},
}
KEY_ITEM = {**KEY_KEY, "sequencer": {"S": "0A"}, "size": {"N": "30"}, "exists": {"BOOL": True}}
TS = "2026-11-24T21:06:05.123Z"


@pytest.fixture
def stubbed(aws_credentials, clock, sleeps):
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield stubber, History(TABLE, client, now=clock, sleep=sleeps.append)
        stubber.assert_no_pending_responses()


def expected_write(version: int, total: int, prev_total: int) -> dict:
    """The one transaction of an overwrite of "a b" (30 B -> 50 B) over totals at ``version``."""
    return {
        "TransactItems": [
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {
                        **KEY_KEY,
                        "sequencer": {"S": "0B"},
                        "size": {"N": "50"},
                        "exists": {"BOOL": True},
                    },
                    "ConditionExpression": "sequencer = :seq",
                    "ExpressionAttributeValues": {":seq": {"S": "0A"}},
                }
            },
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {
                        **TOTALS_KEY,
                        "total_size": {"N": str(total)},
                        "object_count": {"N": "4"},
                        "max_size": {"N": "150"},
                        "version": {"N": str(version + 1)},
                        "updated_at": {"S": TS},
                    },
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(version)}},
                    "ExpressionAttributeNames": {"#v": "version"},
                }
            },
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {
                        "pk": PK,
                        "sk": {"S": f"H#{TS}#{version + 1:012d}"},
                        "ts": {"S": TS},
                        "total_size": {"N": str(total)},
                        "object_count": {"N": "4"},
                        "prev_total_size": {"N": str(prev_total)},
                        "prev_object_count": {"N": "4"},
                        "event": {"S": "ObjectCreated:Put"},
                        "key": {"S": "a b"},
                    },
                }
            },
        ]
    }


def read_response(totals_item=TOTALS_ITEM, key_item=KEY_ITEM) -> dict:
    return {"Responses": [{"Item": totals_item}, {"Item": key_item}]}


def test_an_uncontended_record_is_one_read_and_one_conditional_write(stubbed):
    stubber, hist = stubbed
    stubber.add_response("transact_get_items", read_response(), READ)
    stubber.add_response("transact_write_items", {}, expected_write(7, 120, 100))
    assert hist.apply("b", "a b", "0b", 50, event="ObjectCreated:Put") == "applied"


def test_a_cancelled_transaction_rereads_and_retries(stubbed, sleeps):
    # GIVEN a concurrent writer that bumps the totals between our read and our write
    stubber, hist = stubbed
    stubber.add_response("transact_get_items", read_response(), READ)
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled [None, ConditionalCheckFailed, None]",
        expected_params=expected_write(7, 120, 100),
    )
    moved_on = {**TOTALS_ITEM, "total_size": {"N": "110"}, "version": {"N": "8"}}
    stubber.add_response("transact_get_items", read_response(totals_item=moved_on), READ)
    stubber.add_response("transact_write_items", {}, expected_write(8, 130, 110))
    # WHEN the record is applied THEN it lands on top of the other writer's totals
    assert hist.apply("b", "a b", "0B", 50, event="ObjectCreated:Put") == "applied"
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.05


def test_a_retry_that_finds_its_sequencer_applied_is_a_duplicate(stubbed):
    stubber, hist = stubbed
    stubber.add_response("transact_get_items", read_response(), READ)
    stubber.add_client_error("transact_write_items", "TransactionCanceledException")
    applied = {**KEY_ITEM, "sequencer": {"S": "0B"}}
    stubber.add_response("transact_get_items", read_response(key_item=applied), READ)
    assert hist.apply("b", "a b", "0B", 50, event="ObjectCreated:Put") == "duplicate"


def test_retries_are_bounded_and_jittered(stubbed, sleeps):
    stubber, hist = stubbed
    for _ in range(history.MAX_ATTEMPTS):
        stubber.add_response("transact_get_items", read_response(), READ)
        stubber.add_client_error("transact_write_items", "TransactionCanceledException")
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        hist.apply("b", "a b", "0B", 50, event="ObjectCreated:Put")
    assert len(sleeps) == history.MAX_ATTEMPTS - 1
    assert all(0 <= s <= min(2.0, 0.05 * 2**i) for i, s in enumerate(sleeps))


def test_other_errors_propagate_at_once(stubbed, sleeps):
    stubber, hist = stubbed
    stubber.add_client_error("transact_get_items", "ProvisionedThroughputExceededException")
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        hist.apply("b", "a b", "0B", 50, event="ObjectCreated:Put")
    assert sleeps == []
