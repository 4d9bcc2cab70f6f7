"""The teardown plan: every bucket's notification configuration restored exactly, then the
stack's resources removed, and the bucket itself only when s3sizer created it."""

from __future__ import annotations

from s3sizer.stack import alarms, dashboard, delivery, fold, iam, uploads
from s3sizer.stack import steps as st
from s3sizer.stack.model import ADOPTED_DRIVER_PREFIX, FOLD_FUNCTION, FUNCTIONS, StackConfig
from s3sizer.stack.routes import ROUTES
from s3sizer.stack.state import Stack

# Every function a stack may have, the fold's included: teardown removes what it finds.
EVERY_FUNCTION = (*FUNCTIONS, FOLD_FUNCTION)


def plan_teardown(stack: Stack) -> st.Plan:
    names, config = stack.names, stack.config
    steps: list[st.Step] = []
    bucket, owned = _teardown_bucket(stack, config)
    if (table_exists := stack.table_description() is not None) and config is not None:
        # Every other bucket first, each restored exactly as untrack would.
        for other in stack.tracked(config)[1:]:
            steps += delivery.restore_steps(stack, other)
            if stack.alarm_exists(names.bucket_alarm(other.bucket, False)):
                steps.append(st.DeleteAlarm(names.bucket_alarm(other.bucket, False)))
    bucket_exists = bool(bucket) and stack.bucket_state(bucket) == "mine"
    if bucket_exists:
        current = stack.notification_configuration(bucket)
        eb_owned = bool(config and config.eventbridge_owned)
        restored = delivery.without_ours(current, names.notification_id, eb_owned)
        if not delivery.same_notifications(current, restored):
            steps.append(st.PutNotification(bucket, restored, "remove s3sizer's delivery", True))
    for route in ROUTES.values():
        steps += route.teardown_steps(stack)
    steps += uploads.teardown_steps(stack)
    for mapping in stack.event_source_mappings("size-tracking"):
        steps.append(st.DeleteEventSourceMapping(mapping["UUID"], names.function("size-tracking")))
    steps += fold.teardown_steps(stack)
    for spec in EVERY_FUNCTION:
        if stack.function_configuration(spec.short) is not None:
            steps.append(st.DeleteFunction(names.function(spec.short)))
    for version in stack.layer_versions():
        steps.append(st.DeleteLayerVersion(names.layer, version["Version"]))
    notes = []
    for name in (names.queue, names.dead_letter_queue, names.fold_dead_letter_queue):
        url = stack.queue_url(name)
        if url is not None:
            steps.append(st.DeleteQueue(name, url))
            held = stack.messages_held(url) if name != names.queue else 0
            if held:  # a redrive may be receiving some: they go too
                letters = "dead letter is" if held == 1 else "dead letters are"
                notes.append(f"{held} {letters} deleted with {name}")
    if stack.alarm_exists():
        steps.append(st.DeleteAlarm(names.alarm))
    steps += alarms.teardown_steps(stack)
    steps += dashboard.teardown_steps(stack)
    for spec in EVERY_FUNCTION:
        if stack.log_group_exists(spec.short):
            steps.append(st.DeleteLogGroup(names.log_group(spec.short)))
    for spec in EVERY_FUNCTION:
        if stack.role_policy(spec.short) is not None:
            steps.append(st.DeleteRole(names.role(spec.short)))
    if bucket_exists and owned and stack.bucket_tagged_ours(bucket):
        steps.append(st.DeleteBucket(bucket))
    elif bucket_exists:
        keys = own_objects(stack, bucket)
        if keys:
            steps.append(st.DeleteObjects(bucket, tuple(keys)))
    if table_exists:
        steps.append(st.DeleteTable(names.table))
    return st.Plan(f"teardown of stack {names.stack}", tuple(steps), tuple(notes))


def _teardown_bucket(stack: Stack, config: StackConfig | None) -> tuple[str | None, bool]:
    if config is not None:
        return config.bucket, config.bucket_owned
    # Setup failed before it stored its config: only a bucket tagged as ours is ours.
    bucket = stack.names.default_bucket(stack.aws.account_id, stack.aws.region)
    if stack.bucket_state(bucket) == "mine" and stack.bucket_tagged_ours(bucket):
        return bucket, True
    return None, False


def own_objects(stack: Stack, bucket: str) -> list[str]:
    """The keys s3sizer itself wrote into an adopted bucket, and nothing else found near them."""
    from s3sizer.lambdas.own_keys import RESERVED_PREFIX, is_own_key

    s3 = stack.client("s3")
    driver_keys = {ADOPTED_DRIVER_PREFIX + key for key in iam.DRIVER_KEYS}
    found = []
    for prefix in (RESERVED_PREFIX, ADOPTED_DRIVER_PREFIX):
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                key = item["Key"]
                if key in driver_keys or is_own_key(key):
                    found.append(key)
    return sorted(set(found))
