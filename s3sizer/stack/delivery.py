"""How S3 events reach the tracker: the planner's decisions for the three routes.

- `sqs` (the default): a QueueConfigurations entry sends the bucket's events to the stack's
  queue; an event source mapping feeds the tracker in batches; failures wait in the DLQ.
- `eventbridge`: the bucket's EventBridge delivery (which overlaps no other entry) and a rule
  whose target is the same queue. Chosen when another entry already takes our event types.
- `direct`: the original S3 -> Lambda entry, with an on-failure destination to the DLQ.
"""

from __future__ import annotations

import json

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import routing
from s3sizer.stack import steps as st
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import (
    CLASS_EVENTS,
    FUNCTIONS,
    TRACKED_EVENTS,
    BucketSettings,
    StackConfig,
)
from s3sizer.stack.routes import DEFAULT, EVENTBRIDGE, ROUTES, SQS, WHEN_TAKEN
from s3sizer.stack.state import Stack

ENTRY_KINDS = {
    "QueueConfigurations": "QueueArn",
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
    "TopicConfigurations": "TopicArn",
}
BATCHING_WINDOW_SECONDS = 1
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_SECONDS = 14 * 86400  # the most SQS allows
# AWS advises a visibility timeout of six times the function's timeout, plus the batching window.
VISIBILITY_FACTOR = 6
# EventBridge retries delivery to a target for up to 24 hours, then gives it to the target's DLQ.
RULE_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
DIRECT_RETRY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600}


def families(events) -> set[tuple[str, str]]:
    """("ObjectCreated", "*") for "s3:ObjectCreated:*"; a bare family counts as a wildcard."""
    parts = [event.removeprefix("s3:").split(":") for event in events]
    return {(p[0], p[1] if len(p) > 1 else "*") for p in parts}


def overlapping_entry(notifications: dict, own_id: str, classes: bool = False) -> dict | None:
    """Another entry for one of our event types: S3 refuses a second one on overlapping keys.

    Our entry has no key filter, so any other entry for one of the same event types overlaps.
    With the bucket's storage classes tracked, its transitions are ours too.
    """
    ours = families(TRACKED_EVENTS + (CLASS_EVENTS if classes else ()))
    for kind in ENTRY_KINDS:
        for entry in notifications.get(kind, []):
            if entry.get("Id") == own_id:
                continue
            theirs = families(entry.get("Events", []))
            if any(
                (f == g and "*" in (t, u)) or (f, t) == (g, u) for f, t in ours for g, u in theirs
            ):
                return entry
    return None


def choose_route(asked: str | None, config: StackConfig, notifications: dict, own_id: str):
    """(route, reason): what was asked, else what the stack uses, else the best that fits."""
    classes = bool(getattr(config, "storage_classes", False))
    taken = overlapping_entry(notifications, own_id, classes)
    if asked and not ROUTES[asked].coexists and taken is not None:
        raise _taken_error(
            config.bucket,
            taken,
            f"use --delivery {WHEN_TAKEN.name}, which coexists with every other entry",
        )
    if asked:
        return asked, "as asked with --delivery"
    if config.delivery and (ROUTES[config.delivery].coexists or taken is None):
        return config.delivery, "as the last deploy chose"
    if taken is not None:
        events = ", ".join(taken.get("Events", []))
        return WHEN_TAKEN.name, f"entry {taken.get('Id')!r} already takes {events}"
    return DEFAULT.name, "the default"


def _taken_error(bucket: str, taken: dict, fix: str) -> StackError:
    return StackError(
        f"Bucket {bucket!r} already sends {', '.join(taken.get('Events', []))} to another "
        f"destination (entry {taken.get('Id')!r}); S3 allows one destination per event type "
        "and key",
        fix,
    )


def desired_notifications(
    current: dict,
    route: str,
    config: StackConfig,
    arns: Arns,
    own_id: str,
    eb_owned: bool,
    storage_classes: bool | None = None,
) -> dict:
    """The whole configuration to write: every other entry kept as it is, ours as the route wants
    (with transitions where the bucket's storage classes are tracked: ``storage_classes``, else
    as ``config`` says)."""
    wanted = {
        kind: [e for e in current.get(kind, []) if e.get("Id") != own_id] for kind in ENTRY_KINDS
    }
    chosen = ROUTES[route]
    if storage_classes is None:
        storage_classes = bool(getattr(config, "storage_classes", False))
    entry = chosen.entry(arns, own_id, storage_classes)
    if entry is not None:
        wanted[chosen.entry_kind].append(entry)
    out = {kind: entries for kind, entries in wanted.items() if entries}
    if chosen.eventbridge or ("EventBridgeConfiguration" in current and not eb_owned):
        out["EventBridgeConfiguration"] = {}
    return out


def without_ours(current: dict, own_id: str, eb_owned: bool) -> dict:
    """The configuration as it was before s3sizer: our entry gone, EventBridge only if ours."""
    out = {
        kind: [e for e in current.get(kind, []) if e.get("Id") != own_id]
        for kind in ENTRY_KINDS
        if current.get(kind)
    }
    out = {kind: entries for kind, entries in out.items() if entries}
    if "EventBridgeConfiguration" in current and not eb_owned:
        out["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
    return out


def restore_steps(stack: Stack, settings: BucketSettings) -> list[st.Step]:
    """The bucket's notification configuration as it was before s3sizer."""
    if stack.bucket_state(settings.bucket) != "mine":
        return []
    current = stack.notification_configuration(settings.bucket)
    restored = without_ours(current, stack.names.notification_id, settings.eventbridge_owned)
    if same_notifications(current, restored):
        return []
    return [st.PutNotification(settings.bucket, restored, "remove s3sizer's delivery", True)]


def same_delivery(a: dict, b: dict) -> bool:
    """The same, but for the lifecycle transitions: creates and removes were delivered
    throughout, so a change of the transitions alone needs no baseline of the sizes."""

    def without_transitions(config: dict) -> dict:
        return {
            kind: [
                {**e, "Events": [x for x in e.get("Events", []) if x not in CLASS_EVENTS]}
                for e in entries
            ]
            if kind in ENTRY_KINDS
            else entries
            for kind, entries in config.items()
        }

    return same_notifications(without_transitions(a), without_transitions(b))


def same_notifications(a: dict, b: dict) -> bool:
    def norm(config: dict) -> dict:
        out = {}
        for kind in ENTRY_KINDS:
            entries = [{**e, "Events": sorted(e.get("Events", []))} for e in config.get(kind, [])]
            out[kind] = sorted(entries, key=lambda e: json.dumps(e, sort_keys=True))
        out["EventBridge"] = "EventBridgeConfiguration" in config
        return out

    return norm(a) == norm(b)


def transition_routing_steps(stack: Stack, config: StackConfig, tags) -> list[st.Step]:
    """On a deployed stack, the first bucket's lifecycle transitions reach the tracker (or stop)
    as soon as its storage classes are tracked (or not), before the listing that fills them."""
    arns, own_id = stack.arns(config), stack.names.notification_id
    current = stack.notification_configuration(config.bucket)
    taken = overlapping_entry(current, own_id, config.storage_classes)
    if not ROUTES[config.delivery].coexists and taken is not None:
        # S3 would refuse the entry with the transitions: refused here, before any step runs.
        raise _taken_error(
            config.bucket,
            taken,
            f"run `s3sizer deploy --delivery {WHEN_TAKEN.name}` first, which coexists with "
            "every other entry",
        )
    wanted = desired_notifications(
        current, config.delivery, config, arns, own_id, config.eventbridge_owned
    )
    steps: list[st.Step] = []
    if not same_notifications(current, wanted):
        steps.append(st.PutNotification(config.bucket, wanted, f"delivery {config.delivery}"))
    return steps + rule_steps(stack, stack.tracked(config), arns, tags)


def queue_steps(stack: Stack, config: StackConfig, buckets, arns: Arns, tags) -> list:
    """The DLQ and the main queue, created or brought to the attributes the routes need."""
    names, account = stack.names, stack.aws.account_id
    dlq_arn, queue_arn = arns.queue(names.dead_letter_queue), arns.queue(names.queue)
    tracker = next(spec for spec in FUNCTIONS if spec.short == "size-tracking")
    tracker_timeout = config.timeout_of(tracker)  # the spec's default, or the user's setting
    on_rule = bool(routing.on_route(buckets, EVENTBRIDGE.name))
    rule_arn = arns.rule if on_rule else None  # the rule's target DLQ, too
    sqs_buckets = routing.on_route(buckets, SQS.name)
    wanted = {
        names.dead_letter_queue: {
            "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
            "Policy": routing.policy_text(
                routing.queue_policy(dlq_arn, [], rule_arn, arns, account)
            ),
        },
        names.queue: {
            "VisibilityTimeout": str(VISIBILITY_FACTOR * tracker_timeout + BATCHING_WINDOW_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
            "Policy": routing.policy_text(
                routing.queue_policy(queue_arn, sqs_buckets, rule_arn, arns, account)
            ),
        },
    }
    out: list = []
    for name, attributes in wanted.items():
        url = stack.queue_url(name)
        if url is None:
            created = {k: v for k, v in attributes.items() if v}
            out.append(st.CreateQueue(name, created, tags))
            continue
        have = stack.queue_attributes(url)
        if any(not _same_attribute(k, have.get(k, ""), v) for k, v in attributes.items()):
            out.append(st.SetQueueAttributes(name, url, attributes))
    return out


def mapping_steps(stack: Stack, config: StackConfig, route: str, arns: Arns) -> list:
    """The event source mapping from the queue to the tracker, on the queue routes only."""
    function = stack.names.function("size-tracking")
    queue_arn = arns.queue(stack.names.queue)
    settings = {
        "BatchSize": config.batch_size,
        "MaximumBatchingWindowInSeconds": BATCHING_WINDOW_SECONDS,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": config.max_concurrency},
    }
    mappings = [
        m
        for m in stack.event_source_mappings("size-tracking")
        if m.get("EventSourceArn") == queue_arn
    ]
    if not ROUTES[route].via_queue:
        return [st.DeleteEventSourceMapping(m["UUID"], function) for m in mappings]
    if not mappings:
        return [st.CreateEventSourceMapping(function, queue_arn, settings)]
    mapping = mappings[0]
    have = {key: mapping.get(key) for key in settings}
    if have != settings or mapping.get("State") in ("Disabled", "Disabling"):
        return [
            st.UpdateEventSourceMapping(mapping["UUID"], function, {**settings, "Enabled": True})
        ]
    return []


def rule_steps(stack: Stack, buckets, arns: Arns, tags) -> list:
    """One rule for every bucket on the eventbridge route; none when no bucket is on it."""
    eb_buckets = routing.on_route(buckets, EVENTBRIDGE.name)
    rule = stack.rule()
    targets = stack.rule_targets() if rule is not None else None
    if not eb_buckets:
        if rule is None:
            return []
        return [st.DeleteRule(stack.names.rule, tuple(t["Id"] for t in targets or []))]
    classes = [b for b in eb_buckets if any(s.bucket == b and s.storage_classes for s in buckets)]
    pattern = routing.rule_pattern(eb_buckets, stack.aws.account_id, classes)
    target = {
        "Id": stack.names.rule_target_id,
        "Arn": arns.queue(stack.names.queue),
        "DeadLetterConfig": {"Arn": arns.queue(stack.names.dead_letter_queue)},
        "RetryPolicy": RULE_RETRY_POLICY,
    }
    out: list = []
    if rule is None or json.loads(rule.get("EventPattern") or "{}") != pattern:
        description = f"S3 events of the buckets of s3sizer stack {stack.names.stack}"
        out.append(st.PutRule(stack.names.rule, pattern, description, tags))
    if not targets or _target_differs(targets, target):
        out.append(st.PutTarget(stack.names.rule, target))
    return out


def invoke_config_steps(stack: Stack, route: str, arns: Arns) -> list:
    """On the direct route, events Lambda gives up on go to the DLQ instead of vanishing."""
    if ROUTES[route].via_queue:
        return []
    settings = {
        **DIRECT_RETRY,
        "DestinationConfig": {
            "OnFailure": {"Destination": arns.queue(stack.names.dead_letter_queue)}
        },
    }
    have = stack.event_invoke_config("size-tracking")
    if have and all(have.get(k) == v for k, v in settings.items()):
        return []
    return [st.PutEventInvokeConfig(stack.names.function("size-tracking"), settings)]


def left_direct_route_steps(stack: Stack, route: str) -> list:
    """Off the direct route, none of it stays: the asynchronous invoke configuration (its
    on-failure destination) and S3's permission to invoke the tracker."""
    if not ROUTES[route].via_queue:
        return []
    function = stack.names.function("size-tracking")
    out: list = []
    if stack.event_invoke_config("size-tracking") is not None:
        out.append(st.DeleteEventInvokeConfig(function))
    for sid in (stack.names.permission_sid, stack.names.account_permission_sid):
        if stack.has_invoke_permission(sid):
            out.append(st.RemovePermission(function, sid))
    return out


def invoke_permission_steps(stack: Stack, route: str, buckets: list[str], arns: Arns) -> list:
    """S3's permission to invoke the tracker, on the direct route: for one bucket, that bucket's
    ARN and account; for several, any bucket of the account (``aws:SourceAccount`` alone), as
    the queue's policy falls back to: a statement per bucket would outgrow the function's 20 KB
    resource policy, and the tracker ignores the events of a bucket it does not track. A new
    statement is added before any entry needs it, and none is removed while the route stays, so
    no event meets a function S3 may not invoke."""
    if ROUTES[route].via_queue or not buckets:
        return []
    names, account = stack.names, stack.aws.account_id
    if len(buckets) == 1:
        sid, source = names.permission_sid, f"arn:{arns.partition}:s3:::{buckets[0]}"
    else:
        sid, source = names.account_permission_sid, ""
    if stack.has_invoke_permission(sid):
        return []
    return [st.AddPermission(names.function("size-tracking"), sid, source, account)]


def check_batching(config: StackConfig) -> None:
    low, high = 2, 1000
    if not low <= config.max_concurrency <= high:
        raise UsageError(
            f"--max-concurrency must be {low} to {high} (AWS's range), not {config.max_concurrency}",
            "pass e.g. --max-concurrency 2",
        )


def _same_attribute(name: str, have: str, want: str) -> bool:
    if name in ("Policy", "RedrivePolicy"):
        return (json.loads(have) if have else None) == (json.loads(want) if want else None)
    return have == want


def _target_differs(targets: list[dict], wanted: dict) -> bool:
    found = next((t for t in targets if t.get("Id") == wanted["Id"]), None)
    return found is None or any(found.get(k) != v for k, v in wanted.items())
