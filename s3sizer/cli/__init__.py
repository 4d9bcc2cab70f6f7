"""The Typer face of s3sizer: parse options, call one library function, render the result.

Nothing here talks to AWS: no module of this package imports boto3 or builds a client (a test
guards it). boto3, matplotlib and moto load only inside the library calls that need them, so
`s3sizer --help` starts fast.
"""

from __future__ import annotations

import atexit
import gc
import sys

from s3sizer import interrupts

interrupts.install()  # first: a Ctrl-C while the rest loads is not lost

try:
    from s3sizer.cli import estate, lifecycle, local, metrics, reads
    from s3sizer.cli.app import app, interrupted, leave
except Exception as exc:
    if not interrupts.caused(exc):
        raise
    sys.stderr.write(interrupts.stopped_line() + "\n")
    sys.exit(interrupts.exit_code())
except KeyboardInterrupt:
    # Ctrl-C while Typer and Rich load: the same one line as later on, not a page of imports.
    sys.stderr.write(interrupts.stopped_line() + "\n")
    sys.exit(interrupts.exit_code())

# Registered here, in the order `s3sizer --help` lists them.
app.command()(lifecycle.setup)
app.command()(lifecycle.deploy)
app.command()(estate.track)
app.command()(estate.untrack)
app.command("run-driver")(reads.run_driver)
app.command()(reads.plot)
app.command()(reads.status)
app.command()(reads.history)
app.command()(reads.logs)
app.command()(reads.watch)
app.command()(reads.reconcile)
app.command()(metrics.metrics)
app.command()(lifecycle.redrive)
app.command()(lifecycle.teardown)
app.command()(local.emulator)
app.command()(local.demo)


def main() -> None:
    # The interpreter's last collections, at exit, walk every object the command leaves alive
    # (botocore's models, a baseline's clients and pools): about 0.2 s after a setup of 30,000
    # objects, 0.02 s with them frozen first. Nothing collected at exit would matter.
    atexit.register(gc.freeze)
    try:
        # SIGTERM (a supervisor's stop) only here: a program that imports s3sizer.cli keeps its own.
        interrupts.install(terminate=True)
        interrupts.raise_if_pending()
        app(prog_name="s3sizer")
    except KeyboardInterrupt:  # between two statements of the error policy itself
        leave(interrupted())


__all__ = ["app", "main"]
