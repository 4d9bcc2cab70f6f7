"""The planner's decisions on delivery that no one route owns: which route a bucket takes, the
bucket's notification configuration merged with every other entry, and the stack's queues,
which every route shares (the DLQ on all of them). Each route's own steps are its methods
(stack/routes/)."""

from __future__ import annotations

import json

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import routing
from s3sizer.stack import steps as st
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import (
    AUTO_ROUTE,
    CLASS_EVENTS,
    FUNCTIONS,
    TRACKED_EVENTS,
    BucketSettings,
    StackConfig,
)
from s3sizer.stack.routes import DEFAULT, ROUTES, WHEN_TAKEN, Route
from s3sizer.stack.routes.queue import BATCHING_WINDOW_SECONDS
from s3sizer.stack.state import Stack

ENTRY_KINDS = {
    "QueueConfigurations": "QueueArn",
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
    "TopicConfigurations": "TopicArn",
}
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_SECONDS = 14 * 86400  # the most SQS allows
# AWS advises a visibility timeout of six times the function's timeout, plus the batching window.
VISIBILITY_FACTOR = 6


def families(events) -> set[tuple[str, str]]:
    """("ObjectCreated", "*") for "s3:ObjectCreated:*"; a bare family counts as a wildcard."""
    parts = [event.removeprefix("s3:").split(":") for event in events]
    return {(p[0], p[1] if len(p) > 1 else "*") for p in parts}


def overlapping_entry(notifications: dict, own_id: str, classes: bool = False) -> dict | None:
    """Another entry for one of our event types: S3 refuses a second one on overlapping keys.
    It comes back with its ``Events`` narrowed to those that overlap ours, which the messages
    name (an entry's `s3:ObjectRestore:*` beside them is no conflict).

    Our entry has no key filter, so any other entry for one of the same event types overlaps.
    With the bucket's storage classes tracked, its transitions are ours too.
    """
    ours = families(TRACKED_EVENTS + (CLASS_EVENTS if classes else ()))
    for kind in ENTRY_KINDS:
        for entry in notifications.get(kind, []):
            if entry.get("Id") == own_id:
                continue
            overlapping = [
                event
                for event in entry.get("Events", [])
                if any(
                    (f == g and "*" in (t, u)) or (f, t) == (g, u)
                    for f, t in ours
                    for g, u in families([event])
                )
            ]
            if overlapping:
                return {**entry, "Events": overlapping}
    return None


def choose_route(asked: str | None, config: StackConfig, notifications: dict, own_id: str):
    """(route, reason): what was asked, else what the stack uses, else the best that fits;
    ``auto`` (AUTO_ROUTE) asks for the best that fits, whatever the last deploy chose."""
    classes = bool(getattr(config, "storage_classes", False))
    taken = overlapping_entry(notifications, own_id, classes)
    auto = asked == AUTO_ROUTE
    if asked and not auto and not ROUTES[asked].fits(taken):
        raise _taken_error(
            config.bucket,
            taken,
            f"use --delivery {AUTO_ROUTE} (sqs where a bucket's events are free, "
            f"{WHEN_TAKEN.name} where taken), or --delivery {WHEN_TAKEN.name}, which coexists "
            "with every other entry",
        )
    if asked and not auto:
        return asked, "as asked with --delivery"
    if not auto and config.delivery and ROUTES[config.delivery].fits(taken):
        return config.delivery, "as the last deploy chose"
    said = "--delivery auto: " if auto else ""
    if taken is not None:
        events = ", ".join(taken.get("Events", []))
        return WHEN_TAKEN.name, f"{said}entry {taken.get('Id')!r} already takes {events}"
    return DEFAULT.name, f"{said}its event types are free" if auto else "the default"


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
    if storage_classes is None:
        storage_classes = bool(getattr(config, "storage_classes", False))
    ours = ROUTES[route].notifications(arns, own_id, storage_classes)
    wanted = {
        kind: [e for e in current.get(kind, []) if e.get("Id") != own_id] + ours.get(kind, [])
        for kind in ENTRY_KINDS
    }
    out = {kind: entries for kind, entries in wanted.items() if entries}
    if "EventBridgeConfiguration" in ours or (
        "EventBridgeConfiguration" in current and not eb_owned
    ):
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


def refuse_unrouted(stack: Stack, config, buckets: list[BucketSettings]) -> None:
    """Refused before any step while what a route's buckets share (the queue's policy, the
    rule) no longer carries one of them: this command would write it back without that
    bucket's baseline, and the events lost meanwhile would never count. `deploy` takes it."""
    arns = stack.arns(config)
    for name, route in ROUTES.items():
        lost = route.unrouted(stack, [b.bucket for b in buckets if b.delivery == name], arns)
        if lost:
            raise StackError(
                f"Bucket {lost[0]!r} no longer sends its events to the tracker (the stack's "
                f"queue policy or rule lost it)",
                "run `s3sizer deploy` first, which puts it back and takes its baseline",
            )


def transition_routing_steps(stack: Stack, config: StackConfig, tags) -> list[st.Step]:
    """On a deployed stack, the first bucket's lifecycle transitions reach the tracker (or stop)
    as soon as its storage classes are tracked (or not), before the listing that fills them."""
    arns, own_id = stack.arns(config), stack.names.notification_id
    current = stack.notification_configuration(config.bucket)
    taken = overlapping_entry(current, own_id, config.storage_classes)
    if not ROUTES[config.delivery].fits(taken):
        # S3 would refuse the entry with the transitions: refused here, before any step runs.
        raise _taken_error(
            config.bucket,
            taken,
            f"run `s3sizer deploy --delivery {WHEN_TAKEN.name}` first, which coexists with "
            "every other entry",
        )
    tracked = stack.tracked(config)
    refuse_unrouted(stack, config, tracked)  # the rule is written again below
    wanted = desired_notifications(
        current, config.delivery, config, arns, own_id, config.eventbridge_owned
    )
    steps: list[st.Step] = []
    if not same_notifications(current, wanted):
        steps.append(st.PutNotification(config.bucket, wanted, f"delivery {config.delivery}"))
    return steps + shared_steps(stack, tracked, arns, tags)


def queue_steps(stack: Stack, config: StackConfig, buckets, arns: Arns, tags) -> list:
    """The DLQ and the main queue, created or brought to the attributes the routes need."""
    names, account = stack.names, stack.aws.account_id
    dlq_arn, queue_arn = arns.queue(names.dead_letter_queue), arns.queue(names.queue)
    tracker = next(spec for spec in FUNCTIONS if spec.short == "size-tracking")
    tracker_timeout = config.timeout_of(tracker)  # the spec's default, or the user's setting
    senders, dead_letter_senders = [], []
    for route in ROUTES.values():
        on_it = routing.on_route(buckets, route.name)
        senders += route.queue_statements(queue_arn, on_it, arns, account)
        dead_letter_senders += route.dead_letter_statements(dlq_arn, on_it, arns)
    wanted = {
        names.dead_letter_queue: {
            "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
            "Policy": routing.policy_text(routing.fitted_policy(dead_letter_senders, account)),
        },
        names.queue: {
            "VisibilityTimeout": str(VISIBILITY_FACTOR * tracker_timeout + BATCHING_WINDOW_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
            "Policy": routing.policy_text(routing.fitted_policy(senders, account)),
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


def shared_steps(stack: Stack, buckets: list[BucketSettings], arns: Arns, tags) -> list:
    """What the buckets on each route share besides the queues (the rule), for exactly
    ``buckets``: what no bucket is on any more goes."""
    return [
        step for route in ROUTES.values() for step in route.shared_steps(stack, buckets, arns, tags)
    ]


def route_steps(
    stack: Stack,
    config: StackConfig,
    route: Route,
    buckets: list[BucketSettings],
    on_route: list[str],
    arns: Arns,
    tags,
) -> list:
    """Deploy's steps for the stack's route before any entry changes: the tracker's mapping,
    what the buckets on each route share, the tracker's invoke configuration, and S3's
    permission to invoke it for ``on_route``."""
    return (
        route.mapping_steps(stack, config, arns)
        + shared_steps(stack, buckets, arns, tags)
        + route.invoke_config_steps(stack, arns)
        + route.invoke_permission_steps(stack, on_route, arns)
    )


def check_batching(config: StackConfig) -> None:
    low, high = 2, 1000
    if not low <= config.mapping_concurrency <= high:
        raise UsageError(
            f"--max-concurrency must be {low} to {high} (AWS's range), "
            f"not {config.mapping_concurrency}",
            "pass e.g. --max-concurrency 2",
        )


def _same_attribute(name: str, have: str, want: str) -> bool:
    if name in ("Policy", "RedrivePolicy"):
        return (json.loads(have) if have else None) == (json.loads(want) if want else None)
    return have == want


def routes_in_place(stack: Stack, config: StackConfig, buckets: list[BucketSettings]) -> dict:
    """Per routed bucket, whether its notification configuration still sends its events on its
    route: False once someone (another tool's `PutBucketNotificationConfiguration`, which
    replaces the whole configuration) dropped or changed s3sizer's entry, or the bucket is
    gone, or what the buckets of its route share (the queue's policy, the rule) no longer
    carries it (Route.unrouted). Events S3 sent nowhere meanwhile are lost to the totals, so
    status says so; `deploy` puts back what is missing and takes a baseline. One
    GetBucketNotificationConfiguration a bucket, 16 side by side, then per route in use the
    queue's policy, and the rule's DescribeRule and ListTargetsByRule. None (not known) for a
    bucket whose check AWS refused otherwise (a missing permission, throttling): status still
    answers."""
    from concurrent.futures import ThreadPoolExecutor

    from s3sizer.stack.state import error_code

    arns, own_id = stack.arns(config), stack.names.notification_id
    s3 = stack.client("s3")

    def intact(settings: BucketSettings) -> bool | None:
        try:
            current = stack.notification_configuration(settings.bucket)
        except s3.exceptions.ClientError as exc:
            # Gone, or (403) another account's now: nothing of it reaches the tracker.
            gone = {"404", "NoSuchBucket", "NotFound", "403", "AccessDenied", "Forbidden"}
            return False if error_code(exc) in gone else None
        wanted = desired_notifications(
            current, settings.delivery, None, arns, own_id,
            settings.eventbridge_owned, settings.storage_classes,
        )  # fmt: skip
        return same_delivery(current, wanted)

    routed = [b for b in buckets if b.delivery is not None]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(routed)))) as pool:
        found = dict(zip((b.bucket for b in routed), pool.map(intact, routed), strict=True))
    for name, route in ROUTES.items():  # what a route's buckets share: policy, rule
        on_route = routing.on_route(routed, name)
        try:
            found.update(dict.fromkeys(route.unrouted(stack, on_route, arns), False))
        except s3.exceptions.ClientError:  # a botocore ClientError of any service
            found.update({b: None for b in on_route if found.get(b) is not False})
    return found
