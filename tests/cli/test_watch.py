"""`watch` into a pipe: one plain line per refresh while it runs; Ctrl-C and SIGTERM end it."""

from __future__ import annotations

import os
import signal
import time

import boto3

from s3sizer.cli import reads
from tests.cli.conftest import DEFAULT_BUCKET


def refreshes_then(stop, after: int, seen: list):
    """Between refreshes: the test's own clock, then `stop` at refresh number `after`."""

    def between(seconds: float) -> None:
        seen.append(seconds)
        if len(seen) == after:
            stop()

    return between


def ctrl_c() -> None:
    raise KeyboardInterrupt


def sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts this at once


def test_watch_into_a_pipe_prints_one_plain_line_per_refresh(cli, aws, monkeypatch):
    cli("setup", "--prefix-depth", "1")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="logs/a", Body=b"x" * 1500)
    cli("reconcile")
    seen: list[float] = []
    monkeypatch.setattr(reads, "_between_refreshes", refreshes_then(ctrl_c, 3, seen))

    result = cli("watch", "--interval", "2s")

    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert f"{DEFAULT_BUCKET} 1.5 KiB (1500 bytes) in 1 object; logs/ 1.5 KiB" in line
        assert "\x1b" not in line  # plain text: no cursor moves, no colours
    assert result.stderr == ""


def test_sigterm_ends_watch_cleanly_and_restores_the_handler(cli, aws, monkeypatch):
    cli("setup")
    seen: list[float] = []
    monkeypatch.setattr(reads, "_between_refreshes", refreshes_then(sigterm, 2, seen))
    before = signal.getsignal(signal.SIGTERM)

    result = cli("watch")

    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""
    assert signal.getsignal(signal.SIGTERM) == before
