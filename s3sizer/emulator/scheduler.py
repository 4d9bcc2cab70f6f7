"""EventBridge scheduled rules, run on a clock a test can speed up or advance.

Every rule with a `ScheduleExpression` (rate or cron, see schedule_expressions.py) whose state is
ENABLED sends each of its targets the scheduled event EventBridge documents, at each time its
expression names: `{"version": "0", "id", "detail-type": "Scheduled Event", "source":
"aws.events", "account", "time", "region", "resources": [rule ARN], "detail": {}}`, or the
target's `Input`, or the part its `InputPath` names. A Lambda target is invoked asynchronously,
an SQS target gets the event as a message (events.deliver, as for S3's events).

The schedule runs on its own clock: a schedule minute lasts `minute_seconds` real seconds (60,
or S3SIZER_EMULATOR_SCHEDULE_MINUTE_SECONDS), and `advance(minutes)` (the emulator's
`POST /_s3sizer/schedules/advance?minutes=N`) moves it forward for good, firing every occurrence
due on the way. A rate schedule counts its periods from when the scheduler first saw the rule.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

from . import schedule_expressions
from .controls import serve_advance
from .patches import events
from .ticker import Ticker

logger = logging.getLogger("s3sizer.emulator")

CONTROL_PATH = "/_s3sizer/schedules/advance"
MAX_ADVANCE_MINUTES = 100_000  # about 69 days: a cron rule is checked minute by minute
MAX_FIRINGS = 1_000  # per rule per run, so a long advance of rate(1 minute) stays bounded


class Scheduler(Ticker):
    thread_name = "s3sizer-emulator-schedules"
    what = "a schedule run"

    def __init__(self, minute_seconds: float = 60.0):
        from moto.core.utils import utcnow

        super().__init__()
        self.minute_seconds = minute_seconds
        self._lock = threading.Lock()  # one run at a time: the timer's or a test's
        self._started = utcnow()
        self._started_monotonic = time.monotonic()
        self._offset = timedelta()
        self._checked = self._started  # the schedule clock's time of the last run
        self._anchors: dict[tuple[str, str], datetime] = {}  # (rule ARN, expression) → first seen
        self._refused: set[tuple[str, str]] = set()

    def tick_seconds(self) -> float:
        return max(0.05, min(1.0, self.minute_seconds / 4))

    def now(self) -> datetime:
        """The schedule clock: real time, sped up by 60 / minute_seconds, plus every advance."""
        elapsed = (time.monotonic() - self._started_monotonic) * 60.0 / self.minute_seconds
        return self._started + timedelta(seconds=elapsed) + self._offset

    def run(self) -> int:
        """Fire every occurrence due since the last run; how many events were sent."""
        with self._lock:
            return self._run()

    def advance(self, minutes: float) -> dict:
        """Move the schedule clock `minutes` forward for good, firing what falls due."""
        with self._lock:
            self._run()  # rules created since the last run count from now, not from after
            self._offset += timedelta(minutes=minutes)
            sent = self._run()
            return {"as_of": self._checked.isoformat(timespec="milliseconds") + "Z",
                    "events_sent": sent}  # fmt: skip

    def _run(self) -> int:
        until = self.now()
        after, self._checked = self._checked, until
        sent, seen = 0, set()
        for rule in _scheduled_rules():
            key = (rule.arn, rule.scheduled_expression)
            seen.add(key)
            expression = self._parse(key)
            if expression is None:
                continue
            anchor = self._anchors.setdefault(key, until)
            if rule.state != "ENABLED":
                continue
            due = expression.due_between(anchor, after, until)
            if len(due) > MAX_FIRINGS:
                logger.warning("rule %s: %d occurrences due at once; the last %d are sent",
                               rule.name, len(due), MAX_FIRINGS)  # fmt: skip
                due = due[-MAX_FIRINGS:]
            for _ in due:
                sent += _fire(rule)
        for gone in set(self._anchors) - seen:  # deleted or changed rules start afresh
            del self._anchors[gone]
        return sent

    def _parse(self, key: tuple[str, str]):
        try:
            return schedule_expressions.parse(key[1])
        except schedule_expressions.ScheduleError as error:
            if key not in self._refused:
                self._refused.add(key)
                logger.warning("rule %s never fires here: %s", key[0], error)
            return None


def _scheduled_rules() -> list:
    from moto.events.models import events_backends

    found = []
    for per_account in list(events_backends.values()):
        for backend in list(per_account.values()):
            for bus in list(backend.event_buses.values()):
                found += [r for r in list(bus.rules.values()) if r.scheduled_expression]
    return found


def scheduled_event(rule) -> dict:
    from moto.core.utils import utcnow

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


def _fire(rule) -> int:
    targets = list(rule.targets)
    for target in targets:
        events.deliver(rule, target, scheduled_event(rule))
    return len(targets)


# --- The emulator's control endpoint -------------------------------------------------------

_scheduler: Scheduler | None = None


def set_scheduler(scheduler: Scheduler | None) -> None:
    global _scheduler
    _scheduler = scheduler


def serve_control(environ, start_response):
    """POST /_s3sizer/schedules/advance?minutes=N: the schedule clock moves N minutes on."""
    return serve_advance(
        environ,
        start_response,
        path=CONTROL_PATH,
        amount="minutes",
        maximum=MAX_ADVANCE_MINUTES,
        advance=None if _scheduler is None else _scheduler.advance,
        stopped="The scheduler is stopped",
    )
