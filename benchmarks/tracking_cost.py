"""Section 1: what one S3 event costs s3sizer's tracker and the list-everything baseline, as the
bucket grows. Both trackers run in this process against the in-process emulator, over HTTP."""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import time
from dataclasses import dataclass, field

from benchmarks import moto_fast_paths
from benchmarks.list_everything import ListEverythingTracker
from benchmarks.measure import (
    RequestLog,
    Section,
    Table,
    count_by_operation,
    median,
    ms,
    p95,
    per_event,
    ratio,
)
from benchmarks.s3_records import envelope, record

FIRST_SEQUENCER = 0x0055AED6DCD90000
_RUNS = itertools.count()  # a fresh bucket and table for every measurement


@dataclass(frozen=True)
class Change:
    key: str
    size: int | None  # None: the key was deleted


def preloaded_objects(count: int) -> list[tuple[str, int]]:
    return [(f"data/{i:07d}", 100 + i % 900) for i in range(count)]


def workload(preloaded: int, count: int) -> list[Change]:
    """The same events for every bucket size: half new keys, a quarter overwrites, a quarter
    deletes of preloaded keys (spread over the bucket by two primes)."""
    changes = []
    for i in range(count):
        kind = i % 4
        if kind in (0, 1):
            changes.append(Change(f"new/{i:05d}", 64 + i))
        elif kind == 2:
            changes.append(Change(f"data/{(i * 7919) % preloaded:07d}", 2000 + i))
        else:
            changes.append(Change(f"data/{(i * 104729) % preloaded:07d}", None))
    return changes


def sample(count: int, wanted: int) -> set[int]:
    """``wanted`` event indices spread evenly, always including the last one."""
    wanted = max(1, min(wanted, count))
    return {round((k + 1) * count / wanted) - 1 for k in range(wanted)}


@dataclass
class Measured:
    objects: int
    preload_seconds: float = 0.0
    index_seconds: float = 0.0
    tracker_events: int = 0
    tracker_calls: list = field(default_factory=list)
    tracker_times: list[float] = field(default_factory=list)
    baseline_events: int = 0
    baseline_calls: list = field(default_factory=list)
    baseline_times: list[float] = field(default_factory=list)
    totals_agree: bool = False
    page_fast: list[float] = field(default_factory=list)
    page_shipped: list[float] = field(default_factory=list)


def run(sizes: list[int], events: int, baseline_events: dict[int, int], repeats: int) -> Section:
    from s3sizer.aws import Aws
    from s3sizer.emulator import Emulator
    from s3sizer.settings import resolve

    moto_fast_paths.install()
    emulator = Emulator(concurrency=1).start()
    try:
        settings = resolve(stack="bench", region="us-east-1", endpoint_url=emulator.endpoint_url)
        aws = Aws(settings, placeholder_credentials=True)
        s3, dynamodb = aws.client("s3"), aws.client("dynamodb")
        log = RequestLog(s3, dynamodb)
        # Load botocore's models and open the connections before anything is timed.
        _measure(s3, dynamodb, log, 10, 8, 8, 1)
        results = []
        for objects in sizes:
            wanted = baseline_events.get(objects, events)
            results.append(_measure(s3, dynamodb, log, objects, events, wanted, repeats))
        batch_events = max(events, 100)
        batches = batch_costs(dynamodb, log, batch_events)
    finally:
        emulator.stop()
        _forget_moto_state()
    section = _section(results, events)
    _add_batch_costs(section, batches, batch_events)
    return section


def _measure(s3, dynamodb, log, objects, events, baseline_wanted, repeats) -> Measured:
    from s3sizer.lambdas import history, size_tracking
    from s3sizer.lambdas.history import ListedVersion

    bucket = table = f"bench-tracking-{objects}-{next(_RUNS)}"
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(**history.table_definition(table))
    direct = moto_fast_paths.DirectBucket(bucket)
    result = Measured(objects)
    preload = preloaded_objects(objects)
    started = time.perf_counter()
    direct.put_many(preload)
    result.preload_seconds = time.perf_counter() - started
    tracker = history.History(table, dynamodb)
    started = time.perf_counter()
    listing = (ListedVersion(key, None, size, True, False) for key, size in preload)
    tracker.reset_from_listing(bucket, listing)  # what setup does, fed from the preload list
    result.index_seconds = time.perf_counter() - started
    # On AWS the bucket is not in the tracker's process: keep its objects out of the garbage
    # collector's full passes, which would otherwise add pauses that grow with N to both trackers.
    gc.freeze()
    baseline = ListEverythingTracker(s3, dynamodb, table)
    baseline_turns = sample(events, baseline_wanted)
    log.take()

    for i, change in enumerate(workload(objects, events)):
        # The bucket changes first (untimed), as S3 would before sending the event.
        if change.size is None:
            direct.delete(change.key)
        else:
            direct.put(change.key, change.size)
        event = envelope(record(bucket, change.key, f"{FIRST_SEQUENCER + i:016X}", change.size))
        started = time.perf_counter()
        size_tracking.apply_event(tracker, event)
        result.tracker_times.append(time.perf_counter() - started)
        result.tracker_calls += log.take()
        if i in baseline_turns:
            started = time.perf_counter()
            baseline.apply_event(event)
            result.baseline_times.append(time.perf_counter() - started)
            result.baseline_calls += log.take()
    result.tracker_events, result.baseline_events = events, len(baseline_turns)

    # The last event is always in the baseline's sample, so both must now say the same.
    ours = tracker.totals(bucket)
    result.totals_agree = (ours.total_size, ours.object_count) == baseline.totals(bucket)
    result.page_fast = _first_page(s3, log, bucket, repeats)
    with moto_fast_paths.as_shipped():
        result.page_shipped = _first_page(s3, log, bucket, repeats)
    dynamodb.delete_table(TableName=table)
    log.take()
    return result


def _first_page(s3, log: RequestLog, bucket: str, repeats: int) -> list[float]:
    log.take()
    for _ in range(repeats):
        s3.list_objects_v2(Bucket=bucket)
    return _durations(log.take(), "s3:ListObjectsV2")


def _durations(calls, operation: str) -> list[float]:
    return [seconds for name, seconds in calls if name == operation]


def _forget_moto_state() -> None:
    """Free the preloaded objects, so that later sections do not run beside them."""
    from moto.moto_api._internal.models import moto_api_backend

    gc.unfreeze()
    moto_api_backend.reset()
    gc.collect()


def _section(results: list[Measured], events: int) -> Section:
    requests = Table(
        ["objects in the bucket", "s3sizer: requests/event", "s3sizer: by operation",
         "list-everything: requests/event", "list-everything: by operation", "ratio"]
    )  # fmt: skip
    times = Table(
        ["objects in the bucket", "s3sizer: median", "s3sizer: p95", "list-everything: median",
         "list-everything: p95", "ratio of medians", "events timed (s3sizer / list-everything)",
         "final totals agree"]
    )  # fmt: skip
    artifacts = Table(
        ["objects in the bucket", "preload (objects, then index)",
         "TransactWriteItems (the emulator's, median)", "ListObjectsV2 page: moto as shipped",
         "with the fast path"]
    )  # fmt: skip
    for r in results:
        ours = len(r.tracker_calls) / r.tracker_events
        theirs = len(r.baseline_calls) / max(r.baseline_events, 1)
        requests.add(
            f"{r.objects:,}", f"{ours:g}", per_event(count_by_operation(r.tracker_calls), r.tracker_events),
            f"{theirs:,.2f}".removesuffix(".00"),
            per_event(count_by_operation(r.baseline_calls), r.baseline_events), ratio(theirs, ours),
        )  # fmt: skip
        times.add(
            f"{r.objects:,}", ms(median(r.tracker_times)), ms(p95(r.tracker_times)),
            ms(median(r.baseline_times)), ms(p95(r.baseline_times)),
            ratio(median(r.baseline_times), median(r.tracker_times)),
            f"{r.tracker_events} / {r.baseline_events}", "yes" if r.totals_agree else "**NO**",
        )  # fmt: skip
        artifacts.add(
            f"{r.objects:,}", f"{r.preload_seconds:.1f} s + {r.index_seconds:.1f} s",
            ms(median(_durations(r.tracker_calls, "dynamodb:TransactWriteItems"))),
            ms(median(r.page_shipped)), ms(median(r.page_fast)),
        )  # fmt: skip
    section = Section(
        "1. Tracking cost against bucket size",
        METHOD.format(events=events),
        [requests, times],
        [ARTIFACTS_NOTE, artifacts.markdown()],
    )
    largest = results[-1]
    ours = len(largest.tracker_calls) / largest.tracker_events
    theirs = len(largest.baseline_calls) / max(largest.baseline_events, 1)
    section.highlights.append(
        f"At {largest.objects:,} objects, s3sizer's tracker makes {ours:g} requests per event "
        f"({per_event(count_by_operation(largest.tracker_calls), largest.tracker_events)}) against "
        f"{theirs:,.0f} for a tracker that lists the bucket ({ratio(theirs, ours)}), and takes "
        f"{ms(median(largest.tracker_times))} per event against "
        f"{ms(median(largest.baseline_times))} ({ratio(median(largest.baseline_times), median(largest.tracker_times))}); "
        f"at {results[0].objects:,} objects it takes {ms(median(results[0].tracker_times))}."
    )
    return section


METHOD = """
Each bucket is preloaded with N objects, and the tracker's key index with the same N keys; then
the same {events} events (half new keys, a quarter overwrites, a quarter deletes, in the same
order for every N) change the bucket and are handed to each tracker as S3 would send them.
**s3sizer** is `size_tracking.apply_event` on a `History` (what the Lambda handler runs);
**list-everything** (`benchmarks/list_everything.py`) lists the whole bucket with ListObjectsV2
and writes the totals and a point with one BatchWriteItem. Both run in the benchmark's process
against the in-process emulator over HTTP, without Lambda in between, so the figures are the
trackers' own cost (client and emulator share one interpreter, as a Lambda and AWS do not). Requests are counted per API call with botocore's `before-call` hook on the
clients the trackers use (retries are not extra calls). The baseline is timed on an even sample
of the events that always includes the last one, because at 100,000 objects one of its events
takes many seconds; its request count is the same for every event of one N (⌈N/1000⌉ pages).
After the last event both trackers' totals are compared.

How the buckets are preloaded: the emulator runs in-process, the objects are written straight
into moto's S3 backend (no HTTP, no notification), and the key index is written by
`History.reset_from_listing` (BatchWriteItem over HTTP, as `setup` does), fed from the same list.
"""

ARTIFACTS_NOTE = """
moto's ListObjectsV2 sorts the whole bucket for every page, so a page costs O(N) where AWS's
does not. Section 1 replaces that sort in its own process (`benchmarks/moto_fast_paths.py`: the
listing pages through a sorted key list), so that the baseline's times are its requests' and not
moto's sort. This makes the baseline *cheaper* than on moto as shipped, never dearer. The
emulator's own TransactWriteItems backs up only the items it writes (moto as shipped deep-copies
the whole table, once per item), so it stays flat as the table grows. Per bucket size (one
ListObjectsV2 page is the first page: 1,000 keys, or the whole bucket when it is smaller; median
of a few):
"""


# -- requests per event by batch size and prefix depth ----------------------------------------

BATCH_RUNS = ((0, 1), (0, 10), (0, 100), (1, 100), (3, 100))  # (prefix depth, batch size)


def batch_workload(count: int) -> list[Change]:
    """Keys under 10 first-level prefixes, 2 below each and 2 below those (70 prefixes at
    depth 3): half new keys, a quarter overwrites, a quarter deletes."""
    changes = []
    for i in range(count):
        key = f"p{i % 10}/y{i // 10 % 2}/m{i // 20 % 2}/obj-{i % 400:04d}"
        changes.append(Change(key, None if i % 4 == 3 else 64 + i))
    return changes


def batch_costs(dynamodb, log: RequestLog, events: int) -> list[tuple[int, int, float, str]]:
    """(depth, batch size, requests/event, by operation) for each of BATCH_RUNS."""
    from s3sizer.lambdas import size_tracking
    from s3sizer.lambdas.history import History, ListedVersion, table_definition

    table = f"bench-batches-{next(_RUNS)}"
    dynamodb.create_table(**table_definition(table))
    figures = []
    for depth, size in BATCH_RUNS:
        bucket = f"batch-{depth}-{size}"
        tracker = History(table, dynamodb, prefix_depth=depth)
        preload = [ListedVersion(c.key, None, 100, True, False) for c in batch_workload(400)]
        tracker.reset_from_listing(bucket, preload)
        log.take()
        changes = batch_workload(events)
        with contextlib.redirect_stdout(io.StringIO()):  # the metric lines
            for start in range(0, events, size):
                bodies = [
                    envelope(record(bucket, c.key, f"{FIRST_SEQUENCER + start + j:016X}", c.size))
                    for j, c in enumerate(changes[start : start + size])
                ]
                size_tracking.apply_event(tracker, _sqs(bodies))
        calls = [c for c in log.take() if c[0].startswith("dynamodb:")]
        by_operation = per_event(count_by_operation(calls), events)
        figures.append((depth, size, len(calls) / events, by_operation))
    dynamodb.delete_table(TableName=table)
    log.take()
    return figures


def main() -> None:
    """Only the batch table, on an in-process emulator: ``python -m benchmarks.tracking_cost``."""
    from s3sizer.aws import Aws
    from s3sizer.emulator import Emulator
    from s3sizer.settings import resolve

    emulator = Emulator(concurrency=1).start()
    try:
        settings = resolve(stack="bench", region="us-east-1", endpoint_url=emulator.endpoint_url)
        dynamodb = Aws(settings, placeholder_credentials=True).client("dynamodb")
        for figure in batch_costs(dynamodb, RequestLog(dynamodb), 1000):
            depth, size, cost, by_operation = figure
            print(f"depth {depth}, batch {size:3d}: {cost:.3f} requests/event ({by_operation})")
    finally:
        emulator.stop()


def _sqs(bodies: list[dict]) -> dict:
    import json

    return {
        "Records": [
            {"messageId": f"m{i}", "body": json.dumps(b), "eventSource": "aws:sqs"}
            for i, b in enumerate(bodies)
        ]
    }


def _add_batch_costs(section: Section, figures, events: int) -> None:
    table = Table(
        [
            "prefix depth",
            "batch size",
            "DynamoDB requests/event",
            "by operation",
            "against depth 0 at the same batch",
        ]
    )
    off = {size: cost for depth, size, cost, _ in figures if depth == 0}
    for depth, size, cost, by_operation in figures:
        table.add(str(depth), str(size), f"{cost:.3f}", by_operation, ratio(cost, off[size]))
    section.tables.append(table)
    section.notes.append(BATCH_NOTE.format(events=events))
    at_100 = {depth: cost for depth, size, cost, _ in figures if size == 100}
    section.highlights.append(
        f"Batched through the queue, the tracker makes {at_100[0]:.3f} DynamoDB requests per event "
        f"at batch 100 (prefixes off), {at_100[1]:.3f} with prefixes at depth 1 and "
        f"{at_100[3]:.3f} at depth 3."
    )


BATCH_NOTE = """
The table by prefix depth and batch size (above) feeds the tracker SQS batches (the default
route: one S3 record per message) of 1, 10 and 100 messages, {events:,} events per row, over keys
spread under 10 first-level prefixes (70 prefixes down to depth 3: half new keys, a quarter
overwrites, a quarter deletes), with prefix totals off (depth 0), at depth 1 and at depth 3.
Requests are counted on the tracker's DynamoDB client, against the same in-process emulator.
Each chunk of a batch costs one BatchGetItem and one TransactWriteItems of at most 100 items
(each changed key, the totals, a point, and two items per touched prefix).
"""


if __name__ == "__main__":
    main()
