"""Asynchronous delivery, as Lambda runs S3 notifications and InvocationType=Event invocations.

Events wait in a queue; dispatcher threads deliver them, started as needed (so that only the
runtime's concurrency setting bounds how many run at once) and ended when idle. A delivery that
fails is retried twice,
after the back-off and then twice the back-off. Injected faults act here too: an event may be
delivered twice (duplicate) or held back so that later events overtake it (reorder).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import FaultDice

logger = logging.getLogger("s3sizer.emulator")

MAX_ATTEMPTS = 3  # the first attempt and two retries, as Lambda does
REORDER_HOLD_SECONDS = 0.5
IDLE_THREAD_SECONDS = 10.0

# Runs attempt n (1-based) of one delivery; True when the function succeeded.
Attempt = Callable[[int], bool]
# Called once when every attempt failed, with how many there were: the on-failure destination.
Exhausted = Callable[[int], None]


@dataclass(frozen=True)
class _Job:
    attempts: int
    on_exhausted: Exhausted | None


class AsyncDelivery:
    def __init__(self, retry_backoff: float, dice: FaultDice):
        self.retry_backoff = retry_backoff
        self.dice = dice
        self._due: list[tuple] = []  # (when, order, attempt number, Attempt, description, Job)
        self._order = itertools.count()
        self._unfinished = 0  # queued, waiting to retry, or running
        self._changed = threading.Condition()
        self._stopping = False
        self._waiting_threads = 0  # dispatcher threads with nothing to run
        self._thread_names = itertools.count()

    def submit(
        self,
        attempt: Attempt,
        description: str,
        *,
        attempts: int = MAX_ATTEMPTS,
        on_exhausted: Exhausted | None = None,
    ) -> None:
        """Deliver with up to `attempts` tries; then hand the event to `on_exhausted`, if any."""
        copies = 2 if self.dice.roll(self.dice.rates.duplicate) else 1
        if copies == 2:
            logger.warning("injected fault: duplicate delivery of %s", description)
        job = _Job(attempts, on_exhausted)
        for _ in range(copies):
            held = self.dice.roll(self.dice.rates.reorder)
            if held:
                logger.warning("injected fault: reordered delivery of %s", description)
            self._schedule(attempt, description, 1, REORDER_HOLD_SECONDS if held else 0.0, job)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued, waiting to be retried, or running."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def stop(self) -> None:
        """Drop what is queued; deliveries already running end when their workers are killed."""
        with self._changed:
            self._stopping = True
            self._unfinished -= len(self._due)
            self._due.clear()
            self._changed.notify_all()

    def _schedule(
        self, attempt: Attempt, description: str, number: int, delay: float, job: _Job
    ) -> None:
        with self._changed:
            if self._stopping:
                return
            when = time.monotonic() + delay
            heapq.heappush(self._due, (when, next(self._order), number, attempt, description, job))
            self._unfinished += 1
            if self._waiting_threads < len(self._due):
                self._waiting_threads += 1  # counted now, so the next submit sees it
                name = f"delivery-{next(self._thread_names)}"
                threading.Thread(target=self._dispatch, name=name, daemon=True).start()
            self._changed.notify_all()

    def _dispatch(self) -> None:
        while True:
            with self._changed:
                idle_until = time.monotonic() + IDLE_THREAD_SECONDS
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    if not self._due and time.monotonic() >= idle_until:
                        self._waiting_threads -= 1
                        return
                    timeout = self._due[0][0] if self._due else idle_until
                    self._changed.wait(max(timeout - time.monotonic(), 0))
                if self._stopping:
                    self._waiting_threads -= 1
                    return
                _, _, number, attempt, description, job = heapq.heappop(self._due)
                self._waiting_threads -= 1
            try:
                succeeded = self._run(attempt, number, description)
                # The retry is queued before this delivery counts as finished, so that
                # wait_idle never sees a moment with nothing left while a retry is due.
                if not succeeded and number < job.attempts:
                    delay = self.retry_backoff * 2 ** (number - 1)
                    self._schedule(attempt, description, number + 1, delay, job)
                elif not succeeded and job.on_exhausted is not None:
                    logger.warning("%s failed %d times; to its destination", description, number)
                    self._give_up(job, number, description)
                elif not succeeded:
                    logger.warning("%s failed %d times; the event is dropped", description, number)
            finally:
                with self._changed:
                    self._unfinished -= 1
                    self._waiting_threads += 1
                    self._changed.notify_all()

    @staticmethod
    def _give_up(job: _Job, number: int, description: str) -> None:
        try:
            job.on_exhausted(number)
        except Exception:
            logger.exception("%s could not reach its on-failure destination", description)

    @staticmethod
    def _run(attempt: Attempt, number: int, description: str) -> bool:
        try:
            return attempt(number)
        except Exception:
            logger.exception("%s could not be delivered", description)
            return False
