"""The command line's value types: each refuses a bad value while the arguments are parsed.

A refusal raises typer.BadParameter, which the parser turns into a usage error (exit 2) naming
the option, before any command runs or any request is made.
"""

from __future__ import annotations

import re
from enum import Enum

import typer

from s3sizer.stack.model import (
    ARCHITECTURES,
    AUTO_ROUTE,
    DELIVERY_ROUTES,
    FUNCTION_NAMES,
    MIN_UPLOADS_EVERY,
    RUNTIME_WHEEL_PLATFORMS,
    WRITE_PATHS,
)

# str-valued enums, so that Typer offers (and completes) exactly these choices.
Architecture = Enum("Architecture", [(name, name) for name in ARCHITECTURES], type=str)
Runtime = Enum("Runtime", [(name, name) for name in RUNTIME_WHEEL_PLATFORMS], type=str)
FunctionName = Enum("FunctionName", [(name, name) for name in FUNCTION_NAMES], type=str)
# deploy's: the routes, and `auto` (each bucket's best fit again)
Delivery = Enum("Delivery", [(name, name) for name in (*DELIVERY_ROUTES, AUTO_ROUTE)], type=str)
WritePath = Enum("WritePath", [(name, name) for name in WRITE_PATHS], type=str)

TEN_YEARS = 10 * 365 * 86400
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# ASCII digits only: `\d` would also take digits such as "²" that float() and int() refuse.
_DURATION = re.compile(r"([-+]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([smhd]?)", re.ASCII)


class Duration:
    """A length of time: `90` or `90s` (seconds), `10m`, `2h`, `1d`; parsed into seconds.

    Every option that takes a time uses this one type, so they all read the same way.
    nan and inf are not durations, a negative one is refused, and zero too unless `zero_ok`.
    """

    __name__ = "duration"  # a parser on click's FuncParamType is named after its __name__

    def __init__(self, *, zero_ok: bool = False, at_most: float = TEN_YEARS):
        self.zero_ok = zero_ok
        self.at_most = at_most

    def __call__(self, value: str | float) -> float:
        # Defaults arrive as numbers, typed values as text; both go through the same checks.
        text = str(value).strip().lower()
        match = _DURATION.fullmatch(text)
        if not match:
            raise typer.BadParameter(
                f"{value!r} is not a duration: use seconds, or a number with s, m, h or d, "
                "e.g. 90, 10m, 2h"
            )
        sign, number, unit = match.groups()
        seconds = float(number) * _UNITS[unit]
        if sign == "-" and seconds:
            least = "0 seconds or more" if self.zero_ok else "more than 0 seconds"
            raise typer.BadParameter(f"{value!r} is negative: it must be {least}")
        if seconds == 0 and not self.zero_ok:
            raise typer.BadParameter("must be more than 0 seconds, e.g. 10s")
        if seconds > self.at_most:
            raise typer.BadParameter(f"{value!r} is too long: at most {_spoken(self.at_most)}")
        return seconds


class UploadsEvery(Duration):
    """--uploads-every: 0 (off), or whole minutes, 1 at least, as EventBridge's rate() takes."""

    def __init__(self):
        super().__init__(zero_ok=True)

    def __call__(self, value: str | float) -> float:
        seconds = super().__call__(value)
        if 0 < seconds < MIN_UPLOADS_EVERY:
            raise typer.BadParameter(
                f"{value!r} is under 1 minute, EventBridge's shortest rate: use 0 (off) or e.g. 15m"
            )
        if seconds % 60:
            raise typer.BadParameter(f"{value!r} is not whole minutes: use e.g. 15m, 90m or 1h")
        return seconds


def _spoken(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:g} days"
    return f"{seconds:g} seconds"


_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)


class FunctionSetting:
    """`FUNCTION=NUMBER` for one of the stack's functions, within Lambda's limits."""

    __name__ = "function setting"  # as Duration.__name__

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, value: str) -> tuple[str, int]:
        name, equals, number = str(value).partition("=")
        if not equals or name not in FUNCTION_NAMES:
            raise typer.BadParameter(
                f"{value!r} is not FUNCTION=NUMBER with FUNCTION one of {', '.join(FUNCTION_NAMES)}"
            )
        if not _WHOLE_NUMBER.fullmatch(number) or not self.low <= int(number) <= self.high:
            raise typer.BadParameter(
                f"{value!r}: NUMBER must be a whole number from {self.low} to {self.high}"
            )
        return name, int(number)


# Decimal units as S3 and the AWS console count them; binary ones when the name says "i".
_BYTE_UNITS = {"": 1, "b": 1} | {
    unit: factor
    for power, letter in enumerate("kmgtpe", start=1)
    for unit, factor in ((f"{letter}b", 1000**power), (f"{letter}ib", 1024**power))
}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)", re.ASCII)
# CloudWatch keeps a threshold as a double; past 2^63 bytes (8 EiB) no bucket will ever be.
_MOST_BYTES = 2**63


class ByteSize:
    """A size: `500GB` is 500 x 10^9 bytes, `500GiB` 500 x 2^30, a bare number is bytes; with
    ``off``, `off` too, as 0 (what it sets is removed)."""

    __name__ = "size"  # as Duration.__name__

    def __init__(self, off: bool = False):
        self.off = off

    def __call__(self, value: str | int) -> int:
        if self.off and str(value).strip().lower() == "off":
            return 0
        match = _SIZE.fullmatch(str(value).strip().lower())
        if not match or match.group(2) not in _BYTE_UNITS:
            raise typer.BadParameter(
                f"{value!r} is not a size: use bytes, or a number with KB, MB, GB, TB "
                "(powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 500GB"
                + (", or off" if self.off else "")
            )
        size = float(match.group(1)) * _BYTE_UNITS[match.group(2)]
        if size >= _MOST_BYTES:
            raise typer.BadParameter(f"{value!r} is too large: at most 8EiB")
        size = int(size)
        if size <= 0:
            raise typer.BadParameter(f"{value!r} must be more than 0 bytes")
        return size


class Arn:
    """An ARN of one kind of AWS resource, checked for its form (its existence is checked later,
    by the command, before it changes anything)."""

    __name__ = "ARN"  # as Duration.__name__

    def __init__(self, kind: str, pattern: str, example: str, fix: str):
        self.kind, self.example, self.fix = kind, example, fix
        self.pattern = re.compile(pattern, re.ASCII)

    def __call__(self, value: str) -> str:
        text = str(value).strip()
        if not self.pattern.fullmatch(text):
            raise typer.BadParameter(
                f"{value!r} is not {self.kind} ARN ({self.example}): {self.fix}"
            )
        return text


_PARTITION_REGION_ACCOUNT = (
    r"arn:aws(?:-[a-z]+)*:{service}:[a-z]{{2}}(?:-[a-z]+)+-[0-9]+:[0-9]{{12}}:"
)
# Lambda layer names: letters, digits, hyphens and underscores, 1 to 140; versions count from 1.
LayerArn = Arn(
    "a Lambda layer version",
    _PARTITION_REGION_ACCOUNT.format(service="lambda") + r"layer:[A-Za-z0-9_-]{1,140}:[1-9][0-9]*",
    "arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION",
    "give one, or use --no-layer",
)
# SNS topic names: letters, digits, hyphens and underscores, 1 to 256 (".fifo" for FIFO topics).
TopicArn = Arn(
    "an SNS topic",
    _PARTITION_REGION_ACCOUNT.format(service="sns") + r"[A-Za-z0-9_-]{1,256}(?:\.fifo)?",
    "arn:aws:sns:REGION:ACCOUNT:NAME",
    "give the topic's ARN as `aws sns list-topics` shows it",
)


_PERIOD = re.compile(r"([0-9]*)([mhd])", re.ASCII)
_PERIOD_SECONDS = {"m": 60, "h": 3600, "d": 86400}


class GrowthRate:
    """`SIZE/PERIOD`, e.g. `10GB/h` or `500MiB/d`: (bytes, seconds); `off` is (0, 0).

    CloudWatch takes an alarm's period in whole minutes, and metric math over at most a day.
    """

    __name__ = "growth"  # as Duration.__name__

    def __call__(self, value: str) -> tuple[int, int]:
        text = str(value).strip()
        if text.lower() == "off":
            return (0, 0)
        size, slash, period = text.partition("/")
        if not slash:
            raise typer.BadParameter(
                f"{value!r} is not SIZE/PERIOD, e.g. 10GB/h, 500MiB/d or 1GB/15m (or off)"
            )
        amount = ByteSize()(size)
        match = _PERIOD.fullmatch(period.strip().lower())
        if not match or match.group(1) in ("0",) or match.group(1).startswith("0"):
            raise typer.BadParameter(
                f"{value!r}: PERIOD is minutes, hours or a day, e.g. h, 6h, 15m or d"
            )
        seconds = int(match.group(1) or 1) * _PERIOD_SECONDS[match.group(2)]
        if not 60 <= seconds <= 86400:
            raise typer.BadParameter(f"{value!r}: PERIOD must be from 1 minute to 1 day")
        return amount, seconds
