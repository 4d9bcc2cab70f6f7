"""Desired against existing, for setup and teardown: the planner makes only describe, get and
list calls, and makes every decision; the executor carries the steps out as written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import alarms, delivery, fold, iam, uploads
from s3sizer.stack import steps as st
from s3sizer.stack.baseline_lease import refuse_baselines_running
from s3sizer.stack.baseline_ranges import refuse_depth_change_midway
from s3sizer.stack.estate import refuse_tracked_elsewhere, tracker_mirror_differs
from s3sizer.stack.functions import configuration_differs, function_settings
from s3sizer.stack.model import (
    ADOPTED_DRIVER_PREFIX,
    DEFAULT_PREFIX_DEPTH,
    DEPLOY_SETTINGS,
    MAX_PREFIX_DEPTH,
    TAG_KEY,
    WRITE_PATHS,
    BucketSettings,
    StackConfig,
    bucket_name_problem,
    first_bucket_settings,
    functions_of,
)
from s3sizer.stack.state import Stack

# DynamoDB refuses a second UpdateTimeToLive on a table within an hour.
TTL_CHANGE_INTERVAL = timedelta(hours=1)


def check_bucket_name(bucket: str, fix: str = "choose a valid --bucket") -> None:
    problem = bucket_name_problem(bucket)
    if problem:
        raise UsageError(f"Invalid bucket name {bucket!r}: {problem}", fix)


def stack_tags(stack: Stack) -> dict[str, str]:
    return {TAG_KEY: stack.names.stack}


def plan_setup(
    stack: Stack,
    bucket: str | None,
    ttl_days: int | None = None,
    *,
    prefix_depth: int | None = None,
    alarm_above: int | None = None,
    alarm_topic: str | None = None,
    alarm_growth: tuple[int, int] | None = None,
    uploads_every: float | None = None,
    storage_classes: bool | None = None,
    write_path: str | None = None,
    now: datetime | None = None,
) -> st.Plan:
    if uploads_every is not None:
        uploads_every = uploads.check_every(uploads_every)
    if bucket:
        check_bucket_name(bucket)  # before any API call
    if ttl_days is not None and ttl_days < 0:
        raise UsageError("--history-ttl-days must be 0 (keep forever) or more", "pass e.g. 30")
    if prefix_depth is not None and not 0 <= prefix_depth <= MAX_PREFIX_DEPTH:
        raise UsageError(
            f"--prefix-depth must be 0 (off) to {MAX_PREFIX_DEPTH}", "pass e.g. --prefix-depth 2"
        )
    if write_path is not None and write_path not in WRITE_PATHS:
        raise UsageError(f"--write-path must be one of {', '.join(WRITE_PATHS)}", "pass e.g. fold")
    now = now or datetime.now(UTC)
    names, existing = stack.names, stack.config
    _check_setup_write_path(existing, write_path)
    if existing and bucket and bucket != existing.bucket:
        raise StackError(
            f"Stack {names.stack!r} already tracks bucket {existing.bucket!r}",
            "run `s3sizer teardown` first, or choose another --stack",
        )
    region = stack.aws.region
    bucket = bucket or (existing.bucket if existing else "")
    if not bucket:
        bucket = names.default_bucket(stack.aws.account_id, region)
        check_bucket_name(bucket)

    table = stack.table_description()
    state = stack.bucket_state(bucket)
    if state == "foreign":
        raise StackError(
            f"Bucket {bucket!r} belongs to another AWS account",
            "choose another name with --bucket (bucket names are global)",
        )
    if state == "mine":
        where = stack.bucket_region(bucket)
        if where != region:
            raise StackError(
                f"Bucket {bucket!r} is in {where}, not in {region}",
                f"run setup with --region {where}: the stack must live in the bucket's region",
            )
    # Only a bucket setup creates now, or one that carries the stack's tag, is s3sizer's to delete.
    owned = state == "missing" or stack.bucket_tagged_ours(bucket)
    if state == "mine" and existing is None:
        refuse_tracked_elsewhere(stack.client("dynamodb"), names.table, bucket)
        if not owned:
            _refuse_taken_keys(stack, bucket)
    ttl = existing.history_ttl_days if existing and ttl_days is None else (ttl_days or 0)
    depth = prefix_depth if prefix_depth is not None else _kept(existing, "prefix_depth")
    alarm = alarm_above if alarm_above is not None else _kept(existing, "alarm_above")
    topic = alarm_topic or _kept(existing, "alarm_topic")
    growth = _growth(existing, alarm_growth)  # (bytes, seconds), or (None, None): no alarm
    if alarm_topic and not alarm and growth[0] is None:
        raise UsageError(
            "--alarm-topic names the topic of an alarm, and the stack has none",
            "add --alarm-above SIZE, e.g. --alarm-above 500GB, or --alarm-growth 10GB/h",
        )
    if alarm_topic:
        _check_topic_exists(stack, alarm_topic)
    ttl_steps, ttl_changed_at = _ttl_steps(stack, table, existing, ttl, now)
    config = StackConfig(
        stack=names.stack,
        bucket=bucket,
        bucket_owned=owned,
        region=region,
        history_ttl_days=ttl,
        prefix_depth=DEFAULT_PREFIX_DEPTH if depth is None else depth,
        alarm_above=alarm or None,
        alarm_topic=topic if alarm or growth[0] is not None else None,
        alarm_growth=growth[0],
        alarm_growth_period=growth[1],
        ttl_changed_at=ttl_changed_at,
        storage_classes=bool(
            _kept(existing, "storage_classes") if storage_classes is None else storage_classes
        ),
        **_kept_settings(existing),
    )
    if write_path is not None:
        config = replace(config, write_path=write_path)
    if uploads_every is not None:
        config = replace(config, uploads_every=uploads_every)
    elif existing is not None:
        config = replace(config, uploads_every=existing.uploads_every)

    tags = stack_tags(stack)
    steps: list[st.Step] = []
    if table is None:
        steps.append(st.CreateTable(names.table, tags))
    if config != existing:
        steps.append(st.PutConfig(names.table, config))
    steps += fold.stream_steps(stack, config)
    # A stack of an earlier release: its key items count at the depth it had (docs/tracking.md).
    steps += mirror_steps(stack, config, existing.prefix_depth if existing else None)
    if state == "missing":
        steps.append(st.CreateBucket(bucket, region, tags))
    steps += role_steps(
        stack, config, kms_key=None if state == "missing" else stack.bucket_kms_key(bucket)
    )
    steps += ttl_steps
    steps += alarms.size_alarm_steps(
        stack, first_bucket_settings(config), config.alarm_topic, first=True
    )
    steps += alarms.growth_alarm_steps(stack, config, tags)
    steps += _tracker_settings_steps(stack, config)
    steps += uploads.schedule_steps(stack, config, tags)
    depth_changed = existing is not None and existing.prefix_depth != config.prefix_depth
    if depth_changed:
        _refuse_depth_change_under_an_earlier_tracker(stack)
        refuse_depth_change_midway(stack.history(config), bucket, config.prefix_depth)
    # The classes of the objects already there come from a listing, as a new depth's prefixes.
    classes_on = config.storage_classes and not _kept(existing, "storage_classes")
    if (
        existing is not None
        and existing.delivery
        and bool(existing.storage_classes) != bool(config.storage_classes)
    ):
        steps += delivery.transition_routing_steps(stack, config, stack_tags(stack))
    unfinished = table is not None and stopped_part_way(stack, config, bucket)
    if table is None or depth_changed or (classes_on and existing is not None) or unfinished:
        steps.append(baseline_step(stack, config, versioned=state == "mine"))
    if table is not None:
        refuse_baselines_running(stack.history(config), steps)
    if depth_changed or (classes_on and existing is not None):
        steps = owed_first(stack, steps, [bucket])
    # Its figure before the schedule's first poll; a setup stopped before it polls when run again.
    first_poll = existing is None or (unfinished and never_polled(stack, config, bucket))
    if first_poll and state == "mine" and config.uploads_every:
        steps.append(st.PollUploads(names.table, bucket))
    notes = () if state == "missing" else (f"adopting existing bucket {bucket}",)
    return st.Plan(f"setup of stack {names.stack}", tuple(steps), notes)


def stopped_part_way(stack: Stack, config, bucket: str) -> bool:
    """The bucket's baseline never ended, or stopped part-way: run again, it resumes."""
    return stack.history(config).totals(bucket).updated_at is None or baseline_unfinished(
        stack, config, bucket
    )


def never_polled(stack: Stack, config, bucket: str) -> bool:
    """No poll of the bucket's unfinished uploads has been written yet."""
    from s3sizer.lambdas.uploads import uploads_address

    return stack.history(config)._get(uploads_address(bucket)) is None


def mirror_steps(stack: Stack, config, unmarked_depth: int | None = None) -> list[st.Step]:
    """The first bucket's settings items, as its config says (a stack of an earlier release
    has none: deploy writes them before the new tracker, which needs them, is deployed).
    ``unmarked_depth``: the depth the config had before this plan."""
    if not tracker_mirror_differs(config, stack.stored_buckets):
        return []
    settings = first_bucket_settings(config)
    stored = stack.stored_buckets.get(config.bucket)
    summary = "first bucket"
    if stored is not None and stored.storage_classes != settings.storage_classes:
        summary += f", storage classes {'on' if settings.storage_classes else 'off'}"
    return [st.PutBucket(stack.names.table, settings, stack.names.stack, summary, unmarked_depth)]


def _check_topic_exists(stack: Stack, topic_arn: str) -> None:
    """Before anything changes: CloudWatch would accept an alarm action that goes nowhere."""
    sns = stack.client("sns")
    try:
        sns.get_topic_attributes(TopicArn=topic_arn)
    except sns.exceptions.NotFoundException:
        raise StackError(
            f"SNS topic {topic_arn} does not exist",
            "create it (`aws sns create-topic`), or pass a topic that exists to --alarm-topic",
        ) from None


def _tracker_settings_steps(stack: Stack, config: StackConfig) -> list[st.Step]:
    """A deployed tracker (and fold) learns a new prefix depth or retention at once, before the
    baseline. The tracker keeps the write path it runs: only deploy moves it to the fold's,
    once the fold's parts exist."""
    out: list[st.Step] = []
    for spec in functions_of(config):
        if spec.short not in ("size-tracking", "fold"):
            continue
        current = stack.function_configuration(spec.short)
        if current is None:
            continue
        variables = current.get("Environment", {}).get("Variables", {})
        running = replace(config, write_path=variables.get("WRITE_PATH", "transaction"))
        desired = function_settings(spec, running, stack.arns(config), None)
        if configuration_differs(current, desired):
            out.append(st.UpdateFunctionConfiguration(stack.names.function(spec.short), desired))
    return out


def _check_setup_write_path(existing: StackConfig | None, asked: str | None) -> None:
    """Setup chooses the write path of a stack not yet deployed; a deployed one moves to the
    fold's with deploy, which brings the fold's parts before the tracker switches."""
    fold.check_write_path(existing, asked)
    deployed = existing is not None and existing.delivery is not None
    if asked == "fold" and deployed and existing.write_path != "fold":
        raise StackError(
            f"Stack {existing.stack!r} is deployed: its tracker moves to the fold write path "
            "with deploy, which brings the fold's stream, function and queue first",
            "run `s3sizer deploy --write-path fold`",
        )


def _refuse_depth_change_under_an_earlier_tracker(stack: Stack) -> None:
    """An earlier release's tracker records no depth in the key items it writes, so keys it
    writes at a new depth could not be told from those it wrote at the old one (the baseline
    counts an unmarked key at the old depth: docs/tracking.md)."""
    current = stack.function_configuration("size-tracking")
    if current is None:
        return
    variables = current.get("Environment", {}).get("Variables", {})
    if variables.get("KEY_DEPTHS") != "settings":
        raise StackError(
            f"Stack {stack.names.stack!r} runs the size-tracking function of an earlier release, "
            "which cannot change its prefix depth while its buckets are written",
            "run `s3sizer deploy` first, then change --prefix-depth",
        )


def _refuse_taken_keys(stack: Stack, bucket: str) -> None:
    """The keys s3sizer writes into an adopted bucket (and teardown deletes) must be free."""
    from s3sizer.lambdas.own_keys import PLOT_KEY

    ours = [PLOT_KEY] + [ADOPTED_DRIVER_PREFIX + key for key in iam.DRIVER_KEYS]
    taken = stack.existing_keys(bucket, ours)
    if taken:
        raise StackError(
            f"Bucket {bucket!r} already holds {', '.join(taken)}, which s3sizer would write over "
            "and remove at teardown",
            "move those objects, or track another bucket",
        )


def role_steps(
    stack: Stack, config: StackConfig, kms_key: str | None, buckets=None
) -> list[st.Step]:
    """Each function's role and policy. The tracker's names ``buckets`` (the tracked buckets'
    settings, default as stored): it polls their unfinished uploads while the schedule is on,
    and looks up the storage classes of those with ``storage_classes``. Track and untrack pass
    the buckets as they will be, so a role is written once with all its grants."""
    names, arns = stack.names, stack.arns(config)
    buckets = stack.tracked(config) if buckets is None else list(buckets)
    polled = uploads.polled_buckets(stack, config, [b.bucket for b in buckets])
    class_buckets = tuple(b.bucket for b in buckets if b.storage_classes)
    out: list[st.Step] = []
    for spec in functions_of(config):
        document = stack.role_policy(spec.short)
        if document is None:
            description = f"Execution role of {names.function(spec.short)}"
            out.append(st.CreateRole(names.role(spec.short), description, stack_tags(stack)))
        desired = iam.policy_for(
            spec.short, arns, config.driver_prefix, kms_key, polled, class_buckets,
            tuple(b.bucket for b in buckets),
        )  # fmt: skip
        if document != desired:
            out.append(st.PutRolePolicy(names.role(spec.short), names.policy(spec.short), desired))
    return out


def owed_first(stack: Stack, steps: list, buckets: list[str]) -> list:
    """A change of settings that needs a baseline (a new prefix depth, storage classes) owes it
    before the change is stored: a command stopped or refused in between leaves the baseline
    owed, and the same command run again takes it, instead of finding nothing to do."""
    return [st.MarkBaselineDue(stack.names.table, b) for b in buckets] + steps


def baseline_unfinished(stack: Stack, config: StackConfig, bucket: str) -> bool:
    """Whether an interrupted baseline of the bucket waits: the same command resumes it."""
    from s3sizer.stack.baseline_ranges import baseline_state

    return baseline_state(stack.history(config), bucket)["state"] != "complete"


def baseline_step(stack: Stack, config: StackConfig, *, versioned: bool) -> st.RecordBaseline:
    """The first bucket's baseline; a bucket this setup creates has no versions to list."""
    if versioned:
        return bucket_baseline(stack, first_bucket_settings(config), config.history_ttl_days)
    return st.RecordBaseline(config.bucket, False, config.prefix_depth, config.history_ttl_days)


def bucket_baseline(stack: Stack, settings: BucketSettings, ttl_days: int) -> st.RecordBaseline:
    """A listing of every version where the bucket has (or had) versioning, else of objects."""
    versioned = stack.bucket_versioning(settings.bucket) != ""
    return st.RecordBaseline(settings.bucket, versioned, settings.prefix_depth, ttl_days)


def _ttl_steps(stack, table, existing, ttl: int, now: datetime):
    changed_at = existing.ttl_changed_at if existing else None
    enabled_now = table is not None and stack.time_to_live_enabled()
    if (ttl > 0) == enabled_now:
        return [], changed_at
    if changed_at:
        ready = datetime.fromisoformat(changed_at) + TTL_CHANGE_INTERVAL
        if now < ready:
            raise StackError(
                f"The history table's TTL was changed at {changed_at[:19]}Z, and DynamoDB allows "
                "one change per hour",
                f"run setup again after {ready.isoformat()[:19]}Z",
            )
    from s3sizer.lambdas.history import TTL_ATTRIBUTE

    step = st.SetHistoryTtl(stack.names.table, ttl > 0, TTL_ATTRIBUTE)
    return [step], now.isoformat()


def _growth(existing: StackConfig | None, given: tuple[int, int] | None) -> tuple:
    """--alarm-growth as given ((0, 0): off), else as the stack had it."""
    if given is None:
        return (_kept(existing, "alarm_growth"), _kept(existing, "alarm_growth_period"))
    return given if given[0] else (None, None)


def _kept(existing: StackConfig | None, name: str):
    return getattr(existing, name) if existing else None


def _kept_settings(existing: StackConfig | None) -> dict:
    """What a re-run of setup must not forget: deploy's choices."""
    if existing is None:
        return {}
    kept = (*DEPLOY_SETTINGS, "layer_arn", "build_layer", "delivery", "eventbridge_owned")
    return {name: getattr(existing, name) for name in kept}
