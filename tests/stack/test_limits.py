"""AWS's size limits at 1,000 buckets, computed on the documents themselves (docs/scaling.md)."""

from __future__ import annotations

import json

import pytest

from s3sizer.stack import iam, routing
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import FUNCTION_NAMES, Names

ACCOUNT = "123456789012"
ARNS = Arns(Names("s3sizer"), "aws", ACCOUNT, "us-east-1", "first")
QUEUE = ARNS.queue("s3sizer-events")


def names(count: int, length: int = 63) -> list[str]:
    """`count` bucket names of `length` characters, as long as S3 allows by default."""
    return [f"{i:06d}-" + "b" * (length - 7) for i in range(count)]


def policy_size(buckets: list[str], rule: bool) -> tuple[int, dict]:
    document = routing.queue_policy(QUEUE, buckets, ARNS.rule if rule else None, ARNS, ACCOUNT)
    return len(routing.policy_text(document).encode()), document


def first_fallback(fits, length: int) -> int:
    """The smallest number of buckets whose document falls back."""
    count = 1
    while fits(names(count, length)):
        count += 1
    return count


@pytest.mark.parametrize("rule", [False, True])
def test_the_queue_policy_holds_at_1000_buckets(rule):
    size, document = policy_size(names(1000), rule)

    assert size <= routing.QUEUE_POLICY_BYTES
    assert len(document["Statement"]) <= routing.QUEUE_POLICY_STATEMENTS
    # Past the limit it admits this account's buckets only, by aws:SourceAccount.
    assert document["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_queue_policy_names_each_bucket_while_they_fit():
    _, document = policy_size(names(80), rule=True)

    assert len(document["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == 80


def test_where_the_queue_policy_falls_back():
    def fits(buckets):
        condition = policy_size(buckets, True)[1]["Statement"][0]["Condition"]
        return "ArnEquals" in condition

    # The figures docs/scaling.md states: 63-character names, and 20-character ones.
    assert first_fallback(fits, 63) == 95
    assert first_fallback(fits, 20) == 205


def test_the_rule_pattern_holds_at_1000_buckets():
    pattern = routing.rule_pattern(names(1000), ACCOUNT)

    assert len(json.dumps(pattern)) <= routing.EVENT_PATTERN_CHARS
    assert pattern["account"] == [ACCOUNT]
    assert "detail" not in pattern


def test_where_the_rule_pattern_falls_back():
    def fits(buckets):
        return "detail" in routing.rule_pattern(buckets, ACCOUNT)

    assert first_fallback(fits, 63) == 29
    assert first_fallback(fits, 20) == 81


@pytest.mark.parametrize("short", FUNCTION_NAMES)
def test_every_role_policy_holds_at_1000_buckets(short):
    """IAM counts a role's inline policies without white space, 10,240 characters at most; only
    the tracker's names other buckets than the first: those whose uploads it polls."""
    document = iam.policy_for(
        short, ARNS, "s3sizer-driver/", "arn:aws:kms:us-east-1:1:key/k", polled=names(1000)
    )

    limit = 10240 if short == "size-tracking" else 10240 // 4
    assert len(json.dumps(document, separators=(",", ":"))) < limit


def test_where_the_uploads_poll_grant_falls_back():
    def fits(buckets):
        document = iam.policy_for("size-tracking", ARNS, polled=buckets)
        size = len(json.dumps(document, separators=(",", ":")))
        assert size < 10240
        return "Condition" not in document["Statement"][-1]

    # The figures docs/scaling.md states: 63-character names, and 20-character ones.
    assert first_fallback(fits, 63) == 38
    assert first_fallback(fits, 20) == 82


def test_the_fallback_pattern_takes_this_accounts_s3_events_and_no_others():
    from moto.events.models import EventPattern

    pattern = EventPattern.load(json.dumps(routing.rule_pattern(names(1000), ACCOUNT)))
    event = {
        "source": "aws.s3",
        "account": ACCOUNT,
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "any-bucket"}},
    }

    assert pattern.matches_event(event)
    assert not pattern.matches_event({**event, "account": "210987654321"})
    assert not pattern.matches_event({**event, "detail-type": "Object Restore Completed"})
