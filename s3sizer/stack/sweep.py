"""Careful deletions: a role with its policies, a bucket's versions, exactly some keys."""

from __future__ import annotations

import os
from collections.abc import Callable

from s3sizer.errors import StackError


def delete_role(iam, role: str) -> None:
    try:
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    except iam.exceptions.NoSuchEntityException:
        return
    for name in names:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=role)


def empty_bucket(s3, bucket: str) -> None:
    """Delete every object version and delete marker, 1,000 per request."""
    _delete_versions(s3, bucket, "", lambda key: True)


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    """Delete every version of exactly these keys, and of nothing else."""
    wanted = set(keys)
    prefix = os.path.commonprefix(keys)  # noqa: RUF071 - S3 prefixes are strings, not paths
    _delete_versions(s3, bucket, prefix, wanted.__contains__)


def _delete_versions(s3, bucket: str, prefix: str, chosen) -> None:
    """List everything first, then delete: deleting while paging moves the pages under us.

    A writer still busy in the bucket can add versions meanwhile, so list again until a listing
    comes back with nothing chosen.
    """
    for _ in range(_ROUNDS):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for kind in ("Versions", "DeleteMarkers")
            for item in page.get(kind, [])
            if chosen(item["Key"])
        ]
        if not doomed:
            return
        for start in range(0, len(doomed), _DELETE_BATCH):
            batch = doomed[start : start + _DELETE_BATCH]
            errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if errors.get("Errors"):
                first = errors["Errors"][0]
                raise StackError(
                    f"S3 kept {first['Key']} of {bucket}: {first.get('Message')}",
                    "run teardown again",
                )


_DELETE_BATCH = 1000  # DeleteObjects' limit
_ROUNDS = 5


def delete_partition(
    ddb,
    table: str,
    pk: str,
    *,
    sleep,
    stop: Callable[[], bool] = lambda: False,
    on_deleted: Callable[[int], None] = lambda count: None,
) -> None:
    """Delete every item of one partition of the history table, 25 per BatchWriteItem, until
    ``stop()``; ``on_deleted(count)`` after each request."""
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ProjectionExpression": "pk, sk",
        "ConsistentRead": True,
    }
    while True:
        page = ddb.query(**kwargs)
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in page.get("Items", [])]
        for start in range(0, len(keys), 25):
            if stop():
                return
            pending = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            for attempt in range(30):
                left = ddb.batch_write_item(RequestItems={table: pending})
                pending = left.get("UnprocessedItems", {}).get(table, [])
                if not pending or stop():  # a throttled table: a Ctrl-C does not wait a minute
                    break
                sleep(min(0.05 * 2**attempt, 2.0))
            if pending and not stop():
                raise StackError(
                    f"DynamoDB left {len(pending)} deletions of {pk} unprocessed",
                    "run the same command again",
                )
            on_deleted(len(keys[start : start + 25]) - len(pending))
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
