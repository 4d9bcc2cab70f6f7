"""The checks S3 makes when a notification configuration is written.

- No two entries may share an event type for keys that both could match: S3 refuses that with
  InvalidArgument, "Configurations overlap..." when neither entry filters keys, and
  "Configuration is ambiguously defined..." when their filters overlap.
- Each destination must be reachable: a function whose resource policy lets s3.amazonaws.com
  call lambda:InvokeFunction, a queue whose policy lets it call sqs:SendMessage (for this
  bucket, when the statement names a source), or S3 answers "Unable to validate the following
  destination configurations".
"""

from __future__ import annotations

import fnmatch
import json
from itertools import combinations

OVERLAP = (
    "Configurations overlap. Configurations on the same bucket cannot share a common event type."
)
AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
    "prefixes are overlapping for the same event type."
)


def validate(config, bucket) -> None:
    if config is None:
        return
    refuse_overlaps(config)
    refused = [n.arn for n in config.cloud_function if not _s3_may_invoke(n.arn, bucket)]
    refused += [n.arn for n in config.queue if not _s3_may_send(n.arn, bucket)]
    if refused:
        raise _error(
            "Unable to validate the following destination configurations: "
            + ", ".join(refused)
            + " (a function must allow s3.amazonaws.com to call lambda:InvokeFunction, "
            "a queue's policy must allow it to call sqs:SendMessage)"
        )


def refuse_overlaps(config) -> None:
    entries = [*config.topic, *config.queue, *config.cloud_function]
    for first, second in combinations(entries, 2):
        if not any(_events_overlap(a, b) for a in first.events for b in second.events):
            continue
        (prefix1, suffix1), (prefix2, suffix2) = _filters(first), _filters(second)
        if not (prefix1 or suffix1 or prefix2 or suffix2):
            raise _error(OVERLAP)
        prefixes = prefix1.startswith(prefix2) or prefix2.startswith(prefix1)
        suffixes = suffix1.endswith(suffix2) or suffix2.endswith(suffix1)
        if prefixes and suffixes:
            raise _error(AMBIGUOUS)


def _events_overlap(first: str, second: str) -> bool:
    if first == second:
        return True
    for wildcard, other in ((first, second), (second, first)):
        if wildcard.endswith(":*") and other.startswith(wildcard[:-1]):
            return True
    return False


def _filters(entry) -> tuple[str, str]:
    rules = ((entry.filters or {}).get("S3Key") or {}).get("FilterRule") or []
    if isinstance(rules, dict):
        rules = [rules]
    values = {rule["Name"].lower(): rule["Value"] for rule in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def _s3_may_invoke(function_arn: str, bucket) -> bool:
    from moto.awslambda.utils import get_backend

    try:
        account_id, region = function_arn.split(":")[4], function_arn.split(":")[3]
        statements = get_backend(account_id, region).get_function(function_arn).policy.statements
    except Exception:
        return False
    actions = ("lambda:InvokeFunction", "lambda:*", "*")
    return any(_allows(s, actions, bucket) for s in statements)


def _s3_may_send(queue_arn: str, bucket) -> bool:
    from moto.sqs.models import sqs_backends

    try:
        account_id, region, name = (
            queue_arn.split(":")[4],
            queue_arn.split(":")[3],
            queue_arn.split(":")[5],
        )
        policy = sqs_backends[account_id][region].get_queue(name).policy
    except Exception:
        return False
    statements = json.loads(policy).get("Statement", []) if policy else []
    if isinstance(statements, dict):
        statements = [statements]
    actions = ("sqs:SendMessage", "sqs:*", "*")
    return any(_allows(s, actions, bucket) for s in statements)


def _allows(statement: dict, actions: tuple[str, ...], bucket) -> bool:
    """Whether the statement lets S3 act for this bucket (any source, or this bucket's)."""
    if statement.get("Effect", "Allow") != "Allow":
        return False
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        principals = principal.get("Service") or principal.get("AWS") or []
    else:
        principals = principal
    principals = [principals] if isinstance(principals, str) else principals
    if not set(principals) & {"s3.amazonaws.com", "*"}:
        return False
    wanted = statement.get("Action") or []
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not any(a.lower() in (w.lower() for w in wanted) for a in actions):
        return False
    for _operator, conditions in (statement.get("Condition") or {}).items():
        for name, value in conditions.items():
            values = [value] if isinstance(value, str) else value
            if name.lower() == "aws:sourcearn" and not any(
                fnmatch.fnmatchcase(bucket.arn, v) for v in values
            ):
                return False
            if name.lower() == "aws:sourceaccount" and bucket.account_id not in values:
                return False
    return True


def _error(message: str):
    from moto.s3.exceptions import S3ClientError

    return S3ClientError("InvalidArgument", message)
