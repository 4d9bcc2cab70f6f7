"""DynamoDB in the emulator: transactions are atomic and serialized, as on AWS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.emulator


def _table(emulator, name: str):
    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    return ddb


def _key(sk: str) -> dict:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(emulator):
    # GIVEN an existing item and an absent one
    ddb = _table(emulator, "ddb-rollback")
    ddb.put_item(TableName="ddb-rollback", Item={**_key("kept"), "n": {"N": "1"}})
    # WHEN a transaction changes both, then fails its last condition
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "ddb-rollback", "Item": {**_key("new"), "n": {"N": "9"}}}},
            {"Update": {"TableName": "ddb-rollback", "Key": _key("kept"),
                        "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "2"}}}},
            {"ConditionCheck": {"TableName": "ddb-rollback", "Key": _key("missing"),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])  # fmt: skip
    # THEN neither change is visible
    assert "Item" not in ddb.get_item(TableName="ddb-rollback", Key=_key("new"))
    kept = ddb.get_item(TableName="ddb-rollback", Key=_key("kept"))["Item"]
    assert kept["n"] == {"N": "1"}


def test_concurrent_conditional_transactions_lose_no_update(emulator):
    # GIVEN a counter that six clients increment with optimistic, version-checked transactions
    ddb = _table(emulator, "ddb-counter")
    ddb.put_item(TableName="ddb-counter", Item={**_key("counter"), "version": {"N": "0"}})

    def increment_ten_times(client_number: int) -> None:
        client = emulator.client("dynamodb")
        for step in range(10):
            while True:
                version = int(client.get_item(TableName="ddb-counter", Key=_key("counter"))[
                    "Item"]["version"]["N"])  # fmt: skip
                try:
                    client.transact_write_items(TransactItems=[
                        {"Update": {"TableName": "ddb-counter", "Key": _key("counter"),
                                    "UpdateExpression": "SET version = :new",
                                    "ConditionExpression": "version = :old",
                                    "ExpressionAttributeValues": {":new": {"N": str(version + 1)},
                                                                  ":old": {"N": str(version)}}}},
                        {"Put": {"TableName": "ddb-counter",
                                 "Item": {**_key(f"log#{client_number}#{step}"),
                                          "version": {"N": str(version + 1)}}}},
                    ])  # fmt: skip
                    break
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "TransactionCanceledException"

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(increment_ten_times, range(6)))
    # THEN every increment landed exactly once, with one log item each and no version twice
    counter = ddb.get_item(TableName="ddb-counter", Key=_key("counter"))["Item"]
    assert counter["version"] == {"N": "60"}
    logs = ddb.query(
        TableName="ddb-counter",
        KeyConditionExpression="pk = :p AND begins_with(sk, :log)",
        ExpressionAttributeValues={":p": {"S": "p"}, ":log": {"S": "log#"}},
    )["Items"]
    assert sorted(int(item["version"]["N"]) for item in logs) == list(range(1, 61))
