"""The Typer application: its error policy, its global options, and what commands share."""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Annotated, NoReturn

import typer
from typer.core import TyperGroup

from s3sizer import __version__, interrupts, output
from s3sizer.errors import S3SizerError

try:  # Typer that carries its own click: click's exceptions derive from this public class
    from typer import TyperException as CommandLineError
except ImportError:  # pragma: no cover - Typer that uses the click package
    from click import ClickException as CommandLineError


class _Interrupted(Exception):
    """Carries Ctrl-C past Typer, which would turn it into a silent exit 130."""


class OneLineErrors(TyperGroup):
    """Every failure ends as one line on stderr: exit 2 for usage, 1 for the rest, 130 for Ctrl-C."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted() from exc
        except BrokenPipeError:
            # The reader of stdout stopped reading (`s3sizer watch | head -3`): that is how it
            # says "enough", as Ctrl-C is in a terminal, so a normal end: exit 0, nothing on
            # stderr. Click would exit 1 without a word; Python would complain at exit.
            _stdout_to_devnull()
            return 0

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        given = list(sys.argv[1:] if args is None else args)
        try:
            code = self._outcome(given, prog_name, extra)
        except BrokenPipeError:  # outside a command: `s3sizer --version`, or the help, say
            _stdout_to_devnull()
            code = 0
        if standalone_mode:
            leave(code)
        return code

    def _outcome(self, given: list[str], prog_name, extra) -> int:
        """The command's exit code, every failure reported as one line on stderr."""
        output.given_globals([])  # set again once the global options are read
        try:
            result = super().main(
                args=given, prog_name=prog_name or "s3sizer", standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
            if code == INTERRUPTED:  # Ctrl-C while parsing, which Typer turns into a silent 130
                output.interrupted_line()
                code = interrupts.exit_code()  # 143 for SIGTERM
        except CommandLineError as exc:
            code = _command_line_error(exc, no_args=not given)
        except (typer.Abort, KeyboardInterrupt, _Interrupted) as exc:
            code = interrupted(exc, debug="--debug" in given)
        except BrokenPipeError:
            raise  # the reader stopped: main ends the command normally
        except Exception as exc:
            if interrupts.caused(exc):  # Ctrl-C, wrapped by Python in another exception
                code = interrupted(exc, debug="--debug" in given)
            else:
                code = _report(exc, debug="--debug" in given)
        return code


INTERRUPTED = 130  # 128 + SIGINT, as shells report a command that Ctrl-C stopped
TERMINATED = 143  # 128 + SIGTERM


def _stdout_to_devnull() -> None:
    """What is still buffered for a closed pipe goes nowhere, instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def leave(code: int) -> NoReturn:
    """Exit with ``code``; at once after a Ctrl-C that cut short a wait for threads still at
    work (interrupts.finishing): Python would join them first. What they had committed is
    kept, and what they had not is done again by the same command, as after a kill."""
    if code in (INTERRUPTED, TERMINATED) and interrupts.threads_may_run():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def interrupted(exc: BaseException | None = None, *, debug: bool = False) -> int:
    """Ctrl-C (or a prompt's end of input): one line on stderr, exit 130; the trace only if asked."""
    if debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    output.interrupted_line()
    return interrupts.exit_code()


def _command_line_error(exc, *, no_args: bool) -> int:
    """What the argument parser refused; usage errors carry the context they arose in."""
    context = getattr(exc, "ctx", None)
    if no_args and exc.exit_code == 2 and context is not None:
        # A bare `s3sizer` shows the help, as a usage error does: on stdout, exit 2.
        output.out.print(context.get_help(), markup=False, highlight=False)
        return 2
    hint = f" (see `{context.command_path} --help`)" if context is not None else ""
    # Typer validates values with pydantic, which puts "Value error, " before a ValueError's text.
    message = exc.format_message().replace("Value error, ", "", 1)
    output.error_line(message + hint)
    return exc.exit_code


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
    name="s3sizer",
    help="Track an S3 bucket's size exactly, with a serverless stack s3sizer deploys and removes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        try:
            output.out.print(f"s3sizer {__version__}")
        except BrokenPipeError:  # while the command line is read, where Click would exit 1
            _stdout_to_devnull()
        raise typer.Exit()


@app.callback()
def global_options(
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
    given = [
        (f"--{name.replace('_', '-')}", value)
        for name, value in (("profile", profile), ("region", region),
                            ("endpoint_url", endpoint_url), ("stack", stack))
        # Typer may carry its own click: its ParameterSource is matched by name
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    ]  # fmt: skip
    output.given_globals([part for option in given for part in option])


def aws_of(ctx: typer.Context):
    """The library's AWS access for this command, from the resolved global options."""
    from s3sizer.aws import Aws

    return Aws(ctx.obj)


def stack_of(ctx: typer.Context, bucket: str | None = None):
    """The stack the global options name, with its config read once for the whole command;
    `bucket` (from --bucket) is the tracked bucket the command reads, else the first one."""
    from s3sizer.context import open_stack

    return open_stack(aws_of(ctx), bucket)


class StepProgress:
    """The step running now, on a transient spinner line: the plan has listed every step once
    already, so a run does not print them again."""

    def __init__(self, doing: str, spinner=None):
        self.doing = doing
        self.spinner = spinner
        self.started = None  # a spinner of our own, started at the first step
        self.ran, self.began = 0, time.monotonic()

    def __call__(self, step) -> None:
        self.ran += 1
        if self.spinner is None:
            self.spinner = self.started = output.err.status(self.doing)
            self.started.start()
        self.spinner.update(f"{self.doing} {step.describe()}")

    def done(self, plan) -> None:
        """One line on stderr once the plan's steps have run (none for a dry run, or a plan
        with nothing to do): without a terminal, nothing else says that the command is over."""
        if self.ran:
            seconds = time.monotonic() - self.began
            steps = output.plural(self.ran, "step")
            output.err.print(f"Done: the {plan.title}, {steps} in {seconds:.1f} s.")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.started is not None:
            self.started.stop()


def show_plan(dry_run: bool):
    return lambda plan: output.print_plan(plan, dry_run=dry_run)
