"""The unfinished uploads' poll in the stack: its schedule, the tracker's grant, a poll now.

A scheduled EventBridge rule, `<stack>-uploads-poll` at `rate(--uploads-every)`, invokes the
size-tracking function, which polls every tracked bucket (lambdas/uploads.py). Lambda lets the
rule invoke it by one statement of its resource policy (same name, SourceArn the rule's ARN);
the tracker's role may list the tracked buckets' uploads and parts, and nothing else of S3.
With `--uploads-every 0` the rule and the permission are removed, and the grant with them.

`status --refresh-uploads` and `track` poll with the user's session instead (`refresh`).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from s3sizer.errors import StackError, UsageError
from s3sizer.stack import steps as st
from s3sizer.stack.model import MIN_UPLOADS_EVERY, StackConfig
from s3sizer.stack.state import Stack, error_code

TRACKER = "size-tracking"
EVENTS_PRINCIPAL = "events.amazonaws.com"


def check_every(seconds: float) -> int:
    """--uploads-every as whole seconds: 0 (off), or whole minutes, one at least (rate())."""
    if seconds and seconds < MIN_UPLOADS_EVERY:
        raise UsageError(
            f"--uploads-every must be 0 (off) or at least 1 minute, not {seconds:g} s: "
            "EventBridge's shortest rate is 1 minute",
            "pass e.g. --uploads-every 15m",
        )
    if seconds % 60:
        raise UsageError(
            f"--uploads-every must be whole minutes, not {seconds:g} s (EventBridge's rate())",
            "pass e.g. --uploads-every 15m or 1h",
        )
    return int(seconds)


def rate_expression(seconds: int) -> str:
    """`rate(15 minutes)`, `rate(1 hour)`, `rate(2 days)`: the largest unit that divides it."""
    minutes = seconds // 60
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable")


def polled_buckets(stack: Stack, config: StackConfig, buckets=None) -> tuple[str, ...]:
    """The buckets the tracker's role may poll: every tracked one, none with the schedule off."""
    if not config.uploads_every:
        return ()
    names = buckets if buckets is not None else [s.bucket for s in stack.tracked(config)]
    return tuple(names)


def rule_arn(stack: Stack, config: StackConfig) -> str:
    arns = stack.arns(config)
    return (
        f"arn:{arns.partition}:events:{arns.region}:{arns.account}:rule/{stack.names.uploads_rule}"
    )


def schedule_steps(
    stack: Stack, config: StackConfig, tags: dict, *, tracker_planned: bool = False
) -> list[st.Step]:
    """The rule, the tracker's permission for it and its target, as --uploads-every says;
    nothing until the tracker exists (or this plan creates it)."""
    names = stack.names
    name, function = names.uploads_rule, names.function(TRACKER)
    rule = stack.rule(name)
    tracker = tracker_planned or stack.function_configuration(TRACKER) is not None
    if not config.uploads_every or not tracker:
        return off_steps(stack)
    expression = rate_expression(config.uploads_every)
    out: list[st.Step] = []
    if rule is None or (rule.get("ScheduleExpression"), rule.get("State")) != (
        expression,
        "ENABLED",
    ):
        description = f"Polls the unfinished uploads of s3sizer stack {names.stack}'s buckets"
        out.append(st.PutRule(name, None, description, tags, schedule=expression))
    if not stack.has_invoke_permission(name):
        out.append(
            st.AddPermission(
                function, name, rule_arn(stack, config), "", principal=EVENTS_PRINCIPAL
            )
        )
    target = {"Id": name, "Arn": stack.arns(config).function(TRACKER)}
    targets = stack.rule_targets(name) if rule is not None else None
    if not targets or target not in [{k: t.get(k) for k in target} for t in targets]:
        out.append(st.PutTarget(name, target))
    return out


def off_steps(stack: Stack) -> list[st.Step]:
    """No schedule: the rule (with its target) and the tracker's permission for it go."""
    name = stack.names.uploads_rule
    out: list[st.Step] = []
    if stack.rule(name) is not None:
        out.append(st.DeleteRule(name, tuple(t["Id"] for t in stack.rule_targets(name) or [])))
    if stack.has_invoke_permission(name):
        out.append(st.RemovePermission(stack.names.function(TRACKER), name))
    return out


def teardown_steps(stack: Stack) -> list[st.Step]:
    """The rule only: the permission goes with the function."""
    name = stack.names.uploads_rule
    if stack.rule(name) is None:
        return []
    return [st.DeleteRule(name, tuple(t["Id"] for t in stack.rule_targets(name) or []))]


def refresh(stack: Stack, buckets: list[str]) -> list[dict]:
    """Poll the buckets' unfinished uploads now, with the user's session; what each poll found."""
    from s3sizer.lambdas.uploads import poll_bucket

    s3, ddb, found = stack.client("s3"), stack.client("dynamodb"), []
    for bucket in buckets:
        try:
            found.append(poll_bucket(s3, ddb, stack.names.table, bucket).as_dict())
        except ClientError as exc:
            raise refresh_error(bucket, exc) from None
    return found


def refresh_error(bucket: str, exc: ClientError) -> StackError:
    """What stopped a poll with the user's session, and its own fix: a bucket deleted since it
    was tracked is no question of permissions, nor is a failed write to the table."""
    code = error_code(exc)
    if code == "NoSuchBucket":
        return StackError(
            f"Bucket {bucket} no longer exists, so it has no unfinished uploads to list",
            f"run `s3sizer untrack {bucket}` to stop tracking it (`s3sizer teardown`, if it "
            "is the stack's first bucket)",
        )
    if exc.operation_name == "PutItem":
        return StackError(
            f"Could not record the unfinished uploads of {bucket} in the stack's table: {code}",
            "your credentials need dynamodb:PutItem on the table; run it again if it was throttled",
        )
    return StackError(
        f"Could not list the unfinished uploads of {bucket}: {code}",
        "your credentials need s3:ListBucketMultipartUploads and "
        "s3:ListMultipartUploadParts on the bucket",
    )
