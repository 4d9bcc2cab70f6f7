"""setup, deploy, teardown and redrive: plan first, then apply (or only show, with --dry-run)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.context import StackContext
from s3sizer.errors import StackError
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import StackConfig
from s3sizer.stack.plan import plan_setup, plan_teardown
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
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
    )
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
    runtime: str | None = None,
    architecture: str | None = None,
    memory: dict[str, int] | None = None,
    timeout: dict[str, int] | None = None,
    delivery: str | None = None,
    max_concurrency: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
    on_layer_build: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] | None = None,
) -> Plan:
    stack = Stack(aws)
    config = stack.require_config()
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
        runtime=runtime,
        architecture=architecture,
        memory=memory or {},
        timeout=timeout or {},
        delivery=delivery,
        max_concurrency=max_concurrency,
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


def redrive(ctx: StackContext, *, confirm: Callable[[int], bool] = lambda waiting: True) -> dict:
    """Send the dead letters back to be applied; each is applied once (sequencers see to it).

    On the queue routes they go back to the stack's queue. On the direct route each holds the
    event Lambda gave up on, which the tracker is given again; a failure leaves it in the DLQ.
    """
    names = ctx.names
    dlq_url = ctx.stack.queue_url(names.dead_letter_queue)
    if dlq_url is None:
        raise StackError(f"Stack {names.stack!r} has no dead-letter queue", "run `s3sizer deploy`")
    waiting = _dead_letters(ctx, dlq_url)
    if waiting == 0 or not confirm(waiting):
        return {"moved": 0}
    sqs = ctx.client("sqs")
    queue_url = ctx.stack.queue_url(names.queue) if ctx.config.delivery != "direct" else None
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return {"moved": moved}
        done = _send_back(ctx, sqs, queue_url, messages)
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        moved += len(done)
        if len(done) < len(messages):
            failed = len(messages) - len(done)
            raise StackError(
                f"{failed} dead letters failed again after {moved} were redriven",
                "see `s3sizer logs size-tracking`, fix the cause, then run redrive again",
            )


def _dead_letters(ctx: StackContext, dlq_url: str) -> int:
    attributes = ctx.stack.queue_attributes(dlq_url)
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def _send_back(ctx: StackContext, sqs, queue_url: str | None, messages: list[dict]) -> list[dict]:
    """The messages that made it back; the rest stay in the DLQ."""
    if queue_url is not None:
        entries = [
            {"Id": str(i), "MessageBody": m["Body"]}
            | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
            for i, m in enumerate(messages)
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {entry["Id"] for entry in response.get("Successful", [])}
        return [m for i, m in enumerate(messages) if str(i) in sent]
    client = ctx.client("lambda")
    done = []
    for message in messages:
        record = json.loads(message["Body"])
        payload = record.get("requestPayload", record)
        response = client.invoke(
            FunctionName=ctx.names.function("size-tracking"), Payload=json.dumps(payload).encode()
        )
        if not response.get("FunctionError"):
            done.append(message)
    return done
