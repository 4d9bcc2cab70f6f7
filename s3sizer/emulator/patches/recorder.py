"""moto's request recorder: each request recorded whole, in order, without holding up the others.

The emulator serves requests on many threads (clients, and the functions' workers calling back),
and moto's recorder appends each request to its file in several writes, so two large requests
(an upload, a function's zip) could interleave and corrupt the recording. Here a request's line
is made on its own thread, as moto makes it, and handed to one writer thread that appends the
lines in the order they were handed over. Writing them one at a time under a lock instead made
every request wait for the file behind the others: a DynamoDB request, which holds the table's
lock while it is recorded, waited behind every S3 upload of a burst, and the functions' writes
crawled while clients uploaded. Downloading, resetting, uploading or replaying the recording
first waits until every line handed over is written.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections import deque
from urllib.parse import urlparse

from .hooks import PatchSet, Target

_MODELS = "moto.moto_api._internal.recorder.models"
TARGETS = {
    "record": Target("requests recorded whole and in order", _MODELS, "Recorder",
                     "_record_request", ("self", "request", "body")),
    **{
        name: Target("requests recorded whole and in order", _MODELS, "Recorder", name, parameters)
        for name, parameters in (
            ("reset_recording", ("self",)), ("download_recording", ("self",)),
            ("upload_recording", ("self", "data")), ("replay_recording", ("self", "target_host")),
        )
    },
}  # fmt: skip


class _Writer:
    """Appends the lines handed to it, in that order, on a thread of its own.

    Handing a line over takes no lock (a deque's append is one step under the interpreter's
    lock): a request thread that waited for a lock would let go of the interpreter, and a
    DynamoDB request holding the table's lock would wait to win it back behind the others."""

    IDLE_SECONDS = 0.1  # how long an idle writer sleeps before it looks again

    def __init__(self) -> None:
        self._lines: deque = deque()  # (file, line), or (None, Event) for a flush
        self._wake = threading.Event()
        self._idle = False
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, path: str, line: str) -> None:
        self._lines.append((path, line))
        if self._idle or self._thread is None:
            self._wake_up()

    def flush(self) -> None:
        """Wait until every line handed over so far is in its file (not those that come later)."""
        written = threading.Event()
        self._lines.append((None, written))
        self._wake_up()
        written.wait()

    def _wake_up(self) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="request-recorder", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            if not self._lines:
                self._idle = True
                self._wake.wait(
                    self.IDLE_SECONDS
                )  # a line added meanwhile is seen at the latest then
                self._wake.clear()
                self._idle = False
                continue
            lines, flushes = [], []
            while self._lines:
                path, line = self._lines.popleft()
                if path is None:
                    flushes.append(line)  # every line before it is in `lines`
                else:
                    lines.append((path, line))
            try:
                for path in dict.fromkeys(path for path, _ in lines):
                    with open(path, "a+") as file:
                        file.write("".join(line for at, line in lines if at == path))
            except OSError:
                pass  # as a request whose recording failed: the emulator serves on
            for written in flushes:
                written.set()


_writer = _Writer()
_in_process_lock = threading.Lock()


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["record"], _record_request)
    for name in ("reset_recording", "download_recording", "upload_recording", "replay_recording"):
        patches.replace(TARGETS[name], _after_pending_lines)


def _after_pending_lines(original):
    @functools.wraps(original)
    def recording_operation(self, *args, **kwargs):
        _writer.flush()
        return original(self, *args, **kwargs)

    return recording_operation


def _record_request(original):
    @functools.wraps(original)
    def record_request(self, request, body=None):
        if body is not None or not hasattr(request, "environ"):
            # A request intercepted in-process (moto's mock, not this server): moto writes it.
            _writer.flush()
            with _in_process_lock:
                return original(self, request, body)
        if not self._user_enabled or urlparse(request.url).path.startswith("/moto-api/recorder/"):
            return None
        entry = {"headers": dict(request.headers), "method": request.method, "url": request.url}
        body_str, body_encoded = _read_body(self, request)
        entry.update({"body": body_str, "body_encoded": body_encoded})
        _writer.add(self._location, json.dumps(entry) + "\n")
        return None

    return record_request


def _read_body(recorder, request) -> tuple[str, bool]:
    """The request's body as moto's recorder reads it from the server's request, which then
    reads it again from a copy."""
    request_body = None
    try:
        request_body_size = int(request.headers["Content-Length"])
        request_body = request.environ["wsgi.input"].read(request_body_size)
        return recorder._encode_body(body=request_body)
    except (AttributeError, KeyError):
        return "", False
    finally:
        if request_body is not None:
            if isinstance(request_body, str):
                request_body = request_body.encode("utf-8")
            request.environ["wsgi.input"] = io.BytesIO(request_body)
