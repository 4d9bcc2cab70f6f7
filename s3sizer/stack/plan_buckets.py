"""Desired against existing, for `track` and `untrack`, and for the buckets after the first in
deploy and teardown: each bucket's settings items, its route and its notification entry."""

from __future__ import annotations

import types
from dataclasses import replace
from datetime import UTC, datetime

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import alarms, delivery, estate
from s3sizer.stack import steps as st
from s3sizer.stack.baseline_lease import refuse_baselines_running
from s3sizer.stack.baseline_ranges import refuse_depth_change_midway
from s3sizer.stack.model import (
    DEFAULT_PREFIX_DEPTH,
    MAX_PREFIX_DEPTH,
    BucketSettings,
)
from s3sizer.stack.plan import (
    bucket_baseline,
    check_bucket_name,
    never_polled,
    owed_first,
    plan_setup,
    role_steps,
    stack_tags,
    stopped_part_way,
)
from s3sizer.stack.routes import ROUTES
from s3sizer.stack.state import Stack


def choose_bucket_route(
    stack: Stack, settings: BucketSettings, asked: str | None, current: dict
) -> tuple[BucketSettings, str]:
    """The bucket's route (sqs, or eventbridge when its event types are taken) and settings."""
    shown = types.SimpleNamespace(
        bucket=settings.bucket,
        delivery=settings.delivery,
        storage_classes=settings.storage_classes,
    )
    route, why = delivery.choose_route(asked, shown, current, stack.names.notification_id)
    eb_owned = ROUTES[route].owns_eventbridge(settings.eventbridge_owned, current)
    return replace(settings, delivery=route, eventbridge_owned=eb_owned), why


def _route_on(stack: Stack, settings: BucketSettings, imposed: str | None, current: dict):
    """A bucket's route in this stack: the one the stack's route imposes (direct), which cannot
    share the bucket's event types with another entry, else its own choice."""
    try:
        routed, why = choose_bucket_route(stack, settings, imposed, current)
        return routed, "the stack's route" if imposed else why
    except StackError as refused:
        if imposed is None:
            raise
        raise StackError(
            f"{refused.message.split(';')[0]}, and the stack's {imposed} route cannot share them",
            "move the stack to a queue route first: `s3sizer deploy --delivery sqs`",
        ) from None


def held_settings(new: BucketSettings, old: BucketSettings) -> BucketSettings:
    """The settings recorded before a bucket's route changes: EventBridge delivery that s3sizer
    turned on stays its own until the step that turns it off has run, so that a command stopped
    in between leaves teardown and untrack what to turn off."""
    return replace(new, eventbridge_owned=new.eventbridge_owned or old.eventbridge_owned)


def routing_steps(
    stack: Stack, settings: BucketSettings, current: dict, ttl_days: int, was_owned: bool
) -> list[st.Step]:
    """The bucket's notification configuration for its route, and then its baseline. When the
    route no longer uses the EventBridge delivery s3sizer turned on, the settings say so only
    once it is off (`held_settings`)."""
    arns = stack.arns(stack.require_config())
    wanted = delivery.desired_notifications(
        current,
        settings.delivery,
        None,
        arns,
        stack.names.notification_id,
        settings.eventbridge_owned or was_owned,
        settings.storage_classes,
    )
    handed_back = []
    if was_owned and not settings.eventbridge_owned:
        handed_back.append(
            st.PutBucket(stack.names.table, settings, stack.names.stack, "EventBridge off")
        )
    if delivery.same_notifications(current, wanted):
        return handed_back
    summary = f"delivery {settings.delivery}"
    if delivery.same_delivery(current, wanted):  # only the transitions of --storage-classes
        return [st.PutNotification(settings.bucket, wanted, summary), *handed_back]
    versioned = stack.bucket_versioning(settings.bucket) != ""
    return [
        st.MarkBaselineDue(stack.names.table, settings.bucket),
        st.PutNotification(settings.bucket, wanted, summary),
        *handed_back,
        # Changes made while events had no route (or another one) carried nothing to the tracker.
        st.RecordBaseline(settings.bucket, versioned, settings.prefix_depth, ttl_days),
    ]


def shared_steps(stack: Stack, buckets: list[BucketSettings]) -> list[st.Step]:
    """The queue's policy, the rule and S3's permission to invoke the tracker directly, for
    exactly these buckets (on a deployed stack)."""
    config = stack.require_config()
    arns, tags = stack.arns(config), stack_tags(stack)
    on_route = [b.bucket for b in buckets if b.delivery == config.delivery]
    return (
        delivery.queue_steps(stack, config, buckets, arns, tags)
        + delivery.shared_steps(stack, buckets, arns, tags)
        + ROUTES[config.delivery].invoke_permission_steps(stack, on_route, arns)
    )


def is_deployed(stack: Stack) -> bool:
    config = stack.require_config()
    return config.delivery is not None and stack.queue_url(stack.names.queue) is not None


def plan_track(
    stack: Stack,
    buckets: list[str],
    *,
    prefix_depth: int | None = None,
    alarm_above: int | None = None,
    storage_classes: bool | None = None,
    now: datetime | None = None,
) -> st.Plan:
    for bucket in buckets:
        check_bucket_name(bucket, "name an existing bucket of yours")
    if prefix_depth is not None and not 0 <= prefix_depth <= MAX_PREFIX_DEPTH:
        raise UsageError(
            f"--prefix-depth must be 0 (off) to {MAX_PREFIX_DEPTH}", "pass e.g. --prefix-depth 2"
        )
    config = stack.require_config()
    # On the direct route every bucket is invoked directly (there is no queue mapping).
    imposed = ROUTES[config.delivery].imposed_on_buckets() if config.delivery else None
    stamp = (now or datetime.now(UTC)).isoformat()
    tracked = {s.bucket: s for s in stack.tracked(config)}
    deployed = is_deployed(stack)
    names, steps, notes = stack.names, [], []
    routed: list[tuple[BucketSettings, dict, bool]] = []
    after = dict(tracked)
    first_polls: list[str] = []
    changed: list[str] = []  # buckets whose new settings need a baseline
    for bucket in dict.fromkeys(buckets):  # each once, in the order given
        if bucket == config.bucket:
            first = plan_setup(
                stack,
                bucket,
                prefix_depth=prefix_depth,
                alarm_above=alarm_above,
                storage_classes=storage_classes,
            )
            steps += first.steps
            after[bucket] = replace(
                after[bucket],
                storage_classes=after[bucket].storage_classes
                if storage_classes is None
                else storage_classes,
            )
            continue
        old = tracked.get(bucket)
        if old is None and bucket in stack.unfinished_untracks:
            # Its untrack stopped with items left: they go before the bucket is adopted again.
            steps.append(st.ForgetBucket(names.table, bucket))
            notes.append(f"finishing the untrack of {bucket}, stopped before its items were gone")
        if old is None:
            _check_adoptable(stack, bucket)
            old = BucketSettings(bucket, DEFAULT_PREFIX_DEPTH, added_at=stamp)
            notes.append(f"adopting existing bucket {bucket}")
        new = replace(
            old,
            prefix_depth=old.prefix_depth if prefix_depth is None else prefix_depth,
            alarm_above=old.alarm_above if alarm_above is None else (alarm_above or None),
            storage_classes=old.storage_classes if storage_classes is None else storage_classes,
        )
        current = stack.notification_configuration(bucket)
        new, why = _route_on(stack, new, imposed, current)
        if bucket not in tracked:
            notes.append(f"{bucket}: delivery {new.delivery} ({why})")
        after[bucket] = new
        if (held := held_settings(new, old)) != tracked.get(bucket):
            classes = "" if new.storage_classes == old.storage_classes else "storage classes "
            classes += ("on" if new.storage_classes else "off") if classes else ""
            steps.append(st.PutBucket(names.table, held, names.stack, classes))
        routed.append((new, current, old.eventbridge_owned))
        steps += alarms.size_alarm_steps(stack, new, config.alarm_topic, first=False)
        depth_changed = bucket in tracked and old.prefix_depth != new.prefix_depth
        if depth_changed:
            refuse_depth_change_midway(stack.history(config), bucket, new.prefix_depth)
        # The classes of the objects already there come from a listing (docs/tracking.md).
        classes_on = bucket in tracked and new.storage_classes and not old.storage_classes
        unfinished = bucket in tracked and stopped_part_way(stack, config, bucket)
        if depth_changed or classes_on or bucket not in tracked or unfinished:
            steps.append(bucket_baseline(stack, new, config.history_ttl_days))
        if depth_changed or classes_on:
            changed.append(bucket)
        if unfinished and never_polled(stack, config, bucket):
            first_polls.append(bucket)  # a track stopped before its first poll
    # The tracker's role polls (and looks up the classes of) exactly the buckets as they will
    # be: one policy with every grant, written before any baseline or route of theirs.
    steps += role_steps(stack, config, stack.bucket_kms_key(config.bucket), list(after.values()))
    if deployed:
        delivery.refuse_unrouted(stack, config, list(tracked.values()))
        ordered = [after[b] for b in after]
        # Senders first: the queue admits a bucket before its entry points at the queue.
        shared = shared_steps(stack, ordered)
        routing = [
            step
            for settings, current, was_owned in routed
            for step in routing_steps(stack, settings, current, config.history_ttl_days, was_owned)
        ]
        # The baselines the entries owe are marked before the shared steps, as deploy does.
        owed = [step for step in routing if isinstance(step, st.MarkBaselineDue)]
        routing = [step for step in routing if not isinstance(step, st.MarkBaselineDue)]
        steps = _before_baselines(steps, owed + shared + routing)
    else:
        notes.append("the stack is not deployed: `s3sizer deploy` routes the buckets' events")
    if config.uploads_every:  # each new bucket's figure now, not at the next schedule
        steps += [
            st.PollUploads(names.table, b) for b in after if b not in tracked or b in first_polls
        ]
    refuse_baselines_running(stack.history(config), steps)
    steps = owed_first(stack, steps, changed)
    return st.Plan(
        f"track of {', '.join(dict.fromkeys(buckets))} in stack {names.stack}",
        tuple(_once(steps)),
        tuple(notes),
    )


def _before_baselines(steps: list, routing: list) -> list:
    """Every baseline runs once the routes are in place: the listing then misses no change."""
    baselines = [s for s in steps + routing if isinstance(s, st.RecordBaseline)]
    others = [s for s in steps if not isinstance(s, st.RecordBaseline)]
    others += [s for s in routing if not isinstance(s, st.RecordBaseline)]
    return others + baselines


def _once(steps: list) -> list:
    out: list = []
    for step in steps:
        if step not in out:
            out.append(step)
    return out


def _check_adoptable(stack: Stack, bucket: str) -> None:
    region = stack.aws.region
    state = stack.bucket_state(bucket)
    if state == "missing":
        raise StackError(
            f"Bucket {bucket!r} does not exist",
            "create it first (track adopts existing buckets; setup creates the first one)",
        )
    if state == "foreign":
        raise StackError(
            f"Bucket {bucket!r} belongs to another AWS account", "track one of your own buckets"
        )
    where = stack.bucket_region(bucket)
    if where != region:
        raise StackError(
            f"Bucket {bucket!r} is in {where}, not in {region}",
            f"track it from a stack in {where} (`--region {where}`)",
        )
    estate.refuse_tracked_elsewhere(stack.client("dynamodb"), stack.names.table, bucket)


def plan_untrack(stack: Stack, buckets: list[str]) -> st.Plan:
    for bucket in buckets:  # a usage error, as track says it
        check_bucket_name(bucket, "name a bucket the stack tracks (`s3sizer status` lists them)")
    config = stack.require_config()
    tracked = {s.bucket: s for s in stack.tracked(config)}
    if config.bucket in buckets:
        raise StackError(
            f"Bucket {config.bucket!r} is the stack's first bucket (the driver's and the plot's)",
            "run `s3sizer teardown` to stop tracking it with the whole stack",
        )
    # A bucket whose untrack stopped while its items were being deleted: its route is restored
    # and its settings are gone (it is not tracked), and this untrack deletes the rest.
    leftover = set(stack.unfinished_untracks) - set(tracked)
    for bucket in buckets:
        if bucket not in tracked and bucket not in leftover:
            # Often an untrack of several that Ctrl-C stopped: say what is left to untrack.
            rest = [b for b in dict.fromkeys(buckets) if b in tracked or b in leftover]
            fix = "`s3sizer status` lists the tracked buckets"
            if rest:
                fix = f"run `s3sizer untrack {' '.join(rest)}` for the others; " + fix
            raise StackError(
                f"Bucket {bucket!r} is not tracked by stack {stack.names.stack!r}", fix
            )
    names, gone = stack.names, list(dict.fromkeys(buckets))
    kept = [s for name, s in tracked.items() if name not in gone]
    # One bucket at a time, its route restored and then its items forgotten, and the shared
    # documents (roles, the rule's names, the queue policy) written before the last bucket is
    # forgotten: a Ctrl-C anywhere leaves every bucket either tracked and routed, or untracked,
    # or (the one it stopped at) tracked with its route restored, or untracked with some of its
    # items left under a marker (stack/forget.py). `untrack` of what is left
    # finishes, and writes the shared documents without the buckets untracked before.
    # The leftovers first: the shared documents go before the last tracked bucket's deletion.
    steps: list[st.Step] = [st.ForgetBucket(names.table, b) for b in gone if b in leftover]
    for bucket in (b for b in gone if b not in leftover):
        steps += delivery.restore_steps(stack, tracked[bucket])
        if stack.alarm_exists(names.bucket_alarm(bucket, False)):
            steps.append(st.DeleteAlarm(names.bucket_alarm(bucket, False)))
        steps.append(st.ForgetBucket(names.table, bucket))
    shared = role_steps(stack, config, stack.bucket_kms_key(config.bucket), kept)
    if is_deployed(stack):
        delivery.refuse_unrouted(stack, config, kept)
        shared += shared_steps(stack, kept)
    steps[-1:-1] = shared  # before the last ForgetBucket
    return st.Plan(f"untrack of {', '.join(gone)} in stack {names.stack}", tuple(steps))
