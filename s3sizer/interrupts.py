"""Ctrl-C that is not lost, and SIGTERM taken as one.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. If
that is inside a callback whose exceptions Python ignores (a weakref's, as importlib uses while
a module loads, or a ``__del__``), it prints "Exception ignored in ..." and carries on, and the
command runs to its end. The handler here also records the signal, and long work asks
(``raise_if_pending``) at its own boundaries, such as between two steps of a plan.

SIGTERM (a supervisor's stop: a CI timeout, `systemctl stop`, `docker stop`) is handled as
Ctrl-C is, so that a baseline gives its bucket's lease back and keeps what it merged, instead
of leaving the bucket locked until the lease runs out; the command then exits 143, not 130.

A few writes must not stop half-way (``deferred``): there the first Ctrl-C waits for them to
end, and a second one stops at once, as Terraform does while it saves its state.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

# Plain flags: the handler takes no lock, so a second Ctrl-C inside it cannot deadlock it.
_pending = [False]
_finishing = [False]  # a Ctrl-C came while work in other threads was let finish (finishing)
_deferring: list[str | None] = [None]  # what a Ctrl-C now waits for, while ``deferred`` runs
_received = [signal.SIGINT]  # the last stop signal, for the exit code and the line


def install(*, terminate: bool = False) -> None:
    """SIGINT raises KeyboardInterrupt, as Python's own handler does, and is remembered; with
    ``terminate``, SIGTERM too (only a command's own process: a library caller keeps its own)."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler (a library caller's thread, say)

    def on_stop(signum, frame):
        _received[0] = signum
        waiting_for = _deferring[0]
        if waiting_for is not None:
            _deferring[0] = None  # the next Ctrl-C stops at once
            _pending[0] = True
            sys.stderr.write(f"{stopped_line()}: {waiting_for} first ({_again()})\n")
            return
        _pending[0] = True
        raise KeyboardInterrupt

    for stop in (signal.SIGINT, signal.SIGTERM) if terminate else (signal.SIGINT,):
        # Ignored: a shell started us in the background (SIGINT), or the parent wants us to
        # outlive its stop (SIGTERM); either way the signal is not ours, as Python keeps it.
        if signal.getsignal(stop) is not signal.SIG_IGN:
            signal.signal(stop, on_stop)


def exit_code() -> int:
    """What a stopped command exits with, as shells report it: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + int(_received[0])


def stopped_line() -> str:
    """The one line a stopped command ends with."""
    return "Terminated" if _received[0] == signal.SIGTERM else "Interrupted"


def _again() -> str:
    return (
        "SIGTERM again to stop now"
        if _received[0] == signal.SIGTERM
        else "Ctrl-C again to stop now"
    )


@contextmanager
def deferred(what: str):
    """A block that a first Ctrl-C lets end (``what`` says what it finishes), then stops after.

    Only where a stop half-way costs more than the wait: a block of seconds, not minutes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing here to defer
        return
    was, _deferring[0] = _deferring[0], what
    pending_before = _pending[0]
    try:
        yield
    except Exception:
        # The block failed on its own: that error is what the user must see, not "Interrupted"
        # for the Ctrl-C it deferred (the command stops all the same).
        _pending[0] = pending_before
        raise
    finally:
        _deferring[0] = was
    raise_if_pending()


def finishing(exc: BaseException, what: str) -> None:
    """After the Ctrl-C that ``exc`` is (or carries), one line on what the command finishes
    before it stops, which can take seconds; a second Ctrl-C stops it at once, as Python's
    own handler does. Nothing for any other error."""
    if isinstance(exc, KeyboardInterrupt) or caused(exc):
        _finishing[0] = True
        sys.stderr.write(f"{stopped_line()}: {what} first ({_again()})\n")


def threads_may_run() -> bool:
    """Whether a stopped command may leave threads at work (a second Ctrl-C cut short the
    wait for them): then it exits without joining them, as "stop now" says."""
    return _finishing[0]


def raise_if_pending() -> None:
    """KeyboardInterrupt for a Ctrl-C that came and was swallowed."""
    if _pending[0]:
        raise KeyboardInterrupt


def caused(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C in disguise: Python wraps one raised inside a class's
    creation (``__set_name__``, as ``import platform`` runs) in a RuntimeError."""
    return _pending[0] and not isinstance(exc, KeyboardInterrupt)
