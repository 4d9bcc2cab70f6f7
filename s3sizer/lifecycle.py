"""setup, deploy and teardown: plan first, then apply (or only show, with --dry-run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import StackConfig
from s3sizer.stack.plan import DeployOptions, Plan, Step, plan_deploy, plan_setup, plan_teardown
from s3sizer.stack.state import Stack

OnStep = Callable[[Step], None]
ShowPlan = Callable[[Plan], None]


def _noop(_) -> None:
    pass


def setup(
    aws: Aws,
    bucket: str | None,
    *,
    ttl_days: int | None = None,
    dry_run: bool = False,
    show_plan: ShowPlan = _noop,
    on_step: OnStep = _noop,
) -> Plan:
    stack = Stack(aws)
    plan = plan_setup(stack, bucket, ttl_days)
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
        from s3sizer.stack.package import build_layer, cached_layer

        recipe = (runtime or config.runtime, architecture or config.architecture)
        # A dry run downloads nothing: it compares with the cached layer, if there is one.
        built = cached_layer(*recipe, wheel_dir=layer.wheel_dir)
        if built is None and not dry_run:
            on_layer_build()
            built = build_layer(*recipe, wheel_dir=layer.wheel_dir)
    options = DeployOptions(
        layer_arn=layer_arn,
        build_layer=build,
        layer_sha256=built.sha256 if built else None,
        runtime=runtime,
        architecture=architecture,
        memory=memory or {},
        timeout=timeout or {},
    )
    plan = plan_deploy(stack, options)
    show_plan(plan)
    if not dry_run:
        extra = {"sleep": sleep} if sleep else {}
        Executor(stack, layer_path=built.path if built else None, **extra).run(plan, on_step)
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
