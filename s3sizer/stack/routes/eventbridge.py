"""The eventbridge route: the bucket's EventBridge delivery (which overlaps no other entry) and
one rule, for every bucket on the route, whose target is the stack's queue. Chosen when another
entry already takes our event types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3sizer.stack import routing
from s3sizer.stack import steps as st
from s3sizer.stack.model import BucketSettings
from s3sizer.stack.routes.queue import QueueRoute

if TYPE_CHECKING:
    from s3sizer.stack.iam import Arns
    from s3sizer.stack.state import Stack

# EventBridge retries delivery to a target for up to 24 hours, then gives it to the target's DLQ.
RULE_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}


@dataclass(frozen=True)
class EventBridgeRoute(QueueRoute):
    def owns_eventbridge(self, owned_before: bool, current: dict) -> bool:
        return owned_before or "EventBridgeConfiguration" not in current

    def notifications(self, arns: Arns, own_id: str, storage_classes: bool) -> dict:
        return {"EventBridgeConfiguration": {}}

    def queue_statements(
        self, queue_arn: str, buckets: list[str], arns: Arns, account: str
    ) -> list[dict]:
        return [routing.rule_sender(queue_arn, arns.rule)] if buckets else []

    def dead_letter_statements(self, dlq_arn: str, buckets: list[str], arns: Arns) -> list[dict]:
        """The rule's target gives what it could not deliver to the DLQ itself."""
        return [routing.rule_sender(dlq_arn, arns.rule)] if buckets else []

    def shared_steps(self, stack: Stack, buckets: list[BucketSettings], arns: Arns, tags) -> list:
        """One rule for every bucket on the route; none when no bucket is on it."""
        eb_buckets = routing.on_route(buckets, self.name)
        rule = stack.rule()
        targets = stack.rule_targets() if rule is not None else None
        if not eb_buckets:
            if rule is None:
                return []
            return [st.DeleteRule(stack.names.rule, tuple(t["Id"] for t in targets or []))]
        classes = [
            b for b in eb_buckets if any(s.bucket == b and s.storage_classes for s in buckets)
        ]
        pattern = routing.rule_pattern(eb_buckets, stack.aws.account_id, classes)
        target = {
            "Id": stack.names.rule_target_id,
            "Arn": arns.queue(stack.names.queue),
            "DeadLetterConfig": {"Arn": arns.queue(stack.names.dead_letter_queue)},
            "RetryPolicy": RULE_RETRY_POLICY,
        }
        out: list = []
        pattern_found = json.loads((rule or {}).get("EventPattern") or "{}")
        if rule is None or pattern_found != pattern or rule.get("State") != "ENABLED":
            description = f"S3 events of the buckets of s3sizer stack {stack.names.stack}"
            out.append(st.PutRule(stack.names.rule, pattern, description, tags))
        if not targets or _target_differs(targets, target):
            out.append(st.PutTarget(stack.names.rule, target))
        return out

    def unrouted(self, stack: Stack, buckets: list[str], arns: Arns) -> list[str]:
        """Those of ``buckets`` whose events the stack's rule does not bring to its queue: all
        of them while the rule is gone, disabled, without that target, or not let in by the
        queue's policy; else those its pattern does not name (an account-wide pattern names
        them all)."""
        if not buckets:
            return []
        rule = stack.rule()
        targets = stack.rule_targets() if rule is not None else None
        queue = arns.queue(stack.names.queue)
        if rule is None or rule.get("State") == "DISABLED":
            return list(buckets)
        if not any(t.get("Arn") == queue for t in targets or []):
            return list(buckets)
        url = stack.queue_url(stack.names.queue)
        policy = stack.queue_attributes(url).get("Policy") if url else None
        if not routing.sends_from(policy, "events.amazonaws.com", arns.rule):
            return list(buckets)  # the queue's policy no longer lets the rule send
        named = _bucket_names(json.loads(rule.get("EventPattern") or "{}"))
        return [] if named is None else [b for b in buckets if b not in named]

    def teardown_steps(self, stack: Stack) -> list:
        targets = stack.rule_targets()
        if targets is None:
            return []
        return [st.DeleteRule(stack.names.rule, tuple(t["Id"] for t in targets))]


def _target_differs(targets: list[dict], wanted: dict) -> bool:
    found = next((t for t in targets if t.get("Id") == wanted["Id"]), None)
    return found is None or any(found.get(k) != v for k, v in wanted.items())


def _bucket_names(pattern: dict) -> set[str] | None:
    """The buckets a rule's pattern (as routing.rule_pattern writes it) takes the object events
    of; None when it takes the whole account's."""
    if "account" in pattern:
        return None
    branch = pattern["$or"][0] if "$or" in pattern else pattern
    return set(branch.get("detail", {}).get("bucket", {}).get("name", []))
