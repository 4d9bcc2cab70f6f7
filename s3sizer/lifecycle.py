"""setup, deploy, teardown and redrive: plan first, then apply (or only show, with --dry-run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.context import StackContext
from s3sizer.errors import StackError
from s3sizer.stack.apply import Executor
from s3sizer.stack.change_lease import changing
from s3sizer.stack.model import StackConfig
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.routes import DEFAULT, letters, route
from s3sizer.stack.state import Stack
from s3sizer.stack.steps import Plan, Step

OnStep = Callable[[Step], None]
ShowPlan = Callable[[Plan], None]


def _noop(_) -> None:
    pass


def _show_then_apply(
    stack: Stack, plan: Plan, dry_run: bool, show_plan: ShowPlan, on_step: OnStep, **executor
) -> Plan:
    """Every command's last two moves: the plan shown, then applied unless it is a dry run."""
    show_plan(plan)
    if not dry_run:
        Executor(stack, **executor).run(plan, on_step)
    return plan


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
    write_path: str | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    stack = Stack(aws)
    with changing(stack, "setup", dry_run=dry_run):
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
            write_path=write_path,
        )
        return _show_then_apply(stack, plan, dry_run, show_plan, on_step, workers=workers)


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
    with changing(stack, "track", dry_run=dry_run):
        plan = plan_track(
            stack,
            buckets,
            prefix_depth=prefix_depth,
            alarm_above=alarm_above,
            storage_classes=storage_classes,
        )
        return _show_then_apply(stack, plan, dry_run, show_plan, on_step, workers=workers)


def untrack(
    aws: Aws,
    buckets: list[str],
    *,
    workers: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    """Stop tracking buckets: their notification configurations restored, their items gone
    (``workers`` partitions of the table at once)."""
    from s3sizer.stack.plan_buckets import plan_untrack

    stack = Stack(aws)
    with changing(stack, "untrack", dry_run=dry_run):
        plan = plan_untrack(stack, buckets)
        return _show_then_apply(stack, plan, dry_run, show_plan, on_step, workers=workers)


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
    with changing(stack, "deploy", dry_run=dry_run):
        config = stack.require_config()  # read while held: what it changes is what is there
        settings = {name: value for name, value in settings.items() if value is not None}
        runtime, architecture = settings.get("runtime"), settings.get("architecture")
        layer_arn, build = _layer_choice(layer, config, aws.settings.is_local)
        built = None
        if build:
            from s3sizer.stack.package import build_layer, cached_layer, runtime_python

            recipe = (runtime or config.runtime, architecture or config.architecture)
            # Byte code for the layer when this machine has the runtime's Python: Lambda's /opt
            # is read-only, so without it every cold start compiles matplotlib again.
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
        extra = {"sleep": sleep} if sleep else {}
        plan = plan_deploy(stack, options)
        return _show_then_apply(stack, plan, dry_run, show_plan, on_step, **extra)


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
    with changing(stack, "teardown", dry_run=dry_run):
        plan = plan_teardown(stack)
        show_plan(plan)
        if plan.steps and not dry_run and confirm(plan):
            Executor(stack).run(plan, on_step)
        return plan


def redrive(
    ctx: StackContext,
    *,
    confirm: Callable[[int, int], bool] = lambda waiting, fold_waiting: True,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Send the dead letters back to be applied; each applies once (sequencers see to it).

    The stack's route says how (stack/routes/): on the queue routes SQS moves them into the
    stack's queue, on the direct route the tracker is given each original event again. Either
    way it moves every letter it announced, or fails saying how many are left and why.
    """
    names = ctx.names
    dlq_url = ctx.stack.queue_url(names.dead_letter_queue)
    if dlq_url is None:
        raise StackError(f"Stack {names.stack!r} has no dead-letter queue", "run `s3sizer deploy`")
    waiting = letters.dead_letters(ctx, dlq_url)
    # On the fold write path, the stream batches the fold's mapping gave up on too.
    fold_url = ctx.stack.queue_url(names.fold_dead_letter_queue) if _is_fold(ctx) else None
    if _is_fold(ctx) and fold_url is None:
        # What the fold's mapping gives up on meanwhile has nowhere to wait: deploy makes it.
        raise StackError(
            f"Stack {names.stack!r} has no fold dead-letter queue", "run `s3sizer deploy`"
        )
    fold_waiting = letters.dead_letters(ctx, fold_url) if fold_url else 0
    result = {"moved": 0} | ({"fold_moved": 0} if _is_fold(ctx) else {})
    if waiting + fold_waiting == 0 or not confirm(waiting, fold_waiting):
        return result
    if waiting:
        # A stack no deploy has routed yet: moved as on the queue routes.
        chosen = route(ctx.config.delivery) or DEFAULT
        result["moved"] = chosen.redrive(ctx, dlq_url, sleep)
        result["moved_to"] = chosen.redrives_to()
        if result["moved"] < waiting:
            letters.check_none_left(ctx, dlq_url, result["moved"], waiting)
    if fold_waiting:
        from s3sizer.stack import fold_redrive

        result["fold_moved"] = fold_redrive.redrive(ctx, fold_url)
    return result


def _is_fold(ctx: StackContext) -> bool:
    return ctx.config.write_path == "fold"
