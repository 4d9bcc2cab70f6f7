"""A discrete-event model of the size tracker on AWS, to see where each delivery route saturates.

    python benchmarks/aws_model.py    # section 7 of RESULTS.md, in well under a minute

The designs meet the same burst of S3 events (a constant mean rate for 60 s):
- **direct**: S3 invokes the tracker asynchronously, once per event. Each invocation reads the
  totals and the key item with TransactGetItems, then writes key item, totals and a history point
  with TransactWriteItems under an optimistic lock on the totals' version, retrying a cancelled
  transaction up to 30 times with full-jitter backoff (as `s3sizer/lambdas/history.py` does). A
  failed invocation is retried by Lambda twice, after 1 and 2 minutes; then the event is lost.
- **queue**: S3 sends to an SQS queue; an event source mapping hands batches of up to 100 records
  to the tracker. Per batch: one BatchGetItem of the keys' states, then one TransactWriteItems per
  chunk of up to 98 records (key items + totals + one history point = at most 100 items). A
  conflict on the totals cancels the chunk: the tracker re-reads the totals alone and resubmits.
  A message that still fails goes back to the queue, and to the dead-letter queue after 5 receives;
  nothing is lost.
- **queue, journal** (``totals="journal"``): the same route, but each chunk writes its key items
  with one delta item of its own instead of the totals, and after the batch one small transaction
  folds the batch's deltas into the totals under their version and writes the history point.
  A conflict then resubmits those few items instead of 100.

Every AWS figure is a `Limit` in benchmarks/aws_limits.py, with the page it was read from and
that page's words; what AWS does not document (request latencies) is `ASSUMED` there. The event
loop, capacity and counters are in benchmarks/aws_engine.py. One seeded generator supplies every
random draw (arrival gaps, latency jitter, backoff), so every run gives the same figures.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.aws_engine import (
    BATCH_SIZE,
    BATCH_WINDOW,
    BUCKET_PK,
    FUNCTION_TIMEOUT,
    KEYS_PER_CHUNK,
    MAX_RECEIVES,
    MEMORY_GB,
    POLL,
    TRACKER_ATTEMPTS,
    VISIBILITY_TIMEOUT,
    Model,
    Outcome,
    Scenario,
)
from benchmarks.aws_limits import (
    ACCOUNT_CONCURRENCY,
    ASSUMED,
    ASYNC_RETRIES,
    ASYNC_RETRY_WAITS,
    ESM_MAX,
    ESM_RAMP,
    ESM_START,
    SQS_BATCH,
    TRANSACTION_FACTOR,
    WARM_THROUGHPUT,
    limits_markdown,
)
from benchmarks.measure import Section, Table


# -- direct: S3 -> Lambda (asynchronous), one invocation per event -----------------------------
def run_direct(scenario: Scenario, horizon: float) -> Outcome:
    m = Model(scenario)

    def arrive(tries: int) -> None:
        if m.busy < ACCOUNT_CONCURRENCY.value:
            start(tries)
        else:
            m.waiting.append(tries)  # throttled: Lambda keeps it queued (up to 6 h) and retries

    def start(tries: int) -> None:
        m.busy += 1
        m.out.peak_concurrency = max(m.out.peak_concurrency, m.busy)
        m.spawn(invocation(tries))

    def retry_later(tries: int):
        m.retries_scheduled -= 1
        arrive(tries)
        yield from ()

    def invocation(tries: int):
        began, ok = m.now, False
        deadline = began + FUNCTION_TIMEOUT
        m.out.lambda_requests += 1
        yield m.latency(ASSUMED["Lambda invoke overhead, warm (s)"])
        read, write = (
            {BUCKET_PK: 2 * TRANSACTION_FACTOR.value},
            {BUCKET_PK: 3 * TRANSACTION_FACTOR.value},
        )
        for attempt in range(TRACKER_ATTEMPTS):
            # Throttled through every SDK retry, or out of time: the handler raises.
            if not (yield from m.request(read, write=False, deadline=deadline)):
                break
            read_at = m.now
            yield m.latency(ASSUMED["TransactGetItems of 2 items (s)"])
            if not (yield from m.request(write, write=True, deadline=deadline)):
                break
            yield m.write_latency(3)
            if m.totals_committed_at <= read_at:
                m.totals_committed_at, ok = m.now, True
                break
            m.out.conflicts += 1  # TransactionCanceledException: back off and read again
            wait = m.backoff(attempt)
            if m.now + wait > deadline:
                break
            yield wait
        m.out.gb_seconds += (m.now - began) * MEMORY_GB
        if ok:
            m.applied(1)
        elif tries < ASYNC_RETRIES.value:
            m.retries_scheduled += 1
            m.spawn(retry_later(tries + 1), ASYNC_RETRY_WAITS.value * (tries + 1))
        else:
            m.out.lost += 1
            m.out.finished_at = m.now
        m.busy -= 1
        if m.waiting:
            start(m.waiting.popleft())

    m.spawn(m.source(lambda _id: arrive(0)))
    out = m.run(horizon)
    out.pending = len(m.waiting) + m.busy + m.retries_scheduled
    return out


# -- queue: S3 -> SQS -> event source mapping -> batches -------------------------------------
def run_queue(scenario: Scenario, horizon: float) -> Outcome:
    m = Model(scenario)
    limit = min(scenario.max_concurrency, ESM_MAX.value)
    in_flight = [0]

    def deliver(message: int) -> None:
        m.out.sqs_requests += 1  # S3's SendMessage, billed to the queue's owner
        m.queue.append(message)

    def drained() -> bool:
        return m.source_done and not m.queue and not m.invisible and not in_flight[0]

    def scaler():
        pollers, target = 0, ESM_START.value  # five batches at first
        while not drained():
            while pollers < min(limit, target):
                pollers += 1
                m.spawn(poller())
            yield 1.0
            if m.queue:  # messages still waiting: up to 300 more a minute
                target += ESM_RAMP.value / 60

    def poller():
        while not drained():
            if not m.queue:
                yield POLL
                continue
            waited = 0.0
            while len(m.queue) < BATCH_SIZE and waited < BATCH_WINDOW and not m.source_done:
                yield POLL
                waited += POLL
            batch = [m.queue.popleft() for _ in range(min(BATCH_SIZE, len(m.queue)))]
            if batch:
                in_flight[0] += len(batch)
                yield from invocation(batch)
                in_flight[0] -= len(batch)

    def invocation(batch: list[int]):
        began, n = m.now, len(batch)
        m.busy += 1
        m.out.peak_concurrency = max(m.out.peak_concurrency, m.busy)
        m.out.lambda_requests += 1
        m.out.sqs_requests += math.ceil(n / SQS_BATCH.value)  # the receives that filled the batch
        yield m.latency(ASSUMED["Lambda invoke overhead, warm (s)"])
        reads = m.key_partitions(n) + Counter({BUCKET_PK: 1})  # the keys' states and the totals
        done = 0
        if not (yield from m.request(dict(reads), write=False)):
            done = -1  # throttled throughout: the whole batch fails and comes back
        read_at = m.now
        fixed, per = ASSUMED["BatchGetItem: fixed part (s)"], ASSUMED["BatchGetItem: per key (s)"]
        yield m.latency(fixed + per * (n + 1))
        journal = m.s.totals == "journal"
        while 0 <= done < n and m.now - began < FUNCTION_TIMEOUT - 1:
            keys = min(KEYS_PER_CHUNK, n - done)
            units = {pk: c * TRANSACTION_FACTOR.value for pk, c in m.key_partitions(keys).items()}
            # "chunk": totals and a point ride along; "journal": one delta item of its own instead.
            extra = (BUCKET_PK, 2) if not journal else (f"journal#{m.rng.randrange(16)}", 1)
            units[extra[0]] = units.get(extra[0], 0) + extra[1] * TRANSACTION_FACTOR.value
            if not (yield from m.request(units, write=True)):
                break
            yield m.write_latency(keys + extra[1])
            if not journal and m.totals_committed_at > read_at:  # totals moved: re-read them
                m.out.conflicts += 1
                if not (yield from m.request({BUCKET_PK: 1}, write=False)):
                    break
                read_at = m.now
                yield m.latency(ASSUMED["GetItem (s)"])
                continue
            if not journal:
                m.totals_committed_at = read_at = m.now  # it knows the totals it just wrote
            done += keys
            m.applied(keys)
        if journal and done > 0:
            yield from fold(math.ceil(done / KEYS_PER_CHUNK), began)
        done = max(done, 0)
        m.out.sqs_requests += math.ceil(done / SQS_BATCH.value)  # DeleteMessageBatch
        m.out.gb_seconds += (m.now - began) * MEMORY_GB
        m.busy -= 1
        for message in batch[done:]:  # batchItemFailures: visible again after the timeout
            m.receives[message] += 1
            if m.receives[message] >= MAX_RECEIVES:
                m.out.dead_lettered += 1
            else:
                m.invisible += 1
                m.spawn(reappear(message), VISIBILITY_TIMEOUT)

    def fold(deltas: int, began: float):
        """Journal: move the batch's delta items into the totals with one small transaction.

        The records are already applied (readers add pending deltas to the totals), so a fold
        that cannot finish leaves its deltas for the next batch's fold: no message fails.
        """
        while m.now - began < FUNCTION_TIMEOUT - 1:
            if not (yield from m.request({BUCKET_PK: 1}, write=False)):  # GetItem of the totals
                return
            read_at = m.now
            yield m.latency(ASSUMED["GetItem (s)"])
            units = {
                BUCKET_PK: 2 * TRANSACTION_FACTOR.value,
                "journal#0": deltas * TRANSACTION_FACTOR.value,
            }
            if not (yield from m.request(units, write=True)):  # totals, point, delete the deltas
                return
            yield m.write_latency(2 + deltas)
            if m.totals_committed_at <= read_at:
                m.totals_committed_at = m.now
                return
            m.out.conflicts += 1  # only this small transaction is resubmitted

    def reappear(message: int):
        m.invisible -= 1
        m.queue.append(message)
        yield from ()

    m.spawn(m.source(deliver))
    m.spawn(scaler())
    out = m.run(horizon)
    out.pending = len(m.queue) + m.invisible + in_flight[0] + out.dead_lettered
    return out


def run(scenario: Scenario, horizon: float = 3600.0) -> Outcome:
    """One scenario, until every event is settled or `horizon` seconds have passed."""
    return (run_direct if scenario.design == "direct" else run_queue)(scenario, horizon)


# -- the scenarios RESULTS.md reports, and their rendering ---------------------------------------
RATES = (50, 500, 3_500)
HORIZON = 1_800.0  # events not settled after 30 minutes are reported as still queued
MAIN = [
    Scenario(design, rate, totals=totals)
    for rate in RATES
    for design, totals in (("direct", "chunk"), ("queue", "chunk"), ("queue", "journal"))
]
WHAT_IF = [
    Scenario("direct", 10),
    Scenario("queue", 3_500, max_concurrency=2),
    Scenario("queue", 3_500, warm_wru=WARM_THROUGHPUT.value),
    Scenario("queue", 3_500, key_spread=1),
    Scenario("queue", 3_500, totals="journal", max_concurrency=2),
    Scenario("queue", 3_500, totals="journal", warm_wru=WARM_THROUGHPUT.value),
    Scenario("queue", 3_500, totals="journal", key_spread=1),
]


def _caught_up(o: Outcome) -> str:
    if o.pending - o.dead_lettered:
        return f"not within {HORIZON / 60:.0f} min ({o.pending - o.dead_lettered:,} still queued)"
    return f"{o.catch_up:,.0f} s" if o.catch_up >= 1 else "< 1 s"


def table(outcomes: list[Outcome]) -> Table:
    t = Table(["design", "sent/s", "applied/s during the burst", "lost", "caught up after the "
               "burst", "conflicts per 1,000 events", "peak concurrency", "$ per million events"])  # fmt: skip
    for o in outcomes:
        t.add(o.scenario.label, f"{o.scenario.rate:,}", f"{o.applied_in_burst / o.scenario.seconds:,.0f}",
              f"{o.lost:,}", _caught_up(o), f"{1000 * o.conflicts / o.sent:,.0f}",
              o.peak_concurrency, f"{o.cost_per_million:,.2f}")  # fmt: skip
    return t


def cost_table(outcomes: list[Outcome]) -> Table:
    names = list(outcomes[0].cost)
    t = Table(["design", "sent/s", *[f"{n} ($/M)" for n in names], "total ($/M)"])
    for o in outcomes:
        per = [o.cost[n] / o.sent * 1e6 for n in names]
        t.add(
            o.scenario.label, f"{o.scenario.rate:,}", *[f"{v:.3f}" for v in per], f"{sum(per):.2f}"
        )
    return t


def section(main: list[Scenario] = MAIN, what_if: list[Scenario] = WHAT_IF) -> Section:
    ran = [run(s, HORIZON) for s in main]
    more = [run(s, HORIZON) for s in what_if]
    top = max(RATES)

    def at(rate: int, design: str, totals: str = "chunk") -> Outcome:
        return next(o for o in ran if (o.scenario.rate, o.scenario.design, o.scenario.totals)
                    == (rate, design, totals))  # fmt: skip

    def brief(o: Outcome) -> str:
        queued = o.pending - o.dead_lettered
        settled = (f"{queued:,} still queued after {HORIZON / 60:.0f} min" if queued
                   else f"caught up {_caught_up(o)} after the burst")  # fmt: skip
        return (f"{o.applied_in_burst / o.scenario.seconds:,.0f}/s applied, {o.lost:,} lost, "
                f"{settled}, ${o.cost_per_million:.2f} per million")  # fmt: skip

    return Section(
        "7. AWS model: direct against queue",
        f"`benchmarks/aws_model.py` ({len(ran) + len(more)} scenarios, seeded, in seconds) is a "
        "discrete-event model of the size tracker on AWS. S3 sends events at a constant mean rate "
        "(exponential gaps) for 60 s; each design applies them against DynamoDB's documented "
        "capacity, Lambda's documented retries and scaling, and SQS's batching. Its module "
        "docstring describes the designs; *queue* is the route the tracker is being built for "
        "(totals, net delta and a point in every chunk's transaction, under the totals' version); "
        "*queue, journal* is an alternative for the same route: each chunk writes its key items "
        "with one delta item of its own, and a small second transaction folds the batch's deltas "
        "into the totals, so that a conflict resubmits 3 to 4 items instead of 100. Costs count "
        "every request, cancelled transactions included (a cancelled request still consumes "
        "capacity). Lost events are what Lambda's retries give up on; the model does not drop "
        "events from Lambda's asynchronous queue, which AWS says it may do, so the direct route's "
        "loss is a lower bound. Events still unsettled after 30 minutes are counted as queued.",
        tables=[
            table(ran),
            table(more),
            cost_table([o for o in ran + more if o.scenario.rate >= 500]),
        ],
        notes=["The figures the model runs on:\n\n" + limits_markdown()],
        highlights=[
            f"The AWS model at {top:,} events/s for 60 s: direct {brief(at(top, 'direct'))}; "
            f"queue {brief(at(top, 'queue'))}; queue with journaled totals "
            f"{brief(at(top, 'queue', 'journal'))}. Direct at 500/s loses "
            f"{at(500, 'direct').lost:,} of {at(500, 'direct').sent:,}."
        ],
    )


def main() -> int:
    print(section().markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
