"""moto's request recorder: one request recorded at a time.

The emulator serves requests on many threads (clients, and the functions' workers calling back),
and moto's recorder appends each request to its file in several writes, so two large requests
(an upload, a function's zip) could interleave and corrupt the recording.
"""

from __future__ import annotations

import threading

from .hooks import PatchSet, Target

TARGETS = {
    "record": Target("requests recorded one at a time", "moto.moto_api._internal.recorder.models",
                     "Recorder", "_record_request", ("self", "request", "body")),
}  # fmt: skip
_lock = threading.Lock()


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["record"], _one_at_a_time)


def _one_at_a_time(original):
    def record_request(self, request, body=None):
        with _lock:
            return original(self, request, body)

    return record_request
