"""`logs --follow` as a user runs it: a real process against the local AWS, stopped by Ctrl-C."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time

from typer.testing import CliRunner

from s3sizer.cli import app
from tests.emulator.helpers import REPO_ROOT, emulator_env, poll

_numbers = itertools.count()


class Lines:
    """A process's stdout, read line by line on a thread so the test never blocks on it."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def messages(self) -> list[str]:
        return [line.split(" ", 1)[1] for line in list(self.lines) if " " in line]


def test_follow_prints_each_new_event_and_ctrl_c_ends_it_with_exit_0(emulator):
    stack = f"follow-{next(_numbers)}"
    where = ["--endpoint-url", emulator.endpoint_url, "--stack", stack]
    setup = CliRunner().invoke(app, [*where, "setup"])
    assert setup.exit_code == 0, setup.stderr
    logs, group = emulator.client("logs"), f"/aws/lambda/{stack}-size-tracking"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")

    def log(message: str) -> None:
        now = int(time.time() * 1000)
        event = {"timestamp": now, "message": message}
        logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[event])

    log("before")
    follower = subprocess.Popen(
        [sys.executable, "-m", "s3sizer", *where, "logs", "size-tracking", "-f", "--since", "1m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=emulator_env(PYTHONUNBUFFERED="1"),
    )
    try:
        out = Lines(follower.stdout)

        def before_is_shown():
            return out.messages() == ["before"]

        poll(before_is_shown)
        log("after")

        def after_is_shown():
            return out.messages() == ["before", "after"]

        poll(after_is_shown)
        follower.send_signal(signal.SIGINT)
        code = follower.wait(timeout=20)
    finally:
        if follower.poll() is None:
            follower.kill()

    assert code == 0
    assert follower.stderr.read() == ""
    assert out.messages() == ["before", "after"]
