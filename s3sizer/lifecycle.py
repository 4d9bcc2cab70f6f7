"""setup, deploy and teardown: plan first, then apply (or only show, with --dry-run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s3sizer.aws import Aws
from s3sizer.stack.apply import Executor
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
    build: bool = True
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
    use_layer = bool(layer.layer_arn) or layer.build
    built = None
    if layer.build and not layer.layer_arn and not dry_run:
        from s3sizer.stack.package import build_layer

        on_layer_build()
        built = build_layer(
            runtime or config.runtime,
            architecture or config.architecture,
            wheel_dir=layer.wheel_dir,
        )
    options = DeployOptions(
        layer_arn=layer.layer_arn,
        use_layer=use_layer,
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
