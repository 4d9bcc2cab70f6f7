"""Each role holds exactly the actions its function's code calls, plus what AWS does for it.

The first part is derived here from the code each zip holds: every AWS client method called in
those modules, mapped to its IAM action (a TransactWriteItems item kind to its item action). The
second part is the declared list `iam.ON_BEHALF`.
"""

from __future__ import annotations

import ast
import json
from importlib import resources

import boto3
import pytest

from s3sizer.stack import iam
from s3sizer.stack.model import FUNCTIONS, Names

ARNS = iam.Arns(Names("s3sizer"), "aws", "123456789012", "us-east-1", "tracked")
SERVICES = ("dynamodb", "s3", "lambda")
# Where an IAM action is not named after its API operation: HeadObject is authorised as
# s3:GetObject, and as s3:GetObjectVersion with a version id (AWS's HeadObject reference).
ACTION_OF_API = {
    "lambda:Invoke": ("lambda:InvokeFunction",),
    # With s3:ListBucket, a missing object or version answers 404 rather than 403 (ibid.).
    "s3:HeadObject": ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"),
    "s3:ListMultipartUploads": ("s3:ListBucketMultipartUploads",),
    "s3:ListParts": ("s3:ListMultipartUploadParts",),
    "s3:ListObjectVersions": ("s3:ListBucketVersions",),
}
# TransactWriteItems is authorised per item: the item kinds the code builds, as IAM actions.
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def api_names() -> dict[str, set[str]]:
    """Client method name -> IAM actions, for the services the functions use."""
    mapping: dict[str, set[str]] = {}
    for service in SERVICES:
        client = boto3.client(service, region_name="us-east-1")
        for method, api in client.meta.method_to_api_mapping.items():
            action = f"{service}:{api}"
            mapping.setdefault(method, set()).update(ACTION_OF_API.get(action, (action,)))
    return mapping


def called_actions(modules: tuple[str, ...]) -> set[str]:
    apis, found = api_names(), set()
    package = resources.files("s3sizer.lambdas")
    for module in modules:
        tree = ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                found |= apis.get(node.func.attr, set())
                # A paginator sends the operation it is named after.
                if node.func.attr == "get_paginator" and isinstance(node.args[0], ast.Constant):
                    found |= apis.get(node.args[0].value, set())
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEMS:
                        found.add(TRANSACT_ITEMS[key.value])
    # The transaction itself is authorised by its items, not as an action of its own.
    found.discard("dynamodb:TransactWriteItems")
    return found


def granted_actions(short: str, kms_key: str | None = None) -> set[str]:
    # With the uploads polled and a bucket whose storage classes are tracked.
    document = iam.policy_for(
        short, ARNS, kms_key=kms_key, polled=("tracked",), class_buckets=("tracked",),
        tracked=("tracked",),
    )  # fmt: skip
    return {action for s in document["Statement"] for action in s["Action"]}


def on_behalf() -> set[str]:
    return {action for actions in iam.ON_BEHALF.values() for action in actions}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.short)
def test_each_role_holds_what_its_code_calls_and_what_aws_does_for_it(spec):
    called = called_actions(spec.modules)
    granted = granted_actions(spec.short, kms_key="1234abcd-12ab-34cd-56ef-1234567890ab")

    assert called <= granted, f"{spec.short} calls {sorted(called - granted)} without a grant"
    assert granted - called <= on_behalf(), sorted(granted - called - on_behalf())


def test_the_tracker_never_gets_reconcile_s_writes():
    # Reconcile and the baseline run in the CLI with the user's credentials, not in the tracker.
    tracker = next(spec for spec in FUNCTIONS if spec.short == "size-tracking")

    assert "baseline" not in tracker.modules
    assert "dynamodb:BatchWriteItem" not in granted_actions("size-tracking")


def test_the_uploads_poll_is_granted_on_the_tracked_buckets_within_iam_s_size_limit():
    few = iam.policy_for("size-tracking", ARNS, polled=("tracked", "other"))
    poll = next(s for s in few["Statement"] if s["Sid"] == "PollUnfinishedUploads")
    assert poll["Resource"] == [
        "arn:aws:s3:::tracked", "arn:aws:s3:::tracked/*",
        "arn:aws:s3:::other", "arn:aws:s3:::other/*",
    ]  # fmt: skip
    assert "Condition" not in poll

    many = tuple(f"{i:04d}-" + "b" * 58 for i in range(1000))  # 63 characters each
    document = iam.policy_for("size-tracking", ARNS, polled=many)
    poll = next(s for s in document["Statement"] if s["Sid"] == "PollUnfinishedUploads")
    assert poll["Resource"] == ["arn:aws:s3:::*", "arn:aws:s3:::*/*"]
    assert poll["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}
    # IAM's quota on a role's inline policies: 10,240 characters, white space not counted.
    assert len(json.dumps(document, separators=(",", ":"))) < 10_240

    off = iam.policy_for("size-tracking", ARNS)
    assert all(s["Sid"] != "PollUnfinishedUploads" for s in off["Statement"])


def test_class_lookups_name_each_bucket_s_objects_and_fall_back_within_iam_s_limit():
    import json

    plain = iam.policy_for("size-tracking", ARNS)
    assert "s3:GetObject" not in json.dumps(plain)  # without --storage-classes: no S3 at all
    some = iam.policy_for("size-tracking", ARNS, class_buckets=("b1", "b2"))
    lookup, gone = some["Statement"][-2:]
    assert lookup["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert lookup["Resource"] == ["arn:aws:s3:::b1/*", "arn:aws:s3:::b2/*"]
    # HeadObject answers 404 for a version deleted before its lookup only with s3:ListBucket
    # (403 without), and the tracker counts a 404 as gone, a 403 as a failure.
    assert gone["Action"] == ["s3:ListBucket"]
    assert gone["Resource"] == ["arn:aws:s3:::b1", "arn:aws:s3:::b2"]
    many = [f"{i:03d}-" + "b" * 59 for i in range(1000)]  # S3's longest names
    wide = iam.policy_for("size-tracking", ARNS, class_buckets=tuple(many))
    assert len(json.dumps(wide, separators=(",", ":"))) <= iam.POLICY_CHARACTERS
    assert wide["Statement"][-2]["Resource"] == ["arn:aws:s3:::*/*"]
    assert wide["Statement"][-1]["Resource"] == ["arn:aws:s3:::*"]
    for statement in wide["Statement"][-2:]:
        assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}


def test_polled_and_class_buckets_together_stay_within_iam_s_limit():
    import json

    many = tuple(f"{i:03d}-" + "b" * 59 for i in range(1000))  # S3's longest names
    for count in (1, 10, 37, 38, 60, 113, 1000):
        both = iam.policy_for(
            "size-tracking", ARNS, polled=many[:count], class_buckets=many[:count]
        )
        assert len(json.dumps(both, separators=(",", ":"))) <= iam.POLICY_CHARACTERS, count


def test_the_tracker_may_list_the_versions_of_its_buckets_and_read_no_object():
    import json

    few = iam.policy_for("size-tracking", ARNS, tracked=("b2", "b1"))
    late = next(s for s in few["Statement"] if s["Sid"] == "ListLateCreatedVersions")
    assert late["Action"] == ["s3:ListBucketVersions"]
    assert late["Resource"] == ["arn:aws:s3:::b1", "arn:aws:s3:::b2"]
    assert "s3:GetObject" not in json.dumps(few)
    many = tuple(f"{i:03d}-" + "b" * 59 for i in range(1000))  # S3's longest names
    everything = iam.policy_for(
        "size-tracking", ARNS, polled=many, class_buckets=many, tracked=many
    )
    late = next(s for s in everything["Statement"] if s["Sid"] == "ListLateCreatedVersions")
    assert late["Resource"] == ["arn:aws:s3:::*"]
    assert late["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}
    for count in (1, 10, 20, 21, 38, 113, 1000):
        both = iam.policy_for(
            "size-tracking", ARNS, polled=many[:count], class_buckets=many[:count],
            tracked=many[:count],
        )  # fmt: skip
        assert len(json.dumps(both, separators=(",", ":"))) <= iam.POLICY_CHARACTERS, count
