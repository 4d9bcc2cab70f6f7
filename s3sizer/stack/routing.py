"""What every tracked bucket shares: the queue's policy and the EventBridge rule, sized so that
they hold at any number of buckets (docs/scaling.md, "Many buckets: AWS's size limits").

While a list of the buckets fits AWS's limit, the policy and the rule name each bucket; past it
they fall back to a form that admits only this account's buckets (`aws:SourceAccount`, and a
rule on `account`), and the tracker ignores (and counts) the events of buckets it does not
track: a bucket without settings items (stack/estate.py).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from s3sizer.stack.model import BucketSettings

if TYPE_CHECKING:
    from s3sizer.stack.iam import Arns

# SQS: a queue policy holds at most 8,192 bytes and 20 statements (SQS policy quotas).
QUEUE_POLICY_BYTES = 8192
QUEUE_POLICY_STATEMENTS = 20
# EventBridge: an event pattern holds at most 2,048 characters by default (EventBridge quotas).
EVENT_PATTERN_CHARS = 2048
EVENTBRIDGE_DETAIL_TYPES = ["Object Created", "Object Deleted"]
# Only for the buckets whose storage classes are tracked (records.py reads its class).
CLASS_DETAIL_TYPE = "Object Storage Class Changed"
BUCKET_SENDERS_SID = "FromTrackedBuckets"


def on_route(buckets: Iterable[BucketSettings], route: str) -> list[str]:
    return sorted(b.bucket for b in buckets if b.delivery == route)


def policy_text(document: dict | None) -> str:
    """The text sent to SQS, whose size is what the limit counts."""
    return json.dumps(document, sort_keys=True) if document else ""


def queue_policy(
    queue_arn: str, sqs_buckets: list[str], rule_arn: str | None, arns: Arns, account: str
) -> dict | None:
    """Only the queue's senders may send: the buckets on the sqs route, and the stack's rule."""
    statements = [bucket_senders(queue_arn, sqs_buckets, arns, account)] if sqs_buckets else []
    statements += [rule_sender(queue_arn, rule_arn)] if rule_arn else []
    return fitted_policy(statements, account)


def bucket_senders(queue_arn: str, buckets: list[str], arns: Arns, account: str) -> dict:
    """S3 may send the events of exactly these buckets of this account."""
    bucket_arns = [f"arn:{arns.partition}:s3:::{name}" for name in buckets]
    return _allow(
        BUCKET_SENDERS_SID,
        "s3.amazonaws.com",
        queue_arn,
        {
            "ArnEquals": {"aws:SourceArn": bucket_arns},
            "StringEquals": {"aws:SourceAccount": account},
        },
    )


def rule_sender(queue_arn: str, rule_arn: str) -> dict:
    """EventBridge may send what the stack's rule matched."""
    return _allow(
        "FromTheRule", "events.amazonaws.com", queue_arn, {"ArnEquals": {"aws:SourceArn": rule_arn}}
    )


def fitted_policy(statements: list[dict], account: str) -> dict | None:
    """The queue's policy of these statements (None without any), within SQS's size limit."""
    if not statements:
        return None
    document = {"Version": "2012-10-17", "Statement": statements}
    if len(policy_text(document).encode()) > QUEUE_POLICY_BYTES:
        # Too many buckets to name: any bucket of this account may send; the tracker ignores
        # the events of those it does not track.
        for statement in statements:
            if statement["Sid"] == BUCKET_SENDERS_SID:
                statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return document


def rule_pattern(eb_buckets: list[str], account: str, class_buckets: list[str] = ()) -> dict:
    """S3's events of the buckets on the eventbridge route (and the class changes of those
    whose storage classes are tracked, an ``$or``), or of all this account's buckets once their
    names no longer fit the pattern's limit."""
    pattern = {
        "source": ["aws.s3"],
        "detail-type": EVENTBRIDGE_DETAIL_TYPES,
        "detail": {"bucket": {"name": eb_buckets}},
    }
    if class_buckets:
        pattern = {
            "source": ["aws.s3"],
            "$or": [
                {k: v for k, v in pattern.items() if k != "source"},
                {"detail-type": [CLASS_DETAIL_TYPE], "detail": {"bucket": {"name": class_buckets}}},
            ],
        }
    if len(json.dumps(pattern)) <= EVENT_PATTERN_CHARS:
        return pattern
    types = EVENTBRIDGE_DETAIL_TYPES + ([CLASS_DETAIL_TYPE] if class_buckets else [])
    return {"source": ["aws.s3"], "account": [account], "detail-type": types}


def _allow(sid: str, service: str, queue_arn: str, condition: dict) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": condition,
    }


def sends_from(policy_text_found: str | None, service: str, source_arn: str) -> bool:
    """Whether a queue's policy lets ``service`` send for ``source_arn`` (its Allow statements
    only; `*` and `?` in an ArnLike value match as IAM matches them)."""
    senders = allowed_senders(policy_text_found, service)
    return senders is None or any(fnmatch.fnmatchcase(source_arn, s) for s in senders)


def allowed_senders(policy_text_found: str | None, service: str) -> set[str] | None:
    """The source ARNs (or ARN patterns) a queue's policy lets ``service`` send from: None when
    it lets that service send from anywhere (a policy on `aws:SourceAccount` alone), an empty
    set when it lets it send nothing (no policy, or no statement for it)."""
    document = json.loads(policy_text_found or "{}")
    found: set[str] = set()
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        services = _listed(principal.get("Service") if isinstance(principal, dict) else None)
        if (
            statement.get("Effect") != "Allow"
            or service not in services
            or not {"sqs:SendMessage", "sqs:*", "*"} & set(_listed(statement.get("Action")))
        ):
            continue
        condition = statement.get("Condition", {})
        arns = [
            v
            for test in ("ArnEquals", "ArnLike", "StringEquals", "StringLike")
            for v in _listed(condition.get(test, {}).get("aws:SourceArn"))
        ]
        if not arns:
            return None
        found.update(arns)
    return found


def _listed(value) -> list:
    return [] if value is None else [value] if isinstance(value, str) else list(value)
