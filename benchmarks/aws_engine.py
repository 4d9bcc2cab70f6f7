"""The machinery of benchmarks/aws_model.py: scenarios, outcomes, capacity and the event loop.

Capacity is a token bucket per partition key and one per table, refilled continuously, holding
one second's worth (no burst credit). Processes are generators that yield the seconds they wait;
one seeded generator supplies every random draw, so a scenario always gives the same figures.
To stay fast at 50,000 events/s the model is coarse where that changes no figure: S3's events
arrive in small groups, and the key items of a batch are spread over their partitions in bulk.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections import Counter, deque
from dataclasses import dataclass, field

from benchmarks.aws_limits import (
    ASSUMED,
    LAMBDA_PLATFORM_LINES,
    NEW_TABLE_RRU,
    NEW_TABLE_WRU,
    PARTITION_RCU,
    PARTITION_WCU,
    PRICE_LAMBDA_GB_SECOND,
    PRICE_LAMBDA_REQUESTS,
    PRICE_LOGS_GB,
    PRICE_RRU,
    PRICE_SQS,
    PRICE_WRU,
    READ_UNIT_KB,
    SYSTEM_LOG_LEVEL,
    TABLE_QUOTA_WRU,
    WRITE_UNIT_KB,
)

# The shipped product's settings: s3sizer/stack/model.py (MaximumConcurrency 2 on the transaction
# path, its default; the fold designs bring their own, aws_model.design_defaults; batch size 100,
# prefix depth 1, the tracker's 256 MB and 30 s), s3sizer/stack/delivery.py and routes/queue.py
# (window 1 s, five receives before the dead-letter queue, visibility 6 x timeout + window),
# s3sizer/lambdas/batch.py (30 attempts, full-jitter back-off from 10 ms to 0.5 s), layout.py
# (16 key partitions).
SHIPPED = {"max_concurrency": 2, "batch_size": 100, "window": 1.0, "prefix_depth": 1}
TRACKER_ATTEMPTS, BACKOFF_BASE, BACKOFF_CAP = 30, 0.01, 0.5
FUNCTION_TIMEOUT, MEMORY_GB = 30.0, 256 / 1024
MAX_RECEIVES = 5
VISIBILITY_TIMEOUT = 6 * FUNCTION_TIMEOUT + 1.0
TRANSACTION_ITEMS = 100
KEY_SHARDS = 16
# boto3's default ("legacy") retry policy for DynamoDB retries a throttled request: 10 attempts,
# 50 ms doubling (botocore/data/_retry.json); then the call raises and the chunk fails.
SDK_ATTEMPTS, SDK_BASE = 10, 0.05
POLL = 0.02  # how often a waiting poller looks again (long polling answers as soon as one arrives)
ARRIVALS_PER_SECOND = 100  # S3's events come in groups beyond this many arrivals a second


@dataclass(frozen=True)
class Scenario:
    design: str = "shipped"  # shipped | stream-fold | journaled | sharded-totals
    route: str = "sqs"  # sqs | eventbridge | direct
    rate: int = 1_000  # S3 events per second, for `seconds`
    seconds: float = 60.0
    prefix_depth: int = SHIPPED["prefix_depth"]
    busy_prefixes: int = 10  # first-level prefixes the events fall in, evenly
    # first-level prefixes the bucket holds (None: the busy ones): lean-fold's rows hold them all
    bucket_prefixes: int | None = None
    latency_factor: float = 1.0
    max_concurrency: int = SHIPPED["max_concurrency"]
    batch_size: int = SHIPPED["batch_size"]
    window: float = SHIPPED["window"]
    forced_batch: int | None = None  # cost scenarios: every batch closes at this many records
    versioned: bool = False
    warm_wru: float | None = None  # the table's warm throughput for writes; None: a new table
    key_shards: int = KEY_SHARDS
    totals_shards: int = 8  # sharded-totals: rows the totals (and each prefix's) are split into
    fold_window: float = 2.0  # stream-fold: the stream mapping's batching window
    # Lambda's default log format (text, with START, END and REPORT) instead of what ships: a
    # what-if, to show what the JSON format at a system log level of WARN saves.
    text_logs: bool = False
    goal: str | None = None
    seed: int = 1

    @property
    def table_wru(self) -> float:
        return min(self.warm_wru or NEW_TABLE_WRU.value, TABLE_QUOTA_WRU.value)


@dataclass
class Outcome:
    scenario: Scenario
    sent: int = 0
    applied: int = 0
    applied_in_burst: int = 0
    lost: int = 0
    pending: int = 0  # still queued, in flight or in the dead-letter queue when the model stopped
    dead_lettered: int = 0
    finished_at: float = 0.0  # when the last event was applied (or folded) or given up
    conflicts: int = 0
    throttled: int = 0
    batches: int = 0
    batch_records: int = 0
    folds: int = 0
    unfolded: int = 0  # stream-fold: records written but not yet folded when the model stopped
    lambda_requests: int = 0
    gb_seconds: float = 0.0
    wru: float = 0.0
    rru: float = 0.0
    sqs_requests: int = 0
    log_bytes: float = 0.0
    peak_concurrency: int = 0
    lags: list = field(default_factory=list)  # stream-fold: (seconds from write to fold, records)

    @property
    def caught_up(self) -> float | None:
        if self.pending or self.unfolded or self.applied + self.lost < self.sent:
            return None
        return max(0.0, self.finished_at - self.scenario.seconds)

    @property
    def records_per_batch(self) -> float:
        return self.batch_records / self.batches if self.batches else 0.0

    @property
    def cost(self) -> dict[str, float]:
        return {
            "SQS requests": self.sqs_requests * PRICE_SQS.value / 1e6,
            "Lambda requests": self.lambda_requests * PRICE_LAMBDA_REQUESTS.value / 1e6,
            "Lambda duration": self.gb_seconds * PRICE_LAMBDA_GB_SECOND.value,
            "DynamoDB writes": self.wru * PRICE_WRU.value / 1e6,
            "DynamoDB reads": self.rru * PRICE_RRU.value / 1e6,
            "CloudWatch Logs": self.log_bytes / 1e9 * PRICE_LOGS_GB.value,
        }

    @property
    def usd_per_million(self) -> float:
        """Everything billed, per million events applied (what was paid for what was done)."""
        return sum(self.cost.values()) / self.applied * 1e6 if self.applied else math.nan

    @property
    def lag_p99(self) -> float | None:
        if not self.lags:
            return None
        total, seen = sum(n for _, n in self.lags), 0
        for lag, n in sorted(self.lags):
            seen += n
            if seen >= 0.99 * total:
                return lag
        return None


class Capacity:
    """A token bucket: `rate` units a second, holding at most one second's worth."""

    def __init__(self, rate: float):
        self.rate, self.tokens, self.at = rate, rate, 0.0

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now


def _emf_bytes() -> int:
    """The size of one EMF line as the shipped tracker prints it (size_tracking.metric_line)."""
    from s3sizer.lambdas import layout, size_tracking

    totals = layout.Totals(123_456_789_012, 1_234_567, 0, "2026-12-03T05:00:00.000Z", 42)
    return len(size_tracking.metric_line("a-bucket-of-typical-length", totals)) + 1


EMF_BYTES = _emf_bytes()


def units_for(kb: float, per_unit_kb: float) -> int:
    return max(1, math.ceil(kb / per_unit_kb - 1e-9))


class Model:
    """The clock, the event heap, the table's capacity, the queue and the counters."""

    def __init__(self, scenario: Scenario):
        self.s, self.out = scenario, Outcome(scenario)
        self.rng = random.Random(scenario.seed)
        self.now, self._heap, self._seq = 0.0, [], 0
        self.table_w = Capacity(scenario.table_wru)
        self.table_r = Capacity(NEW_TABLE_RRU.value * max(1.0, scenario.table_wru / 4_000))
        self.parts: dict[tuple[str, bool], Capacity] = {}
        self.row_at: dict = {}  # optimistic locks: when each totals row's version last moved
        self.source_done = False
        self.queue: deque[list[int]] = deque()  # [messages, receives so far], oldest first
        self.queued = 0
        self.invisible = 0
        self.in_flight = 0
        self.busy = 0
        key_kb = ASSUMED[
            "versioned key item, a few versions and tombstones (KB)"
            if scenario.versioned
            else "unversioned key item (KB)"
        ]
        self.emf_bytes = EMF_BYTES
        self.key_wru = units_for(key_kb, WRITE_UNIT_KB.value)  # outside a transaction
        self.key_rru = units_for(key_kb, READ_UNIT_KB.value)

    # -- the scheduler: generators yield the seconds they wait --------------------------------
    def spawn(self, process, delay: float = 0.0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay, self._seq, process))

    def run(self, until: float) -> Outcome:
        while self._heap and self._heap[0][0] <= until:
            self.now, _, process = heapq.heappop(self._heap)
            with contextlib.suppress(StopIteration):
                self.spawn(process, next(process))
        return self.out

    # -- DynamoDB -----------------------------------------------------------------------------
    def take(self, units: dict[str, float], *, write: bool) -> bool:
        """Consume capacity on every partition key and the table, all or nothing."""
        table = self.table_w if write else self.table_r
        per_part = PARTITION_WCU.value if write else PARTITION_RCU.value
        buckets = []
        for pk in units:
            bucket = self.parts.get((pk, write))
            if bucket is None:
                # Pooled partition keys, which their writers spread evenly: "K" the key items'
                # (by key hash), "HP" the prefixes' history points, "J" journaled deltas, "rows"
                # the sharded totals' and prefix totals' rows (a partition key per shard each).
                ways = {
                    "K": self.s.key_shards,
                    "HP": self.s.busy_prefixes,
                    "J": 16,
                    "rows": 2 * self.s.totals_shards,
                }.get(pk, 1)
                rate = per_part * ways
                bucket = self.parts[(pk, write)] = Capacity(rate)
            buckets.append(bucket)
        total = sum(units.values())
        for bucket in [*buckets, table]:
            bucket.refill(self.now)
        if table.tokens < total or any(
            b.tokens < n for b, n in zip(buckets, units.values(), strict=True)
        ):
            self.out.throttled += 1
            return False
        for bucket, n in zip(buckets, units.values(), strict=True):
            bucket.tokens -= n
        table.tokens -= total
        if write:
            self.out.wru += total
        else:
            self.out.rru += total
        return True

    def request(self, units: dict[str, float], *, write: bool):
        """One DynamoDB call through boto3: throttled calls are retried; False if all were."""
        for attempt in range(SDK_ATTEMPTS):
            if self.take(units, write=write):
                return True
            if attempt < SDK_ATTEMPTS - 1:
                yield SDK_BASE * 2**attempt
        return False

    def latency(self, seconds: float) -> float:
        return seconds * self.s.latency_factor * self.rng.uniform(0.8, 1.2)

    def backoff(self, attempt: int) -> float:
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))

    def key_units(self, keys: int, each: float) -> Counter:
        """Units on the key items' partition keys (pooled: keys spread evenly by their hash)."""
        return Counter({"K": keys * each})

    def spread(self, n: int, ways: int) -> list[int]:
        """n items over `ways` places at random (multinomial, drawn coarsely for large n)."""
        counts = [n // ways] * ways
        for _ in range(n % ways):
            counts[self.rng.randrange(ways)] += 1
        return counts

    def moved_since(self, rows, read_at: float) -> list:
        return [r for r in rows if self.row_at.get(r, -1.0) > read_at]

    def commit(self, rows) -> None:
        for r in rows:
            self.row_at[r] = self.now

    def applied(self, records: int) -> None:
        self.out.applied += records
        if self.now <= self.s.seconds:
            self.out.applied_in_burst += records
        self.out.finished_at = max(self.out.finished_at, self.now)

    def invocation_logs(self, extra_lines_bytes: float) -> None:
        """What one invocation of the tracker or the fold writes to CloudWatch Logs. As shipped
        they log in the JSON format at a system log level of WARN: a successful invocation
        writes no START, END or REPORT line, and its batch line is a JSON record."""
        if self.s.text_logs:  # Lambda's default: text, and the three platform lines
            names = ("START", "END", "REPORT")
            assert LAMBDA_PLATFORM_LINES.value == len(names)
            self.out.log_bytes += sum(ASSUMED[f"{n} line (bytes)"] for n in names)
        else:
            assert SYSTEM_LOG_LEVEL.value == 0
            self.out.log_bytes += ASSUMED[
                "a logged line's JSON record, beyond its text form (bytes)"
            ]
        self.out.log_bytes += extra_lines_bytes

    def drained_source_empty(self) -> bool:
        return self.source_done and not self.queued

    def drained(self) -> bool:
        return self.source_done and not self.queued and not self.invisible and not self.in_flight

    # -- S3 and the queue ---------------------------------------------------------------------
    def source(self, deliver):
        """Independent clients: exponential gaps, at the scenario's mean rate, in small groups."""
        group = max(1, math.ceil(self.s.rate / ARRIVALS_PER_SECOND))
        left = int(self.s.rate * self.s.seconds)
        while left > 0:
            n = min(group, left)
            left -= n
            self.out.sent += n
            deliver(n)
            yield self.rng.expovariate(self.s.rate / n)
        self.source_done = True

    def enqueue(self, n: int, receives: int = 0) -> None:
        self.queue.append([n, receives])
        self.queued += n

    def dequeue(self, most: int) -> list[list[int]]:
        taken, want = [], most
        while want and self.queue:
            head = self.queue[0]
            k = min(want, head[0])
            taken.append([k, head[1]])
            head[0] -= k
            want -= k
            if not head[0]:
                self.queue.popleft()
        self.queued -= most - want
        return taken
