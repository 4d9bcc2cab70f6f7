"""The emulator's settings: read from the environment, overridable by constructor arguments."""

from __future__ import annotations

import math
import os
import random
import threading
from dataclasses import dataclass

from s3sizer.errors import EmulatorError

CONCURRENCY_ENV = "S3SIZER_EMULATOR_CONCURRENCY"
RETRY_BACKOFF_ENV = "S3SIZER_EMULATOR_RETRY_BACKOFF"
FAULTS_ENV = "S3SIZER_EMULATOR_FAULTS"
LIFECYCLE_DAY_ENV = "S3SIZER_EMULATOR_LIFECYCLE_DAY_SECONDS"
SCHEDULE_MINUTE_ENV = "S3SIZER_EMULATOR_SCHEDULE_MINUTE_SECONDS"

DEFAULT_CONCURRENCY = 4
DEFAULT_RETRY_BACKOFF = 0.2
DEFAULT_LIFECYCLE_DAY_SECONDS = 86_400.0
DEFAULT_SCHEDULE_MINUTE_SECONDS = 60.0
FAULT_NAMES = ("duplicate", "reorder", "crash")


@dataclass(frozen=True)
class FaultRates:
    """How often each injected fault happens, each a probability in [0, 1]."""

    duplicate: float = 0.0
    reorder: float = 0.0
    crash: float = 0.0
    seed: int | None = None


class FaultDice:
    """One seeded random source shared by every fault decision, safe across threads."""

    def __init__(self, rates: FaultRates):
        self.rates = rates
        self._random = random.Random(rates.seed)
        self._lock = threading.Lock()

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def new_seed(self) -> int:
        with self._lock:
            return self._random.getrandbits(32)


@dataclass(frozen=True)
class EmulatorSettings:
    concurrency: int
    retry_backoff: float
    faults: FaultRates
    lifecycle_day_seconds: float = DEFAULT_LIFECYCLE_DAY_SECONDS
    schedule_minute_seconds: float = DEFAULT_SCHEDULE_MINUTE_SECONDS


def load_settings(
    concurrency: int | None = None,
    retry_backoff: float | None = None,
    faults: str | None = None,
    lifecycle_day_seconds: float | None = None,
    schedule_minute_seconds: float | None = None,
) -> EmulatorSettings:
    """Constructor arguments win over the environment, which wins over the defaults."""
    if concurrency is None:
        concurrency = _env_number(CONCURRENCY_ENV, int, DEFAULT_CONCURRENCY)
    if retry_backoff is None:
        retry_backoff = _env_number(RETRY_BACKOFF_ENV, float, DEFAULT_RETRY_BACKOFF)
    if faults is None:
        faults = os.environ.get(FAULTS_ENV, "")
    if lifecycle_day_seconds is None:
        lifecycle_day_seconds = _env_number(LIFECYCLE_DAY_ENV, float, DEFAULT_LIFECYCLE_DAY_SECONDS)
    if schedule_minute_seconds is None:
        schedule_minute_seconds = _env_number(
            SCHEDULE_MINUTE_ENV, float, DEFAULT_SCHEDULE_MINUTE_SECONDS
        )
    if concurrency < 1:
        raise EmulatorError(
            f"Concurrency must be at least 1, got {concurrency}",
            f"set {CONCURRENCY_ENV} to a positive integer",
        )
    if retry_backoff < 0:
        raise EmulatorError(
            f"Retry back-off must not be negative, got {retry_backoff}",
            f"set {RETRY_BACKOFF_ENV} to a number of seconds such as 0.2",
        )
    if not (lifecycle_day_seconds > 0 and math.isfinite(lifecycle_day_seconds)):
        raise EmulatorError(
            f"A lifecycle day must last more than 0 seconds, got {lifecycle_day_seconds}",
            f"set {LIFECYCLE_DAY_ENV} to a number of seconds such as 2",
        )
    if not (schedule_minute_seconds > 0 and math.isfinite(schedule_minute_seconds)):
        raise EmulatorError(
            f"A schedule minute must last more than 0 seconds, got {schedule_minute_seconds}",
            f"set {SCHEDULE_MINUTE_ENV} to a number of seconds such as 0.5",
        )
    return EmulatorSettings(
        concurrency,
        retry_backoff,
        parse_faults(faults),
        float(lifecycle_day_seconds),
        float(schedule_minute_seconds),
    )


def parse_faults(text: str) -> FaultRates:
    """Parse "duplicate=0.1,reorder=0.1,crash=0.1,seed=7"; every part is optional."""
    values: dict[str, float | int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or name not in (*FAULT_NAMES, "seed"):
            raise _bad_faults(f"'{part}' is not one of {', '.join(FAULT_NAMES)} or seed")
        try:
            value: float | int = int(raw) if name == "seed" else float(raw)
        except ValueError:
            raise _bad_faults(f"'{raw.strip()}' is not a number in '{part}'") from None
        if name != "seed" and not 0.0 <= value <= 1.0:
            raise _bad_faults(f"{name} must be a probability between 0 and 1, got {value}")
        values[name] = value
    return FaultRates(**values)  # type: ignore[arg-type]


def _bad_faults(detail: str) -> EmulatorError:
    return EmulatorError(
        f"Invalid {FAULTS_ENV}: {detail}",
        "use a form such as duplicate=0.1,reorder=0.1,crash=0.1,seed=7",
    )


def _env_number(name: str, kind: type, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise EmulatorError(
            f"{name}={raw!r} is not a number", f"unset {name} or give it a number"
        ) from None
