"""The Typer face of s3sizer: parse options, call one library function, render the result.

Nothing here talks to AWS; boto3, matplotlib and moto load only inside the commands that use them.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # recent Typer vendors its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - older Typer
    from click import exceptions as click

from s3sizer import __version__, output
from s3sizer.errors import S3SizerError, UsageError


class OneLineErrors(TyperGroup):
    """Every failure ends as one line on stderr: exit 2 for usage, 1 for the rest."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        debug = "--debug" in (sys.argv[1:] if args is None else list(args))
        try:
            result = super().main(
                args=args, prog_name=prog_name or "s3sizer", standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
                output.out.print(exc.ctx.get_help(), markup=False, highlight=False)
                code = 2
                return sys.exit(code) if standalone_mode else code
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            output.error_line(exc.format_message() + hint)
            code = 2
        except click.ClickException as exc:
            output.error_line(exc.format_message())
            code = exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            output.error_line("Interrupted")
            code = 130
        except Exception as exc:
            code = _report(exc, debug)
        if standalone_mode:
            sys.exit(code)
        return code


def _report(exc: Exception, debug: bool) -> int:
    error: S3SizerError | None = exc if isinstance(exc, S3SizerError) else None
    if error is None and "botocore" in sys.modules:
        from s3sizer.aws import translate

        error = translate(exc)
    if error is None and isinstance(exc, OSError) and exc.strerror:
        error = S3SizerError(
            f"{exc.strerror}: {exc.filename}", "check the path and its permissions"
        )
    if debug or error is None:
        traceback.print_exception(exc, file=sys.stderr)
    if error is None:
        output.error_line(
            f"Unexpected {type(exc).__name__}: {exc}. Please report it with --debug output"
        )
        return 1
    output.error_line(str(error))
    return error.exit_code


app = typer.Typer(
    cls=OneLineErrors,
    help="Track an S3 bucket's size exactly, with a serverless stack s3sizer deploys and removes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        output.out.print(f"s3sizer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(help="AWS profile (default: AWS_PROFILE).")] = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region (default: AWS_REGION, else us-east-1).")
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="AWS endpoint, e.g. the local one (default: AWS_ENDPOINT_URL)."),
    ] = None,
    stack: Annotated[str | None, typer.Option(envvar="S3SIZER_STACK", help="Stack name.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    from s3sizer.settings import resolve

    # --debug is read by OneLineErrors, which must know it even when this callback fails.
    ctx.obj = resolve(stack=stack, profile=profile, region=region, endpoint_url=endpoint_url)


def _aws(ctx: typer.Context):
    from s3sizer.aws import Aws

    return Aws(ctx.obj)


def _on_step(step) -> None:
    output.err.print(f"[green]•[/] {step.describe()}")


def _show_plan(dry_run: bool):
    return lambda plan: output.print_plan(plan, dry_run=dry_run)


DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
Window = Annotated[float, typer.Option(envvar="S3SIZER_WINDOW", help="Seconds of history to plot.")]
Out = Annotated[Path, typer.Option(help="Where to write the PNG.")]


@app.command()
def setup(
    ctx: typer.Context,
    bucket: Annotated[
        str | None,
        typer.Option(
            envvar="S3SIZER_BUCKET", help="Bucket to track: created if missing, adopted if yours."
        ),
    ] = None,
    history_ttl_days: Annotated[
        int | None, typer.Option(help="Expire history points after this many days (0 keeps them).")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Create or adopt the bucket; create the history table and the IAM roles.

    Example: s3sizer setup --bucket my-bucket
    """
    from s3sizer import lifecycle

    with output.err.status("Setting up…"):
        lifecycle.setup(
            _aws(ctx),
            bucket,
            ttl_days=history_ttl_days,
            dry_run=dry_run,
            show_plan=_show_plan(dry_run),
            on_step=_on_step,
        )


def _key_values(values: list[str], option: str, low: int, high: int) -> dict[str, int]:
    """FUNCTION=NUMBER pairs, each number within Lambda's limits for the option."""
    from s3sizer.stack.model import FUNCTION_NAMES

    parsed = {}
    for value in values:
        name, _, number = value.partition("=")
        if name not in FUNCTION_NAMES or not number.isdigit() or not low <= int(number) <= high:
            raise UsageError(
                f"Invalid {option} {value!r}",
                f"use FUNCTION=NUMBER with FUNCTION one of {', '.join(FUNCTION_NAMES)} "
                f"and NUMBER from {low} to {high}",
            )
        parsed[name] = int(number)
    return parsed


@app.command()
def deploy(
    ctx: typer.Context,
    layer_arn: Annotated[
        str | None,
        typer.Option(
            envvar="S3SIZER_LAYER_ARN", help="Use this matplotlib layer instead of building one."
        ),
    ] = None,
    layer: Annotated[
        bool | None,
        typer.Option(
            "--layer/--no-layer",
            help="Build the matplotlib layer (default: yes, except on a local endpoint).",
        ),
    ] = None,
    wheel_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="S3SIZER_WHEEL_DIR", help="Build the layer from wheels in this directory."
        ),
    ] = None,
    runtime: Annotated[
        str | None, typer.Option(help="Lambda runtime (default python3.12).")
    ] = None,
    architecture: Annotated[str | None, typer.Option(help="x86_64 (default) or arm64.")] = None,
    memory: Annotated[list[str] | None, typer.Option(help="FUNCTION=MB, repeatable.")] = None,
    timeout: Annotated[list[str] | None, typer.Option(help="FUNCTION=SECONDS, repeatable.")] = None,
    dry_run: DryRun = False,
) -> None:
    """Package the functions (and the layer); create or update them; wire the S3 notification.

    Example: s3sizer deploy --dry-run
    """
    from s3sizer import lifecycle

    if timeout is None:
        timeout = []
    if memory is None:
        memory = []
    if architecture not in (None, "x86_64", "arm64"):
        raise UsageError(f"Unknown architecture {architecture!r}", "use x86_64 or arm64")
    choice = lifecycle.LayerChoice(layer_arn=layer_arn, build=layer, wheel_dir=wheel_dir)
    kwargs = dict(
        runtime=runtime,
        architecture=architecture,
        memory=_key_values(memory or [], "--memory", 128, 10240),
        timeout=_key_values(timeout or [], "--timeout", 1, 900),
    )
    with output.err.status("Deploying…") as spinner:
        lifecycle.deploy(
            _aws(ctx),
            choice,
            dry_run=dry_run,
            show_plan=_show_plan(dry_run),
            on_step=_on_step,
            on_layer_build=lambda: spinner.update("Building the matplotlib layer from wheels…"),
            **kwargs,
        )


@app.command("run-driver")
def run_driver(
    ctx: typer.Context,
    pause: Annotated[
        float | None, typer.Option(help="Seconds between the driver's operations.")
    ] = None,
    json_out: Json = False,
) -> None:
    """Invoke the driver and wait for it; show what it did and the sizes recorded.

    Example: s3sizer run-driver --pause 1
    """
    from s3sizer import reports

    with output.err.status("Running the driver…"):
        result = reports.run_driver(_aws(ctx), pause)
    output.show(result, json_out, output.driver_table)


@app.command()
def plot(
    ctx: typer.Context,
    out: Out = Path("plot.png"),
    window: Window = 10.0,
    local: Annotated[
        bool, typer.Option("--local", help="Render here from the history; no Lambda.")
    ] = False,
) -> None:
    """Draw the last WINDOW seconds of history into a PNG.

    Example: s3sizer plot --window 30 --out plot.png
    """
    from s3sizer import reports

    result = (reports.plot_local if local else reports.plot_remote)(_aws(ctx), window, out)
    output.out.print(f"Wrote {result['out']} ({result['points']} points in the last {window:g} s).")


@app.command()
def status(ctx: typer.Context, json_out: Json = False) -> None:
    """Current total size, object count, largest size ever, time of the last change.

    Example: s3sizer status --json
    """
    from s3sizer import reports

    result = reports.status(_aws(ctx))
    output.show(result, json_out, output.status_text)


@app.command()
def history(
    ctx: typer.Context,
    since: Annotated[float | None, typer.Option(help="Only the last SECONDS.")] = None,
    json_out: Json = False,
) -> None:
    """The recorded points, oldest first.

    Example: s3sizer history --since 60 --json
    """
    from s3sizer import reports

    points = reports.history(_aws(ctx), since)
    output.show(points, json_out, output.history_table)


@app.command()
def logs(
    ctx: typer.Context,
    function: Annotated[str, typer.Argument(help="driver, size-tracking or plotting.")],
    since: Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")] = "10m",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
) -> None:
    """The function's CloudWatch log events.

    Example: s3sizer logs size-tracking --since 5m
    """
    from datetime import UTC, datetime

    from s3sizer import reports

    with contextlib.suppress(KeyboardInterrupt):  # how a user stops --follow
        for event in reports.logs(_aws(ctx), function, since, follow=follow):
            stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
            line = f"{stamp.strftime('%H:%M:%S.%f')[:-3]} {event['message'].rstrip()}"
            output.out.print(line, markup=False)


@app.command()
def watch(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    window: Annotated[float, typer.Option(help="Seconds of history in the sparkline.")] = 300.0,
    iterations: Annotated[
        int, typer.Option(hidden=True, help="Stop after N refreshes (0: never).")
    ] = 0,
) -> None:
    """A live view: size, count and a sparkline of recent history, until Ctrl-C.

    Example: s3sizer watch --interval 2
    """
    import time

    from rich.live import Live

    from s3sizer import reports

    reports.check_window(window)
    if not interval > 0 or interval == float("inf"):
        raise UsageError("--interval must be more than 0 seconds", "pass e.g. --interval 2")
    aws, shown = _aws(ctx), 0
    # Ctrl-C is how a user leaves the live view: a normal end, not an error.
    with (
        contextlib.suppress(KeyboardInterrupt),
        Live(console=output.out, auto_refresh=False) as live,
    ):
        while True:
            snap = reports.watch_snapshot(aws, window)
            live.update(output.watch_view(snap), refresh=True)
            shown += 1
            if iterations and shown >= iterations:
                return
            time.sleep(interval)


@app.command()
def reconcile(ctx: typer.Context, json_out: Json = False) -> None:
    """Recompute the totals from a full listing, report the drift, and correct it.

    Example: s3sizer reconcile --json
    """
    from s3sizer import reports

    result = reports.reconcile(_aws(ctx))
    output.show(result, json_out, output.reconcile_text)


@app.command()
def teardown(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: DryRun = False,
) -> None:
    """Delete everything that setup and deploy created; an adopted bucket keeps its objects.

    Example: s3sizer teardown --yes
    """
    from s3sizer import lifecycle

    aws = _aws(ctx)

    def show(plan) -> None:
        if plan.steps:
            output.print_plan(plan, dry_run=dry_run)
        else:
            output.out.print(
                f"Stack {ctx.obj.stack!r} does not exist in {aws.region}; nothing to delete."
            )

    def confirm(plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                "Teardown needs confirmation and stdin is not a terminal", "pass --yes"
            )
        return typer.confirm("Delete these resources?", abort=True, err=True)

    plan = lifecycle.teardown(
        aws, dry_run=dry_run, show_plan=show, confirm=confirm, on_step=_on_step
    )
    if plan.steps and not dry_run:
        output.out.print(f"Stack {ctx.obj.stack!r} is gone.")


@app.command()
def emulator(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback warns.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="S3SIZER_EMULATOR_PORT", help="Port (0 picks a free one).")
    ] = 4566,
) -> None:
    """Run a local AWS (S3, DynamoDB, Lambda, IAM, STS, Logs) in the foreground until Ctrl-C.

    Example: s3sizer emulator --port 4566
    """
    from s3sizer.emulator import serve

    serve(host, port)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for plot.png.")] = Path("."),
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the stack and the emulator's data.")
    ] = False,
) -> None:
    """The whole lifecycle on a local AWS: no account, no network.

    Example: s3sizer demo --out /tmp
    """
    from s3sizer.demo import DEMO_STACK, run_demo

    def report(summary: dict) -> None:
        output.out.print(
            output.history_table(summary["history"], title=f"History of {summary['bucket']}")
        )
        output.out.print(
            f"Wrote {summary['plot']} (by the Lambda) and {summary['local_plot']} (plot --local)."
        )

    def hold(endpoint_url: str) -> None:
        import threading

        output.out.print(
            f"The stack is kept while this runs. In another shell:\n"
            f"  export AWS_ENDPOINT_URL={endpoint_url} S3SIZER_STACK={DEMO_STACK}\n"
            f"  s3sizer status\nPress Ctrl-C to stop."
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

    run_demo(
        out,
        keep=keep,
        on_step=lambda text: output.err.print(f"[cyan]»[/] {text}"),
        report=report,
        hold=hold,
    )


def main() -> None:
    app(prog_name="s3sizer")
