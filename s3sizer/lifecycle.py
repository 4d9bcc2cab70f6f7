"""setup, deploy, teardown and redrive: plan first, then apply (or only show, with --dry-run)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.context import StackContext
from s3sizer.errors import StackError
from s3sizer.output import plural
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import StackConfig
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.state import Stack
from s3sizer.stack.steps import Plan, Step

OnStep = Callable[[Step], None]
ShowPlan = Callable[[Plan], None]


def _noop(_) -> None:
    pass


def setup(
    aws: Aws,
    bucket: str | None,
    *,
    ttl_days: int | None = None,
    prefix_depth: int | None = None,
    alarm_above: int | None = None,
    alarm_topic: str | None = None,
    alarm_growth: tuple[int, int] | None = None,
    uploads_every: float | None = None,
    storage_classes: bool | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    stack = Stack(aws)
    plan = plan_setup(
        stack,
        bucket,
        ttl_days,
        prefix_depth=prefix_depth,
        alarm_above=alarm_above,
        alarm_topic=alarm_topic,
        alarm_growth=alarm_growth,
        uploads_every=uploads_every,
        storage_classes=storage_classes,
    )
    show_plan(plan)
    if not dry_run:
        Executor(stack, workers=workers).run(plan, on_step)
    return plan


def track(
    aws: Aws,
    buckets: list[str],
    *,
    prefix_depth: int | None = None,
    alarm_above: int | None = None,
    storage_classes: bool | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    """Adopt more buckets into the stack (or change their settings): plan, then apply."""
    from s3sizer.stack.plan_buckets import plan_track

    stack = Stack(aws)
    plan = plan_track(
        stack,
        buckets,
        prefix_depth=prefix_depth,
        alarm_above=alarm_above,
        storage_classes=storage_classes,
    )
    show_plan(plan)
    if not dry_run:
        Executor(stack, workers=workers).run(plan, on_step)
    return plan


def untrack(
    aws: Aws,
    buckets: list[str],
    *,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    """Stop tracking buckets: their notification configurations restored, their items gone."""
    from s3sizer.stack.plan_buckets import plan_untrack

    stack = Stack(aws)
    plan = plan_untrack(stack, buckets)
    show_plan(plan)
    if not dry_run:
        Executor(stack).run(plan, on_step)
    return plan


@dataclass(frozen=True)
class LayerChoice:
    """Where the plotting function's matplotlib comes from."""

    layer_arn: str | None = None
    build: bool | None = None  # None: as the last deploy did, or the default
    wheel_dir: Path | None = None


def deploy(
    aws: Aws,
    layer: LayerChoice,
    *,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
    on_layer_build: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] | None = None,
    **settings,
) -> Plan:
    """`settings` are DeployOptions' (DEPLOY_SETTINGS and `delivery`); None means not given."""
    stack = Stack(aws)
    config = stack.require_config()
    settings = {name: value for name, value in settings.items() if value is not None}
    runtime, architecture = settings.get("runtime"), settings.get("architecture")
    layer_arn, build = _layer_choice(layer, config, aws.settings.is_local)
    built = None
    if build:
        from s3sizer.stack.package import build_layer, cached_layer, runtime_python

        recipe = (runtime or config.runtime, architecture or config.architecture)
        # Byte code for the layer when this machine has the runtime's Python: Lambda's /opt is
        # read-only, so without it every cold start compiles matplotlib again.
        how = {"wheel_dir": layer.wheel_dir, "compile_with": runtime_python(recipe[0])}
        # A dry run downloads nothing: it compares with the cached layer, if there is one.
        built = cached_layer(*recipe, **how)
        if built is None and not dry_run:
            on_layer_build()
            built = build_layer(*recipe, **how)
    options = DeployOptions(
        layer_arn=layer_arn,
        build_layer=build,
        layer_path=built.path if built else None,
        layer_sha256=built.sha256 if built else None,
        **settings,
    )
    plan = plan_deploy(stack, options)
    show_plan(plan)
    if not dry_run:
        extra = {"sleep": sleep} if sleep else {}
        Executor(stack, **extra).run(plan, on_step)
    return plan


def _layer_choice(choice: LayerChoice, config: StackConfig, local: bool) -> tuple[str | None, bool]:
    """What this deploy uses: the options given, else the last deploy's choice, else the default.

    The default builds the layer on AWS; a local endpoint's workers use the host's matplotlib.
    """
    if choice.layer_arn:
        return choice.layer_arn, False
    if choice.build is not None:
        return None, choice.build
    if config.layer_arn or config.build_layer is not None:
        return config.layer_arn, bool(config.build_layer)
    return None, not local


def teardown(
    aws: Aws,
    *,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    confirm: Callable[[Plan], bool] = lambda plan: True,
    on_step: OnStep = _noop,
) -> Plan:
    """Delete what the plan lists; the plan confirmed is the plan run."""
    stack = Stack(aws)
    plan = plan_teardown(stack)
    show_plan(plan)
    if plan.steps and not dry_run and confirm(plan):
        Executor(stack).run(plan, on_step)
    return plan


def redrive(
    ctx: StackContext,
    *,
    confirm: Callable[[int], bool] = lambda waiting: True,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Send the dead letters back to be applied; each applies once (sequencers see to it).

    On the queue routes SQS itself moves them into the stack's queue (StartMessageMoveTask, as
    the console's "DLQ redrive" does). On the direct route each holds the event Lambda gave up
    on, which the tracker is given again; one that fails again stays in the DLQ, at once
    receivable by the next redrive. Either way it moves every letter it announced, or fails
    saying how many are left and why.
    """
    names = ctx.names
    dlq_url = ctx.stack.queue_url(names.dead_letter_queue)
    if dlq_url is None:
        raise StackError(f"Stack {names.stack!r} has no dead-letter queue", "run `s3sizer deploy`")
    waiting = _dead_letters(ctx, dlq_url)
    if waiting == 0 or not confirm(waiting):
        return {"moved": 0}
    from s3sizer.stack.routes import route

    chosen = route(ctx.config.delivery)
    via_queue = chosen is None or chosen.via_queue
    moved = _move_task(ctx, sleep) if via_queue else _reinvoke(ctx, dlq_url)
    if moved < waiting:
        _check_none_left(ctx, dlq_url, moved, waiting)
    return {"moved": moved}


def _dead_letters(ctx: StackContext, dlq_url: str, *, held_only: bool = False) -> int:
    attributes = ctx.stack.queue_attributes(dlq_url)
    held = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    return held if held_only else held + int(attributes.get("ApproximateNumberOfMessages", 0))


def _check_none_left(ctx: StackContext, dlq_url: str, moved: int, announced: int) -> None:
    """Fewer moved than announced: fine if none is left (the count was approximate), else say."""
    left = _dead_letters(ctx, dlq_url)
    if left == 0:
        return
    held = _dead_letters(ctx, dlq_url, held_only=True)
    why = (
        f"{held} of them are held by another receiver (an earlier redrive, or a reader of the "
        "queue) until their visibility timeout ends"
        if held
        else "they arrived or became visible while it ran"
    )
    raise StackError(
        f"Redrive moved {moved} of {plural(announced, 'dead letter')}; "
        f"{plural(left, 'dead letter')} still wait: {why}",
        "run `s3sizer redrive` again in a minute",
    )


def _move_task(ctx: StackContext, sleep: Callable[[float], None]) -> int:
    sqs, arns = ctx.client("sqs"), ctx.stack.arns(ctx.config)
    source = arns.queue(ctx.names.dead_letter_queue)
    # Named explicitly: letters from the EventBridge target's DLQ never came from a source queue.
    handle = sqs.start_message_move_task(
        SourceArn=source, DestinationArn=arns.queue(ctx.names.queue)
    )["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        if task.get("Status") in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        sleep(1.0)
    if task.get("Status") != "COMPLETED":
        raise StackError(
            f"The DLQ redrive ended {task.get('Status')}: {task.get('FailureReason', '')}",
            "run `s3sizer redrive` again",
        )
    return int(task.get("ApproximateNumberOfMessagesMoved", 0))


# Long enough for one batch of invocations (the tracker's timeout is far shorter than 10 of
# these); a letter this process fails on is released at once instead of waiting it out.
REINVOKE_VISIBILITY_SECONDS = 60


def _reinvoke(ctx: StackContext, dlq_url: str) -> int:
    """Give each failure record's original event to the tracker; delete it once applied."""
    sqs, functions = ctx.client("sqs"), ctx.client("lambda")
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=REINVOKE_VISIBILITY_SECONDS,
        ).get("Messages", [])
        if not messages:
            return moved
        for index, message in enumerate(messages):
            try:
                failed = _applied_again(ctx, functions, message)
            except BaseException:
                _release(sqs, dlq_url, messages[index:])
                raise
            if failed:
                # This letter and the rest of the batch go back now, not in a minute: the next
                # redrive (after the fix) finds every one of them.
                _release(sqs, dlq_url, messages[index:])
                left = _dead_letters(ctx, dlq_url)
                raise StackError(
                    f"The tracker failed again on a dead letter ({failed}) after applying "
                    f"{moved}; {plural(left, 'dead letter')} still wait",
                    "see `s3sizer logs size-tracking`, fix the cause (`s3sizer deploy` puts the "
                    "functions back), then run redrive again",
                )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def _applied_again(ctx: StackContext, functions, message: dict) -> str:
    """Invoke the tracker with the letter's original event: '' when applied, else the error."""
    record = json.loads(message["Body"])
    payload = record.get("requestPayload", record)
    response = functions.invoke(
        FunctionName=ctx.names.function("size-tracking"), Payload=json.dumps(payload).encode()
    )
    if not response.get("FunctionError"):
        return ""
    body = response.get("Payload")
    detail = body.read().decode(errors="replace") if body is not None else ""
    with contextlib.suppress(ValueError, AttributeError):  # not JSON, or not an error object
        detail = json.loads(detail).get("errorMessage", detail)
    return str(detail)[:200] or response["FunctionError"]


def _release(sqs, dlq_url: str, messages: list[dict]) -> None:
    """Make letters this process received visible again at once (visibility timeout 0)."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )
