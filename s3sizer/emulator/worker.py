"""The emulator's side of one worker process: spawn it, send it invocations, kill it.

The worker runs bootstrap.py. Requests and replies travel as JSON lines on two pipes of their
own; the worker's stdout and stderr are read line by line, timestamped, and become the
function's log lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
END_OF_OUTPUT = "\x1es3sizer-end-of-output\x1e"  # the same marker as in bootstrap.py
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase
OUTPUT_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker is started from; a function whose spec changes gets new workers."""

    env: tuple[tuple[str, str], ...]
    cwd: str
    path: tuple[str, ...]
    crash_hook: bool


@dataclass
class Outcome:
    """What one invocation (or a failed start) came to."""

    kind: str  # "ok", "error" (the handler raised or init failed), "timeout" or "crash"
    payload: str | None = None  # JSON text, for "ok"
    error: dict | None = None  # Lambda's error document, for "error"
    error_log: str | None = None
    exit_description: str = ""  # for "crash", e.g. "signal: killed"
    output: list[tuple[int, str]] = field(default_factory=list)  # (epoch ms, line)


class Worker:
    def __init__(self, spec: WorkerSpec, log_stream_name: str):
        self.spec = spec
        self.log_stream_name = log_stream_name
        self.started_ms = int(time.time() * 1000)
        self.invocations = 0  # counted by the runtime; the first one reports the init duration
        self._peak_at_kill: int | None = None
        self.idle_since = time.monotonic()
        # From spawn to handler imported, as Lambda's Init Duration, and what was printed meanwhile
        self.init_ms: float | None = None
        self.init_output: list[tuple[int, str]] = []
        self._spawned = time.monotonic()
        self._lines: list[tuple[int, str]] = []
        self._lines_lock = threading.Lock()
        self._output_ended = {"stdout": threading.Event(), "stderr": threading.Event()}
        self._replies: queue.Queue[dict | None] = queue.Queue()

        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = dict(spec.env)
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = log_stream_name
        env["S3SIZER_WORKER_SPEC"] = json.dumps(
            {"path": list(spec.path), "crash_hook": spec.crash_hook}
        )
        command = [sys.executable, "-I", "-u", str(BOOTSTRAP), str(request_read), str(reply_write)]
        try:
            self.process = subprocess.Popen(
                command,
                pass_fds=(request_read, reply_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=spec.cwd,
                start_new_session=True,  # Ctrl-C in a terminal reaches the emulator, not workers
            )
        except BaseException:
            os.close(request_write)
            os.close(reply_read)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        self.pid = self.process.pid
        self._requests = os.fdopen(request_write, "w", encoding="utf-8")
        self._readers = [
            self._read_in_background("reply", os.fdopen(reply_read, "rb"), self._take_reply),
            self._read_in_background("stdout", self.process.stdout, self._take_output("stdout")),
            self._read_in_background("stderr", self.process.stderr, self._take_output("stderr")),
        ]

    def wait_ready(self) -> Outcome | None:
        """None once the handler is imported; otherwise why the worker could not start."""
        reply = self._next_reply(INIT_TIMEOUT_SECONDS)
        if reply is _TIMED_OUT:
            self.kill()
            return Outcome("timeout", output=self._drain_output())
        if reply is None:
            return self._crashed()
        self.init_ms = (time.monotonic() - self._spawned) * 1000
        if "init_error" in reply:
            self.kill()
            return Outcome(
                "error", error=reply["init_error"], error_log=reply.get("log"),
                output=self._drain_output(),
            )  # fmt: skip
        self.init_output = self._wait_for_output()
        return None

    def invoke(self, request: dict, timeout: float) -> Outcome:
        for ended in self._output_ended.values():
            ended.clear()
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError):
            return self._crashed()
        reply = self._next_reply(timeout)
        if reply is _TIMED_OUT:
            self.kill()
            return Outcome("timeout", output=self._drain_output())
        if reply is None:
            return self._crashed()
        output = self._wait_for_output()
        if "error" in reply:
            return Outcome("error", error=reply["error"], error_log=reply.get("log"), output=output)
        return Outcome("ok", payload=reply["payload"], output=output)

    def max_memory_mb(self) -> int | None:
        """The peak resident set so far, as Lambda's REPORT line shows it (Linux only); of a
        worker killed (a timeout), its peak just before, as Lambda reports a timed-out one's."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return self._peak_at_kill
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return self._peak_at_kill

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the worker and anything it started, then reap it."""
        self._peak_at_kill = self.max_memory_mb()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._requests.close()

    def _crashed(self) -> Outcome:
        self.kill()
        code = self.process.returncode
        if code is not None and code < 0:
            description = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        else:
            description = f"exit status {code}"
        return Outcome("crash", exit_description=description, output=self._drain_output())

    def _next_reply(self, timeout: float):
        try:
            return self._replies.get(timeout=max(timeout, 0))
        except queue.Empty:
            return _TIMED_OUT

    def _wait_for_output(self) -> list[tuple[int, str]]:
        """Take the output up to the end marker the worker writes after each reply."""
        for ended in self._output_ended.values():
            ended.wait(OUTPUT_GRACE_SECONDS)
        return self._take_lines()

    def _drain_output(self) -> list[tuple[int, str]]:
        """After the process has gone: wait for its last output to be read, then take it all."""
        for reader in self._readers[1:]:
            reader.join(OUTPUT_GRACE_SECONDS)
        return self._take_lines()

    def _take_lines(self) -> list[tuple[int, str]]:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return lines

    def _take_reply(self, line: bytes) -> None:
        self._replies.put(json.loads(line))

    def _take_output(self, stream: str):
        def take(line: bytes) -> None:
            text = line.decode("utf-8", "replace").rstrip("\n")
            ended = text.endswith(END_OF_OUTPUT)
            text = text.removesuffix(END_OF_OUTPUT)
            if text or not ended:
                with self._lines_lock:
                    self._lines.append((int(time.time() * 1000), text))
            if ended:
                self._output_ended[stream].set()

        return take

    def _read_in_background(self, name: str, stream, take) -> threading.Thread:
        def read() -> None:
            with stream:
                for line in stream:
                    take(line)
            if name == "reply":
                self._replies.put(None)  # end of file: the worker has gone

        thread = threading.Thread(target=read, name=f"worker-{self.pid}-{name}", daemon=True)
        thread.start()
        return thread


_TIMED_OUT = object()
