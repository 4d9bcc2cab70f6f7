"""Ctrl-C anywhere: one line on stderr, exit 130, no traceback (unless --debug)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from s3sizer import reports
from tests.emulator.helpers import REPO_ROOT


def test_ctrl_c_in_a_command_is_one_line_and_exit_130(cli, aws, monkeypatch):
    cli("setup")

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reports, "status", pressed)

    result = cli("status", code=130)

    assert result.stderr == "Interrupted\n"
    assert result.stdout == ""


def test_debug_adds_the_traceback_to_an_interrupt(cli, aws, monkeypatch):
    cli("setup")
    monkeypatch.setattr(reports, "status", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))

    result = cli("--debug", "status", code=130)

    assert "Traceback" in result.stderr
    assert result.stderr.endswith("Interrupted\n")


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(tmp_path):
    # A stand-in for Rich whose import is where Ctrl-C lands: the start-up's slowest part.
    (tmp_path / "rich").mkdir()
    (tmp_path / "rich" / "__init__.py").write_text("raise KeyboardInterrupt\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"}

    result = subprocess.run(
        [sys.executable, "-m", "s3sizer", "status"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (result.returncode, result.stderr, result.stdout) == (130, "Interrupted\n", "")


@pytest.mark.parametrize(
    ("stop", "code", "line"),
    [(signal.SIGINT, 130, "Interrupted\n"), (signal.SIGTERM, 143, "Terminated\n")],
)
def test_a_real_signal_while_waiting_for_aws_is_one_line_and_its_exit_code(
    tmp_path, stop, code, line
):
    # SIGTERM, a supervisor's stop (a CI timeout, `systemctl stop`), ends it as Ctrl-C does
    # An endpoint that accepts the connection and never answers: the command waits on it.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(60)
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-m", "s3sizer", "--endpoint-url", endpoint, "status"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            connection, _ = server.accept()  # the command is past its start-up, waiting on AWS
            with connection:
                process.send_signal(stop)
                stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert (process.returncode, stderr, stdout) == (code, line, "")


def test_ctrl_c_while_the_options_are_parsed_is_one_line_and_exit_130(cli, aws, monkeypatch):
    from s3sizer.cli import inputs

    def pressed(self, value):
        raise KeyboardInterrupt

    monkeypatch.setattr(inputs.Duration, "__call__", pressed)

    result = cli("history", "--since", "1h", code=130)

    assert result.stderr == "Interrupted\n"


def test_a_ctrl_c_python_swallowed_still_stops_the_command(monkeypatch, capsys):
    """SIGINT that lands in a callback whose exceptions Python ignores (a weakref's, while a
    module loads) is remembered: the command stops at once, or before the plan's next step."""
    import pytest

    from s3sizer import cli, interrupts
    from s3sizer.stack import steps as st
    from s3sizer.stack.apply import Executor

    monkeypatch.setattr(interrupts, "_pending", [True])

    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "Interrupted\n"

    ran = []
    applier = Executor.__new__(Executor)
    applier.execute = ran.append
    with pytest.raises(KeyboardInterrupt):
        applier.run(st.Plan("a plan", (st.DeleteTable("t"),)))
    assert ran == []


def test_a_stop_that_let_threads_finish_exits_without_joining_them(monkeypatch, capsys):
    """After "Ctrl-C again to stop now", the second Ctrl-C stops the command at once: its exit
    does not wait for the threads still at work, as Python's own exit would."""
    import pytest

    from s3sizer import cli, interrupts

    monkeypatch.setattr(interrupts, "_pending", [True])
    monkeypatch.setattr(interrupts, "_finishing", [False])
    interrupts.finishing(KeyboardInterrupt(), "keeping the pages being merged")
    exits = []

    def exit_now(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    with pytest.raises(SystemExit):
        cli.main()

    assert exits == [130]
    assert capsys.readouterr().err == (
        "Interrupted: keeping the pages being merged first (Ctrl-C again to stop now)\n"
        "Interrupted\n"
    )


def test_a_command_started_with_ctrl_c_ignored_keeps_ignoring_it(monkeypatch):
    """A shell's background job starts with SIGINT ignored, and Python leaves it so: so do we."""
    from s3sizer import interrupts

    handlers = {signal.SIGINT: signal.SIG_IGN}
    monkeypatch.setattr(signal, "getsignal", handlers.get)
    monkeypatch.setattr(signal, "signal", handlers.__setitem__)

    interrupts.install()

    assert handlers[signal.SIGINT] is signal.SIG_IGN


def test_a_ctrl_c_python_wrapped_in_another_error_is_still_one_line_and_exit_130(
    cli, aws, monkeypatch
):
    """Ctrl-C inside a class's creation (``import platform``, say) reaches us as a RuntimeError."""
    from s3sizer import interrupts

    cli("setup")

    def wrapped(*args, **kwargs):
        interrupts._pending[0] = True
        raise RuntimeError("Error calling __set_name__ on 'cached_property' instance")

    monkeypatch.setattr(interrupts, "_pending", [False])
    monkeypatch.setattr(reports, "status", wrapped)

    result = cli("status", code=130)

    assert (result.stderr, result.stdout) == ("Interrupted\n", "")


def test_ctrl_c_while_run_driver_waits_ends_it_without_waiting_for_the_driver(monkeypatch):
    """The driver's invoke is synchronous and may run minutes: Ctrl-C does not wait it out."""
    import threading
    from types import SimpleNamespace

    released = threading.Event()
    monkeypatch.setattr(reports, "invoke", lambda ctx, name, payload: released.wait(60))
    stamps = iter(range(1_000_000))
    history = SimpleNamespace(
        totals=lambda: SimpleNamespace(updated_at=next(stamps), total_size=1, object_count=1)
    )

    def ctrl_c(progress: dict) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        reports.run_driver(SimpleNamespace(history=history), on_progress=ctrl_c, poll=0.05)
    assert time.monotonic() - started < 5  # the invoke still runs, in a daemon thread
    released.set()
