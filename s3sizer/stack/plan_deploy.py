"""Desired against existing, for deploy: functions, layer, logs, and the delivery route."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from s3sizer.errors import StackError
from s3sizer.stack import dashboard, delivery, fold, uploads
from s3sizer.stack import steps as st
from s3sizer.stack.functions import configuration_differs, function_settings
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import (
    DEPLOY_SETTINGS,
    RUNTIME_WHEEL_PLATFORMS,
    StackConfig,
    first_bucket_settings,
    functions_of,
)
from s3sizer.stack.package import DIRECT_UPLOAD_LIMIT, code_sha256, function_zip
from s3sizer.stack.plan import (
    baseline_step,
    baseline_unfinished,
    bucket_baseline,
    mirror_steps,
    role_steps,
    stack_tags,
)
from s3sizer.stack.plan_buckets import choose_bucket_route, held_settings, routing_steps
from s3sizer.stack.routes import ROUTES, Route
from s3sizer.stack.state import Stack

LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class DeployOptions:
    layer_arn: str | None = None
    build_layer: bool = False
    layer_path: Path | None = None  # the built (or cached) layer zip, when one is wanted
    layer_sha256: str | None = None
    runtime: str | None = None
    architecture: str | None = None
    memory: dict[str, int] = field(default_factory=dict)
    timeout: dict[str, int] = field(default_factory=dict)
    delivery: str | None = None
    max_concurrency: int | None = None
    batch_size: int | None = None
    uploads_every: float | None = None  # seconds; 0 turns the uploads poll's schedule off
    write_path: str | None = None  # "transaction" or "fold" (model.WRITE_PATHS)


def deploy_config(existing: StackConfig, options: DeployOptions) -> StackConfig:
    """The config this deploy asks for: each of DEPLOY_SETTINGS resolved as declared there."""
    resolved = {}
    for name, how in DEPLOY_SETTINGS.items():
        given, kept = getattr(options, name), getattr(existing, name)
        resolved[name] = {**kept, **given} if how == "merge" else (given or kept)
    if options.uploads_every is not None:  # 0 is a choice here, not "not given"
        resolved["uploads_every"] = uploads.check_every(options.uploads_every)
    return replace(
        existing, layer_arn=options.layer_arn, build_layer=options.build_layer, **resolved
    )


def plan_deploy(stack: Stack, options: DeployOptions) -> st.Plan:
    stored = stack.require_config()
    existing = fold.as_running(stack, stored)
    fold.check_write_path(existing, options.write_path)
    config = deploy_config(existing, options)
    if config.runtime not in RUNTIME_WHEEL_PLATFORMS:
        raise StackError(
            f"Runtime {config.runtime!r} cannot run s3sizer's functions",
            f"pass --runtime with one of: {', '.join(RUNTIME_WHEEL_PLATFORMS)}",
        )
    delivery.check_batching(config)
    names = stack.names
    if stack.bucket_state(config.bucket) != "mine":
        raise StackError(
            f"Bucket {config.bucket!r} of stack {names.stack!r} is gone",
            "run `s3sizer teardown`, then `s3sizer setup` to start anew",
        )
    current = stack.notification_configuration(config.bucket)
    route, why = delivery.choose_route(options.delivery, existing, current, names.notification_id)
    chosen = ROUTES[route]
    others = _route_others(stack, existing, options.delivery, chosen)
    # Ours only while our route uses it: once deploy turns it off, a later one is the user's.
    eb_owned = chosen.owns_eventbridge(existing.eventbridge_owned, current)
    config = replace(config, delivery=route, eventbridge_owned=eb_owned)
    arns, tags = stack.arns(config), stack_tags(stack)

    steps: list[st.Step] = []
    if not stored.delivery:  # never routed: a quiet baseline a kill stopped ends quietly first
        steps += _quiet_runs_left(stack, existing, [old for _, _, old in others])
    # What s3sizer is about to own is recorded first, so that a teardown after an interrupted
    # deploy finds it; the settings asked for are stored last, once every step they need has
    # succeeded, so a failed deploy never leaves one that would break the next plain deploy.
    # EventBridge delivery s3sizer turned on stays its own until it is off (held_settings).
    held = eb_owned or existing.eventbridge_owned
    owned = replace(existing, delivery=route, eventbridge_owned=held)
    if owned != stored:
        steps.append(st.PutConfig(names.table, owned, f"delivery {route}"))
    # Each bucket's settings items before the tracker that reads them is deployed.
    steps += mirror_steps(stack, owned)
    steps += [
        st.PutBucket(names.table, held_settings(new, old), names.stack, f"delivery {new.delivery}")
        for new, _, old in others
        if held_settings(new, old) != old
    ]
    buckets = [first_bucket_settings(owned)] + [new for new, _, _ in others]
    # Roles first: the tracker's may need the queue permissions before its mapping is made.
    steps += role_steps(stack, config, stack.bucket_kms_key(config.bucket))
    layer_arn = _layer_steps(stack, config, options, steps)
    # On the fold path the stream, the fold and its mapping come before the tracker's new
    # settings (WRITE_PATH=fold), so that no key change the tracker writes goes unfolded.
    steps += fold.stream_steps(stack, config) + fold.dead_letter_steps(stack, config, tags)
    tracker_steps: list[st.Step] = []
    for spec in functions_of(config):
        if not stack.log_group_exists(spec.short):
            steps.append(st.CreateLogGroup(names.log_group(spec.short), LOG_RETENTION_DAYS, tags))
        uses = layer_arn if spec.uses_layer else None
        planned = _function_steps(stack, spec, config, arns, uses)
        deferred = fold.is_fold(config) and spec.short == "size-tracking"
        (tracker_steps if deferred else steps).extend(planned)
    steps += fold.mapping_steps(stack, config, arns) + tracker_steps
    # The tracker exists once the steps above have run: it polls on the schedule.
    steps += uploads.schedule_steps(stack, config, tags, tracker_planned=True)
    steps += dashboard.deploy_steps(stack, config)
    wanted = delivery.desired_notifications(
        # EventBridge delivery s3sizer turned on goes off with a route that no longer needs it.
        current,
        route,
        config,
        arns,
        names.notification_id,
        eb_owned or existing.eventbridge_owned,
    )
    entries: list[st.Step] = []
    handed_back = replace(owned, eventbridge_owned=eb_owned)
    if not delivery.same_notifications(current, wanted):
        entries.append(st.PutNotification(config.bucket, wanted, f"delivery {route}"))
    if handed_back != owned:  # the bucket's EventBridge delivery is off now: no longer ours
        entries.append(st.PutConfig(names.table, handed_back, "EventBridge off"))
        entries += mirror_steps(stack, handed_back)
        owned = handed_back
    # Changes made while events had no route (or another one) carried nothing to the tracker.
    if not delivery.same_delivery(current, wanted):
        entries += [st.MarkBaselineDue(names.table, config.bucket),
                    baseline_step(stack, config, versioned=True)]  # fmt: skip
    for new, current_other, old in others:
        entries += routing_steps(
            stack, new, current_other, config.history_ttl_days, old.eventbridge_owned
        )
    lost, relisting = _lost_meanwhile(stack, config, existing, others, entries, arns)
    entries += lost
    # The queue's policy and the rule follow the new routes before the entries do: a bucket
    # whose entry is not reached yet may lose events meanwhile, which its baseline brings back.
    # So every baseline the entries owe is marked first: a deploy stopped in between owes them.
    owed = [step for step in entries if isinstance(step, st.MarkBaselineDue)]
    steps += owed
    # Until its entry moves, a bucket's events still take its old route: the queue's policy and
    # the rule carry each moving bucket on both routes, and drop the old one only after the
    # entries (an event dropped in between may be the change after one its baseline keeps).
    before = buckets + _leaving(existing, others, buckets)
    shared = delivery.queue_steps(stack, config, before, arns, tags)
    on_route = [config.bucket] + [new.bucket for new, _, _ in others if new.delivery == route]
    shared += delivery.route_steps(stack, config, chosen, before, on_route, arns, tags)
    steps += shared
    steps += [step for step in entries if not isinstance(step, st.MarkBaselineDue)]
    resumed, elsewhere = _resumed_baselines(stack, config, buckets, steps)
    # Only once no bucket's entry needs what the route before used.
    final = delivery.queue_steps(stack, config, buckets, arns, tags)
    final += delivery.shared_steps(stack, buckets, arns, tags)
    # (A queue created above already has the policy with both: the next deploy narrows it.)
    steps += [s for s in final if s not in shared and not isinstance(s, st.CreateQueue)]
    steps += chosen.cleanup_steps(stack)
    if config != owned:
        steps.append(st.PutConfig(names.table, config, "deploy settings"))
    # Last: a baseline stopped again leaves the rest of the deploy done, and stored.
    steps += resumed
    notes = [f"delivery: {route} ({why})"]
    notes += [f"the baseline of {b} goes on in another s3sizer command" for b in elsewhere]
    notes += [
        f"the baseline running for {b} lists it again, as its events were lost" for b in relisting
    ]
    if not (options.build_layer or options.layer_arn):
        notes.append("no matplotlib layer: the plotting function uses what its runtime provides")
    return st.Plan(f"deploy of stack {names.stack}", tuple(steps), tuple(notes))


def _lost_meanwhile(stack: Stack, config, existing, others, entries: list, arns):
    """A baseline for each bucket that stays on its route but that what the route's buckets
    share no longer carried (the rule, or the queue's policy, deleted or changed by hand): its
    events went nowhere until this deploy puts that back, so its totals missed them. Of a
    bucket whose baseline another command is running, only the mark: that run lists it all
    again (baseline_ranges.mark_due). Returns the steps, and those buckets."""
    from s3sizer.stack.baseline_lease import held_now

    planned = {s.bucket for s in entries if isinstance(s, st.RecordBaseline)}
    relisting: list[str] = []
    kept = {config.bucket: config.delivery} if existing.delivery == config.delivery else {}
    kept |= {new.bucket: new.delivery for new, _, old in others if old.delivery == new.delivery}
    out: list[st.Step] = []
    for name, route in ROUTES.items():
        on_route = [b for b, r in kept.items() if r == name and b not in planned]
        for bucket in route.unrouted(stack, on_route, arns):
            out.append(st.MarkBaselineDue(stack.names.table, bucket))
            if held_now(stack.history(config), bucket):
                relisting.append(bucket)
                continue
            every = [first_bucket_settings(config), *(new for new, _, _ in others)]
            settings = next(s for s in every if s.bucket == bucket)
            out.append(bucket_baseline(stack, settings, config.history_ttl_days))
    return out, relisting


def _resumed_baselines(stack: Stack, config, buckets: list, planned: list):
    """The baseline of each bucket that an interrupted command left unfinished, and that this
    plan does not run anyway: the same deploy run again resumes it, as `setup` and `track` do
    (its route is already in place, so nothing else would). Not one that another command
    runs now (a scheduled `reconcile`, say): the buckets of those come second."""
    from s3sizer.stack.baseline_lease import held_now

    running = {step.bucket for step in planned if isinstance(step, st.RecordBaseline)}
    out: list[st.Step] = []
    elsewhere: list[str] = []
    for settings in buckets:
        if settings.bucket in running or not baseline_unfinished(stack, config, settings.bucket):
            continue
        if held_now(stack.history(config), settings.bucket):
            elsewhere.append(settings.bucket)
            continue
        out.append(bucket_baseline(stack, settings, config.history_ttl_days))
    return out, elsewhere


def _quiet_runs_left(stack: Stack, config, others: list) -> list[st.Step]:
    """A quiet baseline (`setup` or `track` before the first deploy) that was stopped, finished
    as it began, before any route delivers. Resumed live after the routes, one killed between a
    chunk's key items and its range's progress would miss that chunk: a live run counts moves
    against the key items it reads, and those no longer say what the keys held before."""
    from s3sizer.stack.baseline_lease import held_now
    from s3sizer.stack.baseline_ranges import quiet_run_left

    history = stack.history(config)
    out: list[st.Step] = []
    for settings in [first_bucket_settings(config), *others]:
        if not quiet_run_left(history, settings.bucket) or held_now(history, settings.bucket):
            continue
        out.append(bucket_baseline(stack, settings, config.history_ttl_days))
    return out


def _leaving(existing: StackConfig, others, buckets) -> list:
    """The settings before of each bucket whose route this deploy changes."""
    was = [first_bucket_settings(existing)] + [old for _, _, old in others]
    return [
        old
        for old, new in zip(was, buckets, strict=True)
        if old.delivery and old.delivery != new.delivery
    ]


def _route_others(stack: Stack, existing: StackConfig, asked: str | None, chosen: Route) -> list:
    """(settings as routed, notification configuration, settings before) of each bucket after
    the first: the route asked for applies to all of them, and a route the stack's imposes
    (direct: all or nothing) too."""
    imposed = chosen.imposed_on_buckets()
    asked = imposed or asked
    others = stack.tracked(existing)[1:]
    gone = [old.bucket for old in others if stack.bucket_state(old.bucket) != "mine"]
    if gone:  # every one named: a fix per run would take as many runs
        names = ", ".join(repr(bucket) for bucket in gone)
        raise StackError(
            f"{'Bucket' if len(gone) == 1 else 'Buckets'} {names} of stack "
            f"{stack.names.stack!r} {'is' if len(gone) == 1 else 'are'} gone",
            f"run `s3sizer untrack {' '.join(gone)}`",
        )
    out = []
    for old in others:
        was_imposed = old.delivery and ROUTES[old.delivery].imposed_on_buckets()
        # A bucket leaving an imposed route is routed again: sqs, or eventbridge if taken.
        shown = replace(old, delivery=None) if was_imposed and not imposed else old
        current = stack.notification_configuration(old.bucket)
        new, _ = choose_bucket_route(stack, shown, asked, current)
        out.append((new, current, old))
    return out


def _layer_steps(stack: Stack, config: StackConfig, options: DeployOptions, steps: list):
    """The layer the plotting function uses: given, the newest identical one, or a new one."""
    if options.layer_arn:
        _check_layer_exists(stack, options.layer_arn)
        return options.layer_arn
    if not options.build_layer:
        return None
    latest = _latest_layer(stack)
    if (
        latest
        and latest["sha256"] == options.layer_sha256
        and config.architecture in latest["architectures"]
    ):
        return latest["arn"]
    path = options.layer_path
    via_bucket = via_key = None
    if path is not None and path.stat().st_size > DIRECT_UPLOAD_LIMIT:
        from s3sizer.lambdas.own_keys import RESERVED_PREFIX

        via_bucket, via_key = config.bucket, f"{RESERVED_PREFIX}layers/{path.name}"
    steps.append(
        st.PublishLayer(
            stack.names.layer, path, config.runtime, config.architecture, via_bucket, via_key
        )
    )
    return st.NewLayerArn()


def _check_layer_exists(stack: Stack, arn: str) -> None:
    """Before anything changes: a missing layer would fail the plotting function's update."""
    fix = "use --no-layer, or --layer-arn with a layer version that exists"
    region = arn.split(":")[3]
    if region != stack.aws.region:
        raise StackError(
            f"Layer {arn} is in {region}; a function can use only layers of its own region "
            f"({stack.aws.region})",
            fix,
        )
    client = stack.client("lambda")
    layer, version = arn.rsplit(":", 1)
    # GetLayerVersion takes the layer's ARN (another account's too, given its permission); moto's
    # GetLayerVersionByArn answers an empty 200 whether the layer exists or not.
    try:
        client.get_layer_version(LayerName=layer, VersionNumber=int(version))
    except client.exceptions.ResourceNotFoundException:
        raise StackError(f"Layer version {arn} does not exist", fix) from None


def _latest_layer(stack: Stack) -> dict | None:
    versions = stack.layer_versions()
    if not versions:
        return None
    newest = max(versions, key=lambda v: v["Version"])
    detail = stack.client("lambda").get_layer_version(
        LayerName=stack.names.layer, VersionNumber=newest["Version"]
    )
    return {
        "arn": newest["LayerVersionArn"],
        "sha256": detail["Content"]["CodeSha256"],
        "architectures": detail.get("CompatibleArchitectures") or [],
    }


def _function_steps(stack: Stack, spec, config: StackConfig, arns: Arns, layer_arn) -> list:
    name = stack.names.function(spec.short)
    zip_bytes = function_zip(spec)
    desired = function_settings(spec, config, arns, layer_arn)
    current = stack.function_configuration(spec.short)
    if current is None:
        return [
            st.CreateFunction(
                name,
                zip_bytes,
                desired,
                config.architecture,
                f"s3sizer {spec.short} function of stack {stack.names.stack}",
                stack_tags(stack),
            )
        ]
    steps: list[st.Step] = []
    # Lambda changes a function's architecture only with its code (UpdateFunctionCode).
    arch_changed = current.get("Architectures", ["x86_64"]) != [config.architecture]
    if arch_changed or current.get("CodeSha256") != code_sha256(zip_bytes):
        steps.append(st.UpdateFunctionCode(name, zip_bytes, config.architecture))
    if configuration_differs(current, desired):
        steps.append(st.UpdateFunctionConfiguration(name, desired))
    return steps
