"""A background thread that runs a job every few seconds until the emulator stops.

The lifecycle engine and the scheduler both keep a clock a test can speed up, and both run on
such a thread: one run at a time, and a run that fails is logged and tried again at the next
tick, because a timer thread that died would silently stop every later run.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("s3sizer.emulator")


class Ticker:
    """Calls ``run()`` every ``tick_seconds()`` on a daemon thread named ``thread_name``."""

    thread_name = "s3sizer-emulator-ticker"
    what = "a run"

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def tick_seconds(self) -> float:
        raise NotImplementedError

    def run(self):
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopped.wait(self.tick_seconds()):
            try:
                self.run()
            except Exception:  # tried again at the next tick
                logger.warning("%s failed", self.what, exc_info=True)
