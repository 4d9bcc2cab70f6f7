"""Desired against existing: each planner makes only describe, get and list calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import iam
from s3sizer.stack.model import (
    ADOPTED_DRIVER_PREFIX,
    FUNCTIONS,
    LAYER_UPLOAD,
    PLOT_KEY,
    RESERVED_PREFIX,
    TRACKED_EVENTS,
    FunctionSpec,
    StackConfig,
    bucket_name_problem,
)
from s3sizer.stack.package import code_sha256, function_zip
from s3sizer.stack.state import Stack

NEW_LAYER = "(new layer version)"  # stands for the ARN that publish_layer will return


@dataclass(frozen=True)
class Step:
    """One mutating instruction; `apply` interprets it, `--dry-run` only prints it."""

    action: str
    target: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.action.replace('_', ' ')}: {self.target}"


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()


def check_bucket_name(bucket: str) -> None:
    problem = bucket_name_problem(bucket)
    if problem:
        raise UsageError(f"Invalid bucket name {bucket!r}: {problem}", "choose a valid --bucket")


def plan_setup(stack: Stack, bucket: str | None, ttl_days: int | None = None) -> Plan:
    if bucket:
        check_bucket_name(bucket)  # before any API call
    if ttl_days is not None and ttl_days < 0:
        raise UsageError("--history-ttl-days must be 0 (keep forever) or more", "")
    names, existing = stack.names, stack.config
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
    # Only a bucket setup creates now, or one that carries the stack's tag, is s3sizer's to delete.
    owned = state == "missing" or stack.bucket_tagged_ours(bucket)
    ttl = existing.history_ttl_days if existing and ttl_days is None else (ttl_days or 0)
    config = StackConfig(
        stack=names.stack,
        bucket=bucket,
        bucket_owned=owned,
        region=region,
        history_ttl_days=ttl,
        **_kept_settings(existing),
    )

    steps: list[Step] = []
    if table is None:
        steps.append(Step("create_table", names.table))
    if config != existing:
        steps.append(Step("put_config", names.table, {"config": config}))
    if state == "missing":
        steps.append(Step("create_bucket", bucket, {"bucket": bucket}))
    arns = stack.arns(config)
    for spec in FUNCTIONS:
        document = stack.role_policy(spec.short)
        if document is None:
            steps.append(Step("create_role", names.role(spec.short), {"short": spec.short}))
        desired = iam.policy_for(spec.short, arns, config.driver_prefix)
        if document != desired:
            steps.append(
                Step(
                    "put_role_policy",
                    names.policy(spec.short),
                    {"short": spec.short, "document": desired},
                )
            )
    previous_ttl = existing.history_ttl_days if existing else 0
    if ttl != previous_ttl:
        steps.append(Step("set_history_ttl", names.table, {"days": ttl}))
    if table is None or stack.history(config).totals(bucket).updated_at is None:
        steps.append(Step("record_baseline", bucket, {"config": config}))
    notes = () if state == "missing" else (f"adopting existing bucket {bucket}",)
    return Plan(f"setup of stack {names.stack}", tuple(steps), notes)


def _kept_settings(existing: StackConfig | None) -> dict:
    if existing is None:
        return {}
    return {
        "runtime": existing.runtime,
        "architecture": existing.architecture,
        "memory": existing.memory,
        "timeout": existing.timeout,
    }


@dataclass(frozen=True)
class DeployOptions:
    layer_arn: str | None = None
    build_layer: bool = False
    layer_sha256: str | None = None  # of the built layer, when one was built
    runtime: str | None = None
    architecture: str | None = None
    memory: dict[str, int] = field(default_factory=dict)
    timeout: dict[str, int] = field(default_factory=dict)


def deploy_config(existing: StackConfig, options: DeployOptions) -> StackConfig:
    from dataclasses import replace

    return replace(
        existing,
        runtime=options.runtime or existing.runtime,
        architecture=options.architecture or existing.architecture,
        memory={**existing.memory, **options.memory},
        timeout={**existing.timeout, **options.timeout},
        layer_arn=options.layer_arn,
        build_layer=options.build_layer,
    )


def plan_deploy(stack: Stack, options: DeployOptions) -> Plan:
    existing = stack.require_config()
    config = deploy_config(existing, options)
    names, arns = stack.names, stack.arns(config)
    if stack.bucket_state(config.bucket) != "mine":
        raise StackError(
            f"Bucket {config.bucket!r} of stack {names.stack!r} is gone",
            "run `s3sizer setup` again",
        )
    steps: list[Step] = []
    if config != existing:
        steps.append(Step("put_config", names.table, {"config": config}))
    layer_arn = options.layer_arn
    if options.build_layer and not layer_arn:
        latest = _latest_layer(stack)
        if latest and latest["sha256"] == options.layer_sha256:
            layer_arn = latest["arn"]
        else:
            steps.append(Step("publish_layer", names.layer, {"config": config}))
            layer_arn = NEW_LAYER
    for spec in FUNCTIONS:
        if not stack.log_group_exists(spec.short):
            steps.append(
                Step("create_log_group", names.log_group(spec.short), {"short": spec.short})
            )
        steps += _function_steps(stack, spec, config, arns, layer_arn if spec.uses_layer else None)
    if not stack.has_invoke_permission():
        steps.append(
            Step("add_invoke_permission", names.function("size-tracking"), {"config": config})
        )
    notifications = stack.notification_configuration(config.bucket)
    _refuse_overlapping_entries(notifications, names.notification_id, config.bucket)
    entry = next(
        (
            e
            for e in notifications.get("LambdaFunctionConfigurations", [])
            if e.get("Id") == names.notification_id
        ),
        None,
    )
    wanted = {"arn": arns.function("size-tracking"), "events": sorted(TRACKED_EVENTS)}
    if (
        entry is None
        or {"arn": entry.get("LambdaFunctionArn"), "events": sorted(entry.get("Events", []))}
        != wanted
    ):
        steps.append(Step("put_notification", config.bucket, {"config": config}))
    if entry is None:
        # Changes made between setup's listing and now carried no event to the tracker.
        steps.append(Step("record_baseline", config.bucket, {"config": config}))
    notes = ()
    if not (options.build_layer or options.layer_arn):
        notes = ("no matplotlib layer: the plotting function uses what its runtime provides",)
    return Plan(f"deploy of stack {names.stack}", tuple(steps), notes)


def _families(events) -> set[tuple[str, str]]:
    """("ObjectCreated", "*") for "s3:ObjectCreated:*"; a bare family counts as a wildcard."""
    parts = [event.removeprefix("s3:").split(":") for event in events]
    return {(p[0], p[1] if len(p) > 1 else "*") for p in parts}


def _refuse_overlapping_entries(notifications: dict, own_id: str, bucket: str) -> None:
    """S3 refuses two entries for overlapping events on overlapping keys; say so before acting.

    Our entry has no key filter, so any other entry for one of the same event types overlaps.
    """
    ours = _families(TRACKED_EVENTS)
    for kind in ("LambdaFunctionConfigurations", "QueueConfigurations", "TopicConfigurations"):
        for entry in notifications.get(kind, []):
            if entry.get("Id") == own_id:
                continue
            theirs = _families(entry.get("Events", []))
            clash = any(
                f == g and (t == "*" or u == "*" or t == u) for f, t in ours for g, u in theirs
            )
            if clash:
                raise StackError(
                    f"Bucket {bucket!r} already sends {', '.join(entry.get('Events', []))} to "
                    f"another destination (entry {entry.get('Id')!r}); S3 allows one destination "
                    "per event type and key",
                    "send that entry's events through EventBridge, or track another bucket",
                )


def _latest_layer(stack: Stack) -> dict | None:
    versions = stack.layer_versions()
    if not versions:
        return None
    newest = max(versions, key=lambda v: v["Version"])
    detail = stack.client("lambda").get_layer_version(
        LayerName=stack.names.layer, VersionNumber=newest["Version"]
    )
    return {"arn": newest["LayerVersionArn"], "sha256": detail["Content"]["CodeSha256"]}


def function_settings(spec: FunctionSpec, config: StackConfig, arns: iam.Arns, layer_arn) -> dict:
    """The function's configuration as Lambda reports it, so it can be compared field by field."""
    names = arns.names
    env = {"TABLE_NAME": names.table, "BUCKET_NAME": config.bucket}
    if spec.short == "size-tracking":
        env |= {"IGNORE_PREFIX": RESERVED_PREFIX, "HISTORY_TTL_DAYS": str(config.history_ttl_days)}
    elif spec.short == "plotting":
        env |= {"PLOT_KEY": PLOT_KEY, "WINDOW_SECONDS": "10"}
    elif spec.short == "driver":
        env |= {
            "PLOTTING_FUNCTION": names.function("plotting"),
            "DRIVER_KEY_PREFIX": config.driver_prefix,
        }
    return {
        "Role": arns.role(spec.short),
        "Handler": spec.handler,
        "Runtime": config.runtime,
        "MemorySize": config.memory_of(spec),
        "Timeout": config.timeout_of(spec),
        "Environment": {"Variables": env},
        "Layers": [layer_arn] if layer_arn else [],
    }


def _function_steps(stack, spec, config, arns, layer_arn) -> list[Step]:
    name = stack.names.function(spec.short)
    zip_bytes = function_zip(spec)
    desired = function_settings(spec, config, arns, layer_arn)
    current = stack.function_configuration(spec.short)
    params = {"short": spec.short, "settings": desired, "zip": zip_bytes, "config": config}
    if current is None:
        return [Step("create_function", name, params)]
    steps = []
    if current.get("CodeSha256") != code_sha256(zip_bytes):
        steps.append(Step("update_function_code", name, params))
    if _configuration_differs(current, desired):
        steps.append(Step("update_function_configuration", name, params))
    return steps


def _configuration_differs(current: dict, desired: dict) -> bool:
    layers = [layer["Arn"] for layer in current.get("Layers", [])]
    for key, want in desired.items():
        have = layers if key == "Layers" else current.get(key)
        if key == "Environment":
            have = (have or {}).get("Variables", {})
            want = want["Variables"]
        if key == "Layers" and want == [NEW_LAYER]:
            return True
        if have != want:
            return True
    return False


def plan_teardown(stack: Stack) -> Plan:
    names, config = stack.names, stack.config
    steps: list[Step] = []
    bucket, owned = _teardown_bucket(stack, config)
    bucket_exists = bool(bucket) and stack.bucket_state(bucket) == "mine"
    if bucket_exists and stack.notification_entry(bucket) is not None:
        steps.append(Step("remove_notification", bucket, {"bucket": bucket}))
    for spec in FUNCTIONS:
        if stack.function_configuration(spec.short) is not None:
            steps.append(Step("delete_function", names.function(spec.short)))
    for version in stack.layer_versions():
        target = f"{names.layer}:{version['Version']}"
        steps.append(Step("delete_layer_version", target, {"version": version["Version"]}))
    for spec in FUNCTIONS:
        if stack.log_group_exists(spec.short):
            steps.append(Step("delete_log_group", names.log_group(spec.short)))
    for spec in FUNCTIONS:
        if stack.role_policy(spec.short) is not None:
            steps.append(Step("delete_role", names.role(spec.short), {"short": spec.short}))
    if bucket_exists and owned and stack.bucket_tagged_ours(bucket):
        steps.append(Step("delete_bucket", bucket, {"bucket": bucket}))
    elif bucket_exists:
        keys = own_objects(stack, bucket)
        if keys:
            steps.append(
                Step(
                    "delete_own_objects",
                    f"{bucket}: {', '.join(keys)}",
                    {"bucket": bucket, "keys": keys},
                )
            )
    if stack.table_description() is not None:
        steps.append(Step("delete_table", names.table))
    return Plan(f"teardown of stack {names.stack}", tuple(steps))


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
    s3 = stack.client("s3")
    exact = [PLOT_KEY] + [ADOPTED_DRIVER_PREFIX + key for key in iam.DRIVER_KEYS]
    found = []
    for prefix in (RESERVED_PREFIX, ADOPTED_DRIVER_PREFIX):
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                key = item["Key"]
                if key in exact or LAYER_UPLOAD.match(key):
                    found.append(key)
    return sorted(set(found))
