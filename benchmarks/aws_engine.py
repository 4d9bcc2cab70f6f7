"""The machinery of benchmarks/aws_model.py: scenarios, outcomes, capacity and the event loop.

Capacity is a token bucket per partition key and one per table, refilled continuously, holding
one second's worth (no burst credit). Processes are generators that yield the seconds they wait;
one seeded generator supplies every random draw, so a scenario always gives the same figures.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections import Counter, deque
from dataclasses import dataclass

from benchmarks.aws_limits import (
    ASSUMED,
    NEW_TABLE_RRU,
    NEW_TABLE_WRU,
    PARTITION_RCU,
    PARTITION_WCU,
    PRICE_LAMBDA_GB_SECOND,
    PRICE_LAMBDA_REQUESTS,
    PRICE_RRU,
    PRICE_SQS,
    PRICE_WRU,
    TRANSACTION_ITEMS,
)

# The tracker's own settings (s3sizer/lambdas/history.py, s3sizer/stack/model.py, the brief).
TRACKER_ATTEMPTS, BACKOFF_BASE, BACKOFF_CAP = 30, 0.01, 0.5
FUNCTION_TIMEOUT, MEMORY_GB = 30.0, 256 / 1024
BATCH_SIZE, BATCH_WINDOW, MAX_RECEIVES = 100, 1.0, 5
VISIBILITY_TIMEOUT = 6 * FUNCTION_TIMEOUT  # AWS advises at least 6x the function's timeout
KEYS_PER_CHUNK = int(TRANSACTION_ITEMS.value) - 2  # the totals and one history point ride along
BUCKET_PK = "bucket"  # the bucket's own partition key: totals, history points, unspread key items
# boto3's default ("legacy") retry policy for DynamoDB retries a throttled request: 10 attempts,
# 50 ms doubling (botocore/data/_retry.json); then the call raises and the invocation fails.
SDK_ATTEMPTS, SDK_BASE = 10, 0.05
POLL = 0.02  # how often an idle poller looks again (long polling answers as soon as one arrives)


@dataclass(frozen=True)
class Scenario:
    design: str  # "direct" or "queue"
    rate: int  # S3 events per second, for `seconds`
    seconds: float = 60.0
    key_spread: int = 16  # partition keys the key items are spread over (1: the bucket's own)
    warm_wru: float | None = None  # the table's warm throughput for writes; None: a new table
    max_concurrency: int = 5  # the event source mapping's MaximumConcurrency
    totals: str = "chunk"  # queue: "chunk" (totals in each chunk) or "journal" (see fold)
    seed: int = 1

    @property
    def label(self) -> str:
        if self.design == "direct":
            return "direct"
        parts = ["queue" if self.totals == "chunk" else "queue, journal",
                 f"MaximumConcurrency {self.max_concurrency}"]  # fmt: skip
        parts.append(f"keys over {self.key_spread} partition keys" if self.key_spread > 1 else
                     "keys in the bucket's partition")  # fmt: skip
        if self.warm_wru:
            parts.append(f"warm throughput {self.warm_wru:,.0f} WRU/s")
        return ", ".join(parts)


@dataclass
class Outcome:
    scenario: Scenario
    sent: int = 0
    applied: int = 0
    applied_in_burst: int = 0
    lost: int = 0
    pending: int = 0  # still queued, in flight or in the dead-letter queue when the model stopped
    dead_lettered: int = 0
    finished_at: float = 0.0  # when the last event was applied or given up
    conflicts: int = 0
    throttled: int = 0
    lambda_requests: int = 0
    gb_seconds: float = 0.0
    wru: float = 0.0
    rru: float = 0.0
    sqs_requests: int = 0
    peak_concurrency: int = 0

    @property
    def catch_up(self) -> float:
        """Seconds from the burst's last event until every event was applied or given up."""
        return max(0.0, self.finished_at - self.scenario.seconds)

    @property
    def cost(self) -> dict[str, float]:
        return {
            "Lambda requests": self.lambda_requests * PRICE_LAMBDA_REQUESTS.value / 1e6,
            "Lambda duration": self.gb_seconds * PRICE_LAMBDA_GB_SECOND.value,
            "DynamoDB writes": self.wru * PRICE_WRU.value / 1e6,
            "DynamoDB reads": self.rru * PRICE_RRU.value / 1e6,
            "SQS requests": self.sqs_requests * PRICE_SQS.value / 1e6,
        }

    @property
    def cost_per_million(self) -> float:
        return sum(self.cost.values()) / self.sent * 1e6 if self.sent else math.nan


class Capacity:
    """A token bucket: `rate` units a second, holding at most one second's worth."""

    def __init__(self, rate: float):
        self.rate, self.tokens, self.at = rate, rate, 0.0

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now


class Model:
    """The clock, the event heap, the table's capacity and the counters of one scenario."""

    def __init__(self, scenario: Scenario):
        self.s, self.out = scenario, Outcome(scenario)
        self.rng = random.Random(scenario.seed)
        self.now, self._heap, self._seq = 0.0, [], 0
        self.table_w = Capacity(scenario.warm_wru or NEW_TABLE_WRU.value)
        self.table_r = Capacity(NEW_TABLE_RRU.value)
        self.parts_w: dict[str, Capacity] = {}
        self.parts_r: dict[str, Capacity] = {}
        self.totals_committed_at = -1.0  # the optimistic lock: when the totals' version last moved
        self.source_done = False
        self.busy = 0
        self.waiting: deque[int] = deque()  # direct: events waiting for a free execution
        self.retries_scheduled = 0
        self.queue: deque[int] = deque()  # queue: visible messages, by id
        self.receives: Counter[int] = Counter()
        self.invisible = 0  # queue: messages back from a failed batch, not yet visible

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
        parts, table = (self.parts_w, self.table_w) if write else (self.parts_r, self.table_r)
        per_part = PARTITION_WCU.value if write else PARTITION_RCU.value
        buckets = [parts.setdefault(pk, Capacity(per_part)) for pk in units]
        for bucket in [*buckets, table]:
            bucket.refill(self.now)
        if table.tokens < sum(units.values()) or any(
            b.tokens < n for b, n in zip(buckets, units.values(), strict=True)
        ):
            self.out.throttled += 1
            return False
        for bucket, n in zip(buckets, units.values(), strict=True):
            bucket.tokens -= n
        table.tokens -= sum(units.values())
        if write:
            self.out.wru += sum(units.values())
        else:
            self.out.rru += sum(units.values())
        return True

    def request(self, units: dict[str, float], *, write: bool, deadline: float = math.inf):
        """One DynamoDB call through boto3: throttled calls are retried; False if they all were,
        or if the next retry would come after the invocation's `deadline` (its timeout)."""
        for attempt in range(SDK_ATTEMPTS):
            if self.take(units, write=write):
                return True
            wait = SDK_BASE * 2**attempt
            if attempt == SDK_ATTEMPTS - 1 or self.now + wait > deadline:
                return False
            yield wait
        return False

    def latency(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.8, 1.2)

    def write_latency(self, items: int) -> float:
        fixed, per = ASSUMED["TransactWriteItems: fixed part (s)"], ASSUMED["TransactWriteItems: per item (s)"]  # fmt: skip
        return self.latency(fixed + per * items)

    def backoff(self, attempt: int) -> float:
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))

    def key_partitions(self, keys: int) -> Counter[str]:
        if self.s.key_spread <= 1:
            return Counter({BUCKET_PK: keys})
        return Counter(f"keys#{self.rng.randrange(self.s.key_spread)}" for _ in range(keys))

    def applied(self, records: int) -> None:
        self.out.applied += records
        if self.now <= self.s.seconds:
            self.out.applied_in_burst += records
        self.out.finished_at = self.now

    # -- S3 -----------------------------------------------------------------------------------
    def source(self, deliver):
        # Independent clients: exponential gaps between events, at the scenario's mean rate.
        for _ in range(int(self.s.rate * self.s.seconds)):
            self.out.sent += 1
            deliver(self.out.sent)
            yield min(self.rng.expovariate(self.s.rate), 1.0)
        self.source_done = True
