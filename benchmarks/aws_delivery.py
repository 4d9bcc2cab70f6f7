"""How S3's events reach the tracker in benchmarks/aws_model.py: the queue routes and direct.

**sqs** and **eventbridge**: S3 (or an EventBridge rule) sends each event to the stack's SQS
queue; the event source mapping's pollers long-poll it. A poller that receives a message opens a
batch and keeps receiving (up to 10 messages a ReceiveMessage, each billed) until the batch holds
`batch_size` records or the batching window has passed since its first one; only then does it
invoke the tracker, and it waits for the invocation before it polls again. The mapping starts
with five pollers and adds up to 300 a minute while messages wait, never more than
`MaximumConcurrency`, so at the transaction path's 2 two pollers share the arrivals, and at the
fold path's 30 five at first: at a low rate each batch closes on its window with few records, and
nearly every record costs a receive of its own.
The records a batch could not apply come back after the visibility timeout, and after five
receives wait in the dead-letter queue: the queue loses nothing. (EventBridge's own delivery is
modelled as the queue route; its charge, if any, is not counted.)

**direct**: S3 invokes the tracker asynchronously, once per event; Lambda retries a failed
invocation after 1 and 2 minutes, then the event is lost.
"""

from __future__ import annotations

import math

from benchmarks import aws_designs
from benchmarks.aws_engine import (
    MAX_RECEIVES,
    MEMORY_GB,
    POLL,
    VISIBILITY_TIMEOUT,
    Model,
    Outcome,
    Scenario,
)
from benchmarks.aws_limits import (
    ASSUMED,
    ASYNC_RETRIES,
    ASYNC_RETRY_WAITS,
    ESM_MAX,
    ESM_RAMP,
    ESM_START,
    SQS_BATCH,
    SQS_CHUNK_KB,
)

RECEIVE_RTT = ASSUMED["SQS ReceiveMessage round trip (s)"]
MESSAGE_KB = ASSUMED["S3 event notification message (KB)"]


def chunks(messages: int) -> int:
    """SQS bills each 64 KB of a request's payload as one request."""
    return max(1, math.ceil(messages * MESSAGE_KB / SQS_CHUNK_KB.value))


BATCH_LINE = ASSUMED["the tracker's batch line (bytes)"]


def invoke(m: Model, design, n: int):
    """One invocation of the tracker on n records: (applied, failed)."""
    began = m.now
    m.busy += 1
    m.out.peak_concurrency = max(m.out.peak_concurrency, m.busy)
    m.out.lambda_requests += 1
    m.out.batches += 1
    m.out.batch_records += n
    yield m.latency(ASSUMED["Lambda invoke overhead, warm (s)"])
    applied, failed, emf = yield from design.process(m, n)
    m.invocation_logs(BATCH_LINE + emf * m.emf_bytes)
    m.out.gb_seconds += (m.now - began) * MEMORY_GB
    m.busy -= 1
    return applied, failed


def run_queue(m: Model, design) -> None:
    s = m.s
    pollers = [0]
    target = min(s.max_concurrency, ESM_MAX.value)

    def deliver(n: int) -> None:
        m.out.sqs_requests += n * chunks(1)  # SendMessage by S3 (or the rule)
        m.enqueue(n)

    def scaler():
        wanted = ESM_START.value  # five batches at first
        while not m.drained():
            while pollers[0] < min(target, wanted):
                pollers[0] += 1
                m.spawn(poller())
            yield 1.0
            if m.queued:  # messages still waiting: up to 300 more a minute
                wanted += ESM_RAMP.value / 60

    def poller():
        size = s.forced_batch or s.batch_size
        while not m.drained():
            if not m.queued:
                yield POLL  # a long poll waiting: billed per hour in the idle cost, not here
                continue
            taken, count, opened = [], 0, m.now
            while count < size:
                receives = 0
                if m.queued:
                    # Back-to-back receives of up to 10 messages while messages wait (taken in
                    # one step: the model need not visit each).
                    got = m.dequeue(size - count)
                    k = sum(n for n, _ in got)
                    receives = -(-k // SQS_BATCH.value)
                    m.out.sqs_requests += receives * chunks(min(k, SQS_BATCH.value))
                    taken += got
                    count += k
                    m.in_flight += k
                if receives:
                    yield RECEIVE_RTT * receives
                if count >= size or (not s.forced_batch and m.now - opened >= s.window):
                    break
                if s.forced_batch and m.drained_source_empty():
                    break
                if not m.queued:
                    yield POLL
            applied, failed = yield from invoke(m, design, count)
            m.out.sqs_requests += math.ceil(applied / SQS_BATCH.value)  # DeleteMessageBatch
            give_back(taken, failed)

    def give_back(taken: list[list[int]], failed: int) -> None:
        """The failed records' messages (the newest taken) come back after the timeout."""
        m.in_flight -= sum(n for n, _ in taken)
        for n, receives in reversed(taken):
            if failed <= 0:
                break
            k = min(n, failed)
            failed -= k
            if receives + 1 >= MAX_RECEIVES:
                m.out.dead_lettered += k
                m.out.pending += k
            else:
                m.invisible += k
                m.spawn(reappear(k, receives + 1), VISIBILITY_TIMEOUT)

    def reappear(k: int, receives: int):
        m.invisible -= k
        m.enqueue(k, receives)
        yield from ()

    m.spawn(m.source(deliver))
    m.spawn(scaler())


def run_direct(m: Model, design) -> None:
    def deliver(n: int) -> None:
        for _ in range(n):
            m.in_flight += 1
            m.spawn(attempt(0))

    def attempt(tries: int):
        applied, _ = yield from invoke(m, design, 1)
        if applied:
            m.in_flight -= 1
        elif tries < ASYNC_RETRIES.value:
            yield ASYNC_RETRY_WAITS.value * (tries + 1)
            yield from attempt(tries + 1)
        else:
            m.in_flight -= 1
            m.out.lost += 1
            m.out.finished_at = max(m.out.finished_at, m.now)

    m.spawn(m.source(deliver))


def run(scenario: Scenario, horizon: float = 360.0) -> Outcome:
    """One scenario, until every event is settled or `horizon` seconds have passed."""
    m = Model(scenario)
    design = aws_designs.make(m)
    (run_direct if scenario.route == "direct" else run_queue)(m, design)
    if hasattr(design, "start"):
        design.start(m, m.drained)
    out = m.run(horizon)
    out.pending += m.queued + m.invisible + m.in_flight
    if isinstance(design, aws_designs.StreamFold):
        out.unfolded = sum(c for shard in design.shards for c, _ in shard)
    return out
