"""EventBridge schedule expressions, as the EventBridge user guide documents them
(scheduled-rules): `rate(value unit)` and `cron(minutes hours day-of-month month day-of-week year)`.

Cron fields take `*`, numbers, lists (`,`), ranges (`-`) and increments (`/`); month and
day-of-week take names (JAN-DEC, SUN-SAT, day 1 being Sunday), and one of day-of-month and
day-of-week is `?`. The `L`, `W` and `#` forms are not understood: such a rule never fires, and
the emulator logs why once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
CRON = re.compile(r"^cron\((.*)\)$")
UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
MONTHS = {name: n for n, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                            "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}  # fmt: skip
WEEKDAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
                                             start=1)}  # fmt: skip
# (low, high, names) of each cron field, in order.
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (1, 7, WEEKDAYS),
          (1970, 2199, {}))  # fmt: skip


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    minutes: int

    def due_between(self, anchor: datetime, after: datetime, until: datetime) -> list[datetime]:
        """Each time in (after, until] that is a whole number of periods after `anchor`."""
        period = timedelta(minutes=self.minutes)
        if until <= anchor:
            return []
        first = max(1, (after - anchor) // period + 1) if after >= anchor else 1
        found, moment = [], anchor + first * period
        while moment <= until:
            found.append(moment)
            moment += period
        return found


@dataclass(frozen=True)
class Cron:
    fields: tuple[frozenset[int] | None, ...]  # None: any value (`*` or `?`)

    def matches(self, moment: datetime) -> bool:
        weekday = moment.isoweekday() % 7 + 1  # Sunday is 1
        values = (moment.minute, moment.hour, moment.day, moment.month, weekday, moment.year)
        return all(allowed is None or value in allowed
                   for allowed, value in zip(self.fields, values, strict=True))  # fmt: skip

    def due_between(self, anchor: datetime, after: datetime, until: datetime) -> list[datetime]:
        del anchor  # a cron schedule depends on the clock only
        moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        found = []
        while moment <= until:
            if self.matches(moment):
                found.append(moment)
            moment += timedelta(minutes=1)
        return found


def parse(expression: str) -> Rate | Cron:
    text = expression.strip()
    rate = RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise ScheduleError(f"{expression}: the value must be a positive whole number")
        return Rate(value * UNIT_MINUTES[unit])
    cron = CRON.match(text)
    if not cron:
        raise ScheduleError(f"{expression}: not rate(value unit) nor cron(...)")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ScheduleError(f"{expression}: cron takes six fields, got {len(parts)}")
    return Cron(
        tuple(_field(part, *spec, expression) for part, spec in zip(parts, FIELDS, strict=True))
    )


def _field(text: str, low: int, high: int, names: dict, expression: str):
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for piece in text.upper().split(","):
        base, _, step_text = piece.partition("/")
        step = _number(step_text, {}, expression) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (_number(p, names, expression) for p in base.split("-", 1))
        else:
            start = _number(base, names, expression)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleError(f"{expression}: {piece!r} is out of range {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return frozenset(allowed)


def _number(text: str, names: dict, expression: str) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"{expression}: {text!r} is not understood here")
    return int(text)
