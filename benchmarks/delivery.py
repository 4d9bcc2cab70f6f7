"""Section 2: how fast the emulator delivers S3 events to the deployed tracker, end to end.

Also takes, from the same deployed stack, what sections 5 and 6 need: the peak memory of warm
workers, and how long setup and deploy took.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.emulator_process import EmulatorProcess, peak_rss_kib
from benchmarks.measure import Section, Table, median, ms, p95, ratio

STACK = "bench-delivery"
BODY = b"x" * 100
WAIT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.002


class TotalsPoller:
    """Watches the totals item's version in a thread of its own.

    The tracker writes a history point in the same transaction that bumps the totals' version,
    so point number v is visible exactly when the totals show version v or later.
    """

    def __init__(self, client, table: str, bucket: str):
        self._client, self._table = client, table
        self._key = {"pk": {"S": f"B#{bucket}"}, "sk": {"S": "TOTALS"}}
        self.version = self._read()
        self.seen_at: dict[int, float] = {}  # version -> perf_counter when first seen
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="totals-poller", daemon=True)
        self._thread.start()

    def _read(self) -> int:
        got = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        return int(got["Item"]["version"]["N"]) if "Item" in got else 0

    def _poll(self) -> None:
        while not self._stopped.is_set():
            version = self._read()
            now = time.perf_counter()
            if version > self.version:
                with self._changed:
                    for v in range(self.version + 1, version + 1):
                        self.seen_at[v] = now
                    self.version = version
                    self._changed.notify_all()
            self._stopped.wait(POLL_INTERVAL_SECONDS)

    def wait_for(self, version: int) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: self.version >= version, WAIT_SECONDS):
                raise TimeoutError(f"history point {version} did not appear in {WAIT_SECONDS} s")
            return self.seen_at[version]

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@dataclass
class Mode:
    name: str
    latencies: list[float]  # from PutObject returning to the point being visible
    from_sent: list[float]  # from PutObject being sent to the point being visible
    seconds: float  # from the first PutObject to the last point being visible

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
) -> Delivery:
    from s3sizer import lifecycle
    from s3sizer.aws import Aws
    from s3sizer.settings import resolve
    from s3sizer.stack.state import Stack

    def connect() -> Aws:
        settings = resolve(stack=STACK, region="us-east-1", endpoint_url=emulator.endpoint_url)
        return Aws(settings, placeholder_credentials=True)

    aws, figures = connect(), StackFigures()
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
    poller = TotalsPoller(connect().client("dynamodb"), table, bucket)
    dynamodb = aws.client("dynamodb")
    modes: list[tuple[str, int, Mode]] = []  # (label, items in the table before, figures)

    def measure(label: str, run_mode) -> Mode:
        items = dynamodb.describe_table(TableName=table)["Table"]["ItemCount"]
        mode = run_mode()
        modes.append((label, items, mode))
        return mode

    try:
        _one_at_a_time(s3, bucket, poller, "warm-up", 3)  # the first worker starts cold
        _burst(s3, dynamodb, table, bucket, poller, 8, "warm-up-burst")  # start all workers
        warm = measure(
            "warm workers, one event at a time",
            lambda: _one_at_a_time(s3, bucket, poller, "warm", sequential),
        )
        measure(
            "warm workers, a burst of PutObjects back to back",
            lambda: _burst(s3, dynamodb, table, bucket, poller, burst, "burst"),
        )
        _worker_memory(emulator, aws, tracker, plotting if plot else None, figures)
        streams_before = _log_streams(logs, tracker)
        retire_warm_workers = _cold_start_switch(functions, tracker)
        cold_mode = measure(
            "a cold worker for every invocation, one at a time",
            lambda: _one_at_a_time(s3, bucket, poller, "cold", cold, retire_warm_workers),
        )
        new_workers = _log_streams(logs, tracker, at_least=streams_before + cold) - streams_before
        _fill(dynamodb, table, filler)
        measure(
            f"warm workers, one at a time, after {filler:,} more items in the table",
            lambda: _one_at_a_time(s3, bucket, poller, "filled", filled_events),
        )
    finally:
        poller.stop()
    return Delivery(_section(modes, warm, cold_mode, new_workers), figures)


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

    kib = [peak_rss_kib(pid) for pid in emulator.workers(tracker)]
    figures.tracker_workers = len(kib)
    figures.tracker_worker_kib = max((k for k in kib if k), default=None)
    if plotting:
        with tempfile.TemporaryDirectory() as tmp:
            reports.plot_remote(aws, 60, Path(tmp) / "plot.png")
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
    latencies, from_sent = [], []
    started = time.perf_counter()
    for i in range(count):
        if before_each:
            paused = time.perf_counter()
            before_each(i)
            started += time.perf_counter() - paused  # events/s leaves the untimed step out
        expected = poller.version + 1
        sent = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"bench/{name}/{i:05d}", Body=BODY)
        returned = time.perf_counter()
        seen = poller.wait_for(expected)
        latencies.append(seen - returned)
        from_sent.append(seen - sent)
    return Mode(name, latencies, from_sent, time.perf_counter() - started)


def _burst(s3, dynamodb, table, bucket, poller, count, name) -> Mode:
    """PutObject back to back; each event's latency runs to the first poll that saw its point."""
    first = poller.version + 1
    sent: dict[str, float] = {}
    returned: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(count):
        key = f"bench/{name}/{i:05d}"
        sent[key] = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=key, Body=BODY)
        returned[key] = time.perf_counter()
    last_seen = poller.wait_for(first + count - 1)
    seen = {
        key: poller.seen_at[version]
        for version, key in _points_since(dynamodb, table, bucket, first).items()
        if key in returned
    }
    latencies = [seen[key] - returned[key] for key in seen]
    from_sent = [seen[key] - sent[key] for key in seen]
    return Mode(name, latencies, from_sent, last_seen - started)


def _points_since(dynamodb, table: str, bucket: str, first: int) -> dict[int, str]:
    """{version: key} of the history points numbered ``first`` and later."""
    found: dict[int, str] = {}
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :h)",
        "ExpressionAttributeValues": {":pk": {"S": f"B#{bucket}"}, ":h": {"S": "H#"}},
        "ConsistentRead": True,
    }
    for page in dynamodb.get_paginator("query").paginate(**kwargs):
        for item in page["Items"]:
            version = int(item["sk"]["S"].rsplit("#", 1)[1])
            if version >= first and "key" in item:
                found[version] = item["key"]["S"]
    return found


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


def _section(modes, warm: Mode, cold: Mode, new_workers: int) -> Section:
    table = Table(
        ["mode", "items in the table before", "events", "events/s", "p50 latency",
         "p95 latency", "p50 against warm", "p50 from PutObject sent"]
    )  # fmt: skip
    for label, items, mode in modes:
        table.add(
            label, f"{items:,}", len(mode.latencies), f"{mode.per_second:,.1f}",
            ms(median(mode.latencies)), ms(p95(mode.latencies)),
            ratio(median(mode.latencies), median(warm.latencies)), ms(median(mode.from_sent)),
        )  # fmt: skip
    section = Section("2. Delivery by the emulator", METHOD, [table], [SLOW_TRANSACTIONS])
    section.notes.append(
        f"Cold workers, checked: the {len(cold.latencies)} cold invocations opened "
        f"{new_workers} new log streams (the emulator opens one per worker process)."
    )
    burst = modes[1][2]
    section.highlights.append(
        f"The emulator delivers an S3 event to the tracker and makes its point visible in "
        f"{ms(median(warm.latencies))} (p50, warm worker; p95 {ms(p95(warm.latencies))}), "
        f"{ms(median(cold.latencies))} with a cold worker; a burst runs at "
        f"{burst.per_second:,.0f} events/s."
    )
    return section


METHOD = """
A stack is set up and deployed on `python -m s3sizer.emulator` (a child process, default
settings: 4 workers per function, no faults). Each event is one PutObject of a new 100-byte key;
its latency runs from PutObject returning to the first poll that sees its history point. A
thread polls the totals item (GetItem, strongly consistent, every 2 ms): the tracker bumps the
totals' version in the same transaction that writes the point, so point *v* is visible exactly
when the totals show version *v*. One at a time: the next PutObject waits for the previous
point. Burst: all PutObjects back to back from one client, then each point is matched to its
key by its version. Cold: before each PutObject (untimed), the function's configuration is
updated (an environment variable changes), which retires its warm workers, as Lambda does, so
the invocation starts a new worker process that imports boto3 and the handler. The emulator has
no switch for this. Events/s is events divided by the time from the first PutObject to the
last point being visible. A warm worker can apply the event while PutObject's response is still
on its way back, so a few latencies from PutObject returning are about zero or even negative;
the last column counts from the request being sent instead.
"""

SLOW_TRANSACTIONS = """
The last row checks that delivery does not slow down as the table grows: the emulator's
TransactWriteItems backs up only the items it writes (moto as shipped deep-copies the whole
table once per item, which made every event cost time in proportion to everything the table
held). In the burst, PutObjects arrive faster than the events are applied, so its latency is
mostly queueing; the workers' transactions also conflict on the one totals item and retry.
"""
