"""Section 2: how fast the emulator delivers S3 events to the deployed tracker, end to end.

Also takes, from the same deployed stack, what sections 5 and 6 need: the peak memory of warm
workers, and how long setup and deploy took.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.emulator_process import EmulatorProcess, peak_rss_kib
from benchmarks.measure import Section, Table, median, ms, p95, ratio

STACK = "bench-delivery"
DIRECT_STACK = "bench-delivery-direct"
DIRECT_LABEL = "direct route (S3 invokes the tracker), warm workers, one at a time"
BODY = b"x" * 100
WAIT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.002


class TotalsPoller:
    """Watches the bucket's totals (object count and size) in a thread of its own.

    The tracker writes one history point per applied chunk, not per event, so the benchmark
    waits for what a user sees: the totals showing the change.
    """

    def __init__(self, client, table: str, bucket: str):
        self._client, self._table = client, table
        self._key = {"pk": {"S": f"B#{bucket}"}, "sk": {"S": "TOTALS"}}
        self.totals = self._read()  # (object_count, total_size)
        self.changes: list[tuple[float, int, int]] = []  # (perf_counter, count, size) when seen
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="totals-poller", daemon=True)
        self._thread.start()

    def _read(self) -> tuple[int, int]:
        got = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        item = got.get("Item")
        if not item:
            return 0, 0
        return int(item["object_count"]["N"]), int(item["total_size"]["N"])

    def _poll(self) -> None:
        while not self._stopped.is_set():
            totals = self._read()
            now = time.perf_counter()
            if totals != self.totals:
                with self._changed:
                    self.changes.append((now, *totals))
                    self.totals = totals
                    self._changed.notify_all()
            self._stopped.wait(POLL_INTERVAL_SECONDS)

    def wait_for(self, count: int, size: int) -> float:
        """When the totals first showed exactly ``count`` objects of ``size`` bytes."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.totals == (count, size), WAIT_SECONDS):
                raise TimeoutError(
                    f"the totals did not reach {count} objects, {size} bytes in {WAIT_SECONDS} s"
                    f" (they show {self.totals})"
                )
            return self.changes[-1][0]

    def first_counting(self, count: int, since: float) -> float:
        """When the totals first counted at least ``count`` objects, after ``since``."""
        return next(t for t, c, _ in self.changes if t >= since and c >= count)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@dataclass
class Mode:
    name: str
    latencies: list[float]  # from PutObject returning to the totals showing the change
    from_sent: list[float]  # from PutObject being sent to the totals showing the change
    seconds: float  # from the first PutObject to the totals showing the last change
    drain: float = math.nan  # from the last PutObject returning to the totals showing all

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass
class StackFigures:
    """What sections 5 and 6 take from this run."""

    setup_seconds: float = 0.0
    deploy_seconds: float = 0.0
    tracker_worker_kib: int | None = None
    tracker_workers: int = 0
    plotting_worker_kib: int | None = None


@dataclass
class Delivery:
    section: Section
    figures: StackFigures = field(default_factory=StackFigures)


def run(
    emulator: EmulatorProcess,
    sequential: int,
    cold: int,
    burst: int,
    filler: int,
    filled_events: int,
    plot: bool,
    direct: int = 0,
) -> Delivery:
    from s3sizer import lifecycle
    from s3sizer.stack.state import Stack

    aws, figures = _connect(emulator, STACK), StackFigures()
    started = time.perf_counter()
    lifecycle.setup(aws, None)
    figures.setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lifecycle.deploy(aws, lifecycle.LayerChoice(build=False))
    figures.deploy_seconds = time.perf_counter() - started

    stack = Stack(aws)
    bucket, table = stack.require_config().bucket, stack.names.table
    tracker, plotting = stack.names.function("size-tracking"), stack.names.function("plotting")
    s3, functions, logs = aws.client("s3"), aws.client("lambda"), aws.client("logs")
    poller = TotalsPoller(_connect(emulator, STACK).client("dynamodb"), table, bucket)
    dynamodb = aws.client("dynamodb")
    modes: list[tuple[str, int, Mode]] = []  # (label, items in the table before, figures)

    def measure(label: str, run_mode) -> Mode:
        items = dynamodb.describe_table(TableName=table)["Table"]["ItemCount"]
        mode = run_mode()
        modes.append((label, items, mode))
        return mode

    try:
        _one_at_a_time(s3, bucket, poller, "warm-up", 3)  # the first worker starts cold
        _burst(s3, bucket, poller, 8, "warm-up-burst")  # start the mapping's batches
        warm = measure(
            "queue route, warm workers, one event at a time",
            lambda: _one_at_a_time(s3, bucket, poller, "warm", sequential),
        )
        measure(
            "queue route, warm workers, a burst of PutObjects back to back",
            lambda: _burst(s3, bucket, poller, burst, "burst"),
        )
        _worker_memory(emulator, aws, tracker, plotting if plot else None, figures)
        streams_before = _log_streams(logs, tracker)
        retire_warm_workers = _cold_start_switch(functions, tracker)
        cold_mode = measure(
            "queue route, a cold worker for every invocation, one at a time",
            lambda: _one_at_a_time(s3, bucket, poller, "cold", cold, retire_warm_workers),
        )
        new_workers = _log_streams(logs, tracker, at_least=streams_before + cold) - streams_before
        _fill(dynamodb, table, filler)
        measure(
            f"queue route, warm workers, one at a time, after {filler:,} more items in the table",
            lambda: _one_at_a_time(s3, bucket, poller, "filled", filled_events),
        )
    finally:
        poller.stop()
    direct_mode = None
    if direct:
        items, direct_mode = _direct_route(emulator, direct)
        modes.append((DIRECT_LABEL, items, direct_mode))
    return Delivery(_section(modes, warm, cold_mode, new_workers, direct_mode), figures)


def _connect(emulator: EmulatorProcess, stack: str):
    from s3sizer.aws import Aws
    from s3sizer.settings import resolve

    settings = resolve(stack=stack, region="us-east-1", endpoint_url=emulator.endpoint_url)
    return Aws(settings, placeholder_credentials=True)


def _direct_route(emulator: EmulatorProcess, count: int) -> tuple[int, Mode]:
    """The same one-at-a-time measurement on a second stack that takes S3's notifications
    straight to the tracker (no queue, no batching window); the stack is torn down after."""
    from s3sizer import lifecycle
    from s3sizer.stack.state import Stack

    aws = _connect(emulator, DIRECT_STACK)
    lifecycle.setup(aws, None)
    lifecycle.deploy(aws, lifecycle.LayerChoice(build=False), delivery="direct")
    stack = Stack(aws)
    bucket, table = stack.require_config().bucket, stack.names.table
    s3 = aws.client("s3")
    poller = TotalsPoller(_connect(emulator, DIRECT_STACK).client("dynamodb"), table, bucket)
    try:
        _one_at_a_time(s3, bucket, poller, "direct-warm-up", 3)
        items = aws.client("dynamodb").describe_table(TableName=table)["Table"]["ItemCount"]
        mode = _one_at_a_time(s3, bucket, poller, "direct", count)
    finally:
        poller.stop()
    lifecycle.teardown(aws)
    return items, mode


def _fill(dynamodb, table: str, count: int) -> None:
    """Items of a partition nobody reads: they only make the table larger."""
    for start in range(0, count, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": "BENCH-FILLER"}, "sk": {"S": f"{i:09d}"}}}}
            for i in range(start, min(start + 25, count))
        ]
        dynamodb.batch_write_item(RequestItems={table: batch})


def _worker_memory(emulator, aws, tracker: str, plotting: str | None, figures) -> None:
    """Peak RSS of the warm size-tracking workers and, after one plot, of a plotting worker."""
    from s3sizer import reports
    from s3sizer.context import open_stack

    kib = [peak_rss_kib(pid) for pid in emulator.workers(tracker)]
    figures.tracker_workers = len(kib)
    figures.tracker_worker_kib = max((k for k in kib if k), default=None)
    if plotting:
        with tempfile.TemporaryDirectory() as tmp:
            reports.plot_remote(open_stack(aws), 60, Path(tmp) / "plot.png")
        kib = [peak_rss_kib(pid) for pid in emulator.workers(plotting)]
        figures.plotting_worker_kib = max((k for k in kib if k), default=None)


def _cold_start_switch(functions, function_name: str):
    """A step to run before each cold invocation: any change of a function's configuration
    retires its warm workers (as on Lambda), so the next invocation starts a new one."""
    variables = functions.get_function_configuration(FunctionName=function_name)["Environment"][
        "Variables"
    ]

    def retire_warm_workers(turn: int) -> None:
        functions.update_function_configuration(
            FunctionName=function_name,
            Environment={"Variables": {**variables, "S3SIZER_BENCHMARK_COLD_TURN": str(turn)}},
        )

    return retire_warm_workers


def _one_at_a_time(s3, bucket, poller, name, count, before_each=None) -> Mode:
    """Each PutObject adds a new 100-byte key; the next waits until the totals show it."""
    latencies, from_sent = [], []
    started = time.perf_counter()
    for i in range(count):
        if before_each:
            paused = time.perf_counter()
            before_each(i)
            started += time.perf_counter() - paused  # events/s leaves the untimed step out
        objects, size = poller.totals
        sent = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"bench/{name}/{i:05d}", Body=BODY)
        returned = time.perf_counter()
        seen = poller.wait_for(objects + 1, size + len(BODY))
        latencies.append(seen - returned)
        from_sent.append(seen - sent)
    return Mode(name, latencies, from_sent, time.perf_counter() - started)


def _burst(s3, bucket, poller, count, name) -> Mode:
    """PutObject of ``count`` new keys back to back from one client. The batches may apply the
    events in any order, so the k-th event's latency runs from the k-th PutObject returning to
    the first poll whose totals count k of the burst's objects."""
    objects, size = poller.totals
    sent, returned = [], []
    started = time.perf_counter()
    for i in range(count):
        sent.append(time.perf_counter())
        s3.put_object(Bucket=bucket, Key=f"bench/{name}/{i:05d}", Body=BODY)
        returned.append(time.perf_counter())
    last_seen = poller.wait_for(objects + count, size + count * len(BODY))
    seen = [poller.first_counting(objects + k + 1, started) for k in range(count)]
    latencies = [s - r for s, r in zip(seen, returned, strict=True)]
    from_sent = [s - r for s, r in zip(seen, sent, strict=True)]
    return Mode(name, latencies, from_sent, last_seen - started, last_seen - returned[-1])


def _log_streams(logs, function_name: str, at_least: int = 0) -> int:
    """How many log streams the function has; waits a little for ``at_least`` of them, since
    an invocation's log is written after its point, which is what the benchmark waited for."""
    deadline = time.monotonic() + 10
    while True:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=f"/aws/lambda/{function_name}"
        )
        count = sum(len(page["logStreams"]) for page in pages)
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def _section(modes, warm: Mode, cold: Mode, new_workers: int, direct: Mode | None) -> Section:
    table = Table(
        ["mode", "items in the table before", "events", "events/s", "p50 latency",
         "p95 latency", "p50 against warm (queue)", "p50 from PutObject sent",
         "drain after the last PutObject"]
    )  # fmt: skip
    for label, items, mode in modes:
        table.add(
            label, f"{items:,}", len(mode.latencies), f"{mode.per_second:,.1f}",
            ms(median(mode.latencies)), ms(p95(mode.latencies)),
            ratio(median(mode.latencies), median(warm.latencies)), ms(median(mode.from_sent)),
            "" if math.isnan(mode.drain) else ms(mode.drain),
        )  # fmt: skip
    section = Section("2. Delivery by the emulator", METHOD, [table], [BATCHING_WINDOW])
    section.notes.append(
        f"Cold workers, checked: the {len(cold.latencies)} cold invocations opened "
        f"{new_workers} new log streams (the emulator opens one per worker process)."
    )
    burst = modes[1][2]
    direct_text = ""
    if direct is not None:
        direct_text = (
            f" (the direct route, without the queue: {ms(median(direct.latencies))}, so the "
            f"queue's batching window accounts for "
            f"{ms(median(warm.latencies) - median(direct.latencies))} of it)"
        )
    section.highlights.append(
        f"PutObject to updated totals, one event at a time on the queue route: "
        f"{ms(median(warm.latencies))} p50, {ms(p95(warm.latencies))} p95 with warm workers"
        f"{direct_text}; {ms(median(cold.latencies))} p50 with a cold worker. A burst of "
        f"{len(burst.latencies)} PutObjects from one client runs at "
        f"{burst.per_second:,.0f} events/s and drains {ms(burst.drain)} after the last one."
    )
    return section


METHOD = """
A stack is set up and deployed with the default route (S3 → SQS queue → event source mapping,
batch size 100, batching window 1 s) on `python -m s3sizer.emulator` (a child process, default
settings: 4 workers per function, no faults). Each event is one PutObject of a new 100-byte key.
A thread polls the bucket's totals item (GetItem, strongly consistent, every 2 ms); an event's
latency runs from PutObject returning to the first poll whose totals show it (one more object,
100 more bytes). The tracker writes one history point per applied chunk, not per event, so the
totals are what is waited for. One at a time: the next PutObject waits for the previous change.
Burst: all PutObjects back to back from one client; the batches may apply them in any order, so
the k-th event's latency runs to the first poll whose totals count k of the burst's objects.
Cold: before each PutObject (untimed), the function's configuration is updated (an environment
variable changes), which retires its warm workers, as Lambda does, so the invocation starts a
new worker process that imports boto3 and the handler. The emulator has no switch for this.
Events/s is events divided by the time from the first PutObject to the totals showing the last
change. The direct-route row is a second stack on the same emulator whose bucket notification
invokes the tracker itself (one asynchronous invocation per event, no queue), torn down after.
"""

BATCHING_WINDOW = """
On the queue route the batching window dominates one event's latency: the mapping's poller
receives the message within milliseconds, then waits up to `MaximumBatchingWindowInSeconds`
(1 s) for the batch to fill before it invokes the tracker, so a lone event waits about the
whole second. That is the price of the batches: in a burst, the events of one window share
one batch, which costs two DynamoDB requests per chunk of up to 100 events (section 1). The
filled-table row checks that delivery does not slow down as the table grows: the emulator's
TransactWriteItems backs up only the items it writes (moto as shipped deep-copies the whole
table once per item).
"""
