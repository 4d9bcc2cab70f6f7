"""A write burst from many clients, through each delivery route, on one emulator in one run.

Many clients PUT and DELETE at once; then the tracker must drain what they sent. For each route
this measures the drain time after the last client request, the events applied per second, the
DynamoDB requests the tracker made per S3 event (counted by moto's request recorder, the
functions' own only), and the drift that `reconcile` finds afterwards.

    python benchmarks/burst.py [--clients 16] [--puts 2400] [--deletes 400]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.emulator_process import EmulatorProcess
from benchmarks.measure import Section, Table, ratio

DRAIN_DEADLINE_SECONDS = 300
POLL_SECONDS = 0.05
# boto3 names the execution environment in its User-Agent, so the recording tells the
# functions' requests apart from this benchmark's own polling.
LAMBDA_AGENT = "exec-env/AWS_Lambda_"


@dataclass(frozen=True)
class Burst:
    route: str
    events: int
    client_seconds: float
    drain_seconds: float
    tracker_requests: int
    drift_bytes: int
    drift_objects: int

    @property
    def per_event(self) -> float:
        return self.tracker_requests / self.events

    @property
    def applied_per_second(self) -> float:
        return self.events / (self.client_seconds + self.drain_seconds)


def run_route(endpoint: str, route: str, clients: int, puts: int, deletes: int) -> Burst:
    from s3sizer import lifecycle, reports
    from s3sizer.context import open_stack

    # "sqs-fold": the sqs route on the fold write path (docs/tracking.md, "The fold path").
    delivery, _, path = route.partition("-")
    aws = _connect(endpoint, f"bench-burst-{route}")
    lifecycle.setup(aws, None, prefix_depth=0, write_path=path or None)
    lifecycle.deploy(aws, lifecycle.LayerChoice(build=False), delivery=delivery)
    ctx = open_stack(aws)
    s3 = aws.client("s3")
    bucket = ctx.bucket

    # One client (session and connection pool) per thread, as separate programs would have.
    client_s3 = [_connect(endpoint, f"bench-burst-{route}").client("s3") for _ in range(clients)]
    _recorder(endpoint, "reset-recording")
    _recorder(endpoint, "start-recording")
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(
            pool.map(
                lambda c: _client(client_s3[c], bucket, c, puts // clients, deletes // clients),
                range(clients),
            )
        )
    clients_done = time.perf_counter()
    expected = _listing_totals(s3, bucket)
    while True:
        status = reports.status(ctx)
        if (status["total_size"], status["object_count"]) == expected and not status["queued"]:
            break
        if time.perf_counter() - clients_done > DRAIN_DEADLINE_SECONDS:
            raise TimeoutError(f"{route}: not drained in {DRAIN_DEADLINE_SECONDS} s: {status}")
        time.sleep(POLL_SECONDS)
    drained = time.perf_counter()
    _recorder(endpoint, "stop-recording")
    tracker_requests = _count_tracker_dynamodb_requests(endpoint)
    drift = reports.reconcile(ctx)
    lifecycle.teardown(aws)
    events = (puts // clients + deletes // clients) * clients
    return Burst(
        route, events, clients_done - started, drained - clients_done, tracker_requests,
        drift["drift_bytes"], drift["drift_objects"],
    )  # fmt: skip


def _client(s3, bucket: str, number: int, puts: int, deletes: int) -> None:
    keys = [f"burst/{number:02d}/{i:05d} +%ü.txt" for i in range(puts)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (100 + i % 900))
    for key in keys[:deletes]:
        s3.delete_object(Bucket=bucket, Key=key)


def _listing_totals(s3, bucket: str) -> tuple[int, int]:
    size = count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            size, count = size + item["Size"], count + 1
    return size, count


def _connect(endpoint: str, stack: str):
    from s3sizer.aws import Aws
    from s3sizer.settings import resolve

    settings = resolve(stack=stack, region="us-east-1", endpoint_url=endpoint)
    return Aws(settings, placeholder_credentials=True)


def _recorder(endpoint: str, action: str) -> bytes:
    method = "GET" if action.startswith("download") else "POST"
    request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method=method)
    with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
        return response.read()


def _count_tracker_dynamodb_requests(endpoint: str) -> int:
    count = 0
    for line in _recorder(endpoint, "download-recording").decode().splitlines():
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
        target = headers.get("x-amz-target", "")
        if target.startswith("DynamoDB") and LAMBDA_AGENT in headers.get("user-agent", ""):
            count += 1
    return count


def section(bursts: list[Burst], clients: int) -> Section:
    table = Table(
        ["route", "events", "clients' time", "drain after the last request",
         "drain against queue", "events/s", "DynamoDB requests per event",
         "requests per event against queue", "drift"]
    )  # fmt: skip
    queue = bursts[0]
    for b in bursts:
        table.add(
            b.route, f"{b.events:,}", f"{b.client_seconds:.1f} s", f"{b.drain_seconds:.1f} s",
            ratio(b.drain_seconds, queue.drain_seconds), f"{b.applied_per_second:,.0f}",
            f"{b.per_event:.3f}", ratio(b.per_event, queue.per_event),
            f"{b.drift_bytes} B, {b.drift_objects} objects",
        )  # fmt: skip
    result = Section(
        "9. A write burst, queue route against direct route", METHOD.format(clients=clients),
        [table],
    )  # fmt: skip
    result.highlights.append(
        f"A burst of {queue.events:,} events from {clients} clients: "
        + "; ".join(
            f"the {b.route} route drains {b.drain_seconds:.1f} s after the last request "
            f"({b.applied_per_second:,.0f} events/s, {b.per_event:.3f} DynamoDB requests per "
            f"event, drift {b.drift_bytes} B / {b.drift_objects} objects)"
            for b in bursts
        )
        + "."
    )
    return result


METHOD = """
One emulator (`python -m s3sizer.emulator`, default settings), one stack per route, set up with
prefixes off and deployed with `--delivery` `sqs` (S3 → SQS → event source mapping, batch 100,
window 1 s), the same on the fold write path (`sqs-fold`: `setup --write-path fold`; the tracker
writes key items only, and the fold function folds the table's stream behind its 4 s window), or
`direct` (S3 invokes the tracker, one event per invocation). {clients} client
threads (each with its own boto3 session and S3 client) each PUT their own new keys (100 to
999 bytes, keys with a space, `+`, `%` and `ü`), then DELETE the first of them; the
clients' time runs from the first request to the last response. The drain is the time from the
last client response until `status` (one Query of the totals' rows and the queue's counts, polled
every 50 ms) equals the bucket's listing with nothing left in the queue. Events/s is the events
divided by the clients' time plus the drain. DynamoDB requests are counted by moto's request
recorder on the emulator, between the first client request and the drain: only requests whose
User-Agent names the Lambda execution environment (the functions' own, not this benchmark's
polling). Drift is what `reconcile` finds afterwards (0 means exact).
"""


def run(
    clients: int = 16, puts: int = 2400, deletes: int = 400, routes=("sqs", "sqs-fold", "direct")
):
    with EmulatorProcess() as emulator:
        return section(
            [run_route(emulator.endpoint_url, r, clients, puts, deletes) for r in routes], clients
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--puts", type=int, default=2400)
    parser.add_argument("--deletes", type=int, default=400)
    args = parser.parse_args()
    print(run(args.clients, args.puts, args.deletes).markdown())


if __name__ == "__main__":
    main()
