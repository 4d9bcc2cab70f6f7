"""The emulator as a user runs it: `python -m s3sizer.emulator --port 0` in a child process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_SECONDS = 60


class EmulatorProcess:
    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.endpoint_url = ""
        self.start_seconds = 0.0  # from spawn to the export line: what a user waits for
        # Kept for the error message if the emulator fails to start; closed by stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> EmulatorProcess:
        # The emulator's own settings at their defaults, whatever this shell exported.
        env = {k: v for k, v in os.environ.items() if not k.startswith("S3SIZER_EMULATOR_")}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s3sizer.emulator", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_SECONDS)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("export AWS_ENDPOINT_URL="):
            self._stderr.seek(0)
            tail = self._stderr.read().decode(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}\n{tail}")
        self.start_seconds = time.perf_counter() - started
        self.endpoint_url = line.strip().split("=", 1)[1]
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the emulator stops its workers on SIGTERM
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stdout.close()
        self._stderr.close()

    def workers(self, function_name: str) -> list[int]:
        """The pids of the emulator's worker processes that run ``function_name``."""
        wanted = f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == self.pid and wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile, or not ours to read
        return found

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def peak_rss_kib(pid: int) -> int | None:
    """The process's peak resident set size (VmHWM), or None if it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None
