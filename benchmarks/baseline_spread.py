"""A bucket of one huge folder among small ones, baselined with each list request as slow as
on AWS: the folder listed by one worker to its end, against the folder handed over to the
workers the small folders left idle (s3sizer/stack/baseline_spread.py).

    python benchmarks/baseline_spread.py [--keys 2000] [--page-size 4]

Against the emulator on 127.0.0.1 (its own process: the servers' work is not this one's, as on
AWS), and each list request first sleeps:
``PAGE_SECONDS`` a page, as docs/scaling.md assumes for a page of ListObjectsV2 on AWS, and
``PROBE_SECONDS`` for a one-key request. Pages are ``--page-size`` keys rather than 1,000, so
that the folder is hundreds of pages without hundreds of thousands of objects; the handover threshold
(100 pages) is as shipped, and the folder is not split as it starts, as when it starts while
every worker is busy. Both runs are the same quiet baseline (`setup` before the
first deploy) of the same bucket into a fresh table, one after the other.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# A page of 1,000 keys, as docs/scaling.md assumes for AWS (its baseline of 10^9 objects), and
# a one-key request: an assumption too (AWS publishes no latency for either).
PAGE_SECONDS, PROBE_SECONDS = 0.15, 0.02
SMALL_FOLDERS, SMALL_KEYS, WORKERS = 19, 20, 16
BUCKET = "one-huge-folder"


def _slow(params, **kwargs) -> None:
    time.sleep(PROBE_SECONDS if params.get("MaxKeys") == 1 else PAGE_SECONDS)


def fill(s3, keys: int) -> None:
    s3.create_bucket(Bucket=BUCKET)
    names = [f"small{f:02d}/k{i}" for f in range(SMALL_FOLDERS) for i in range(SMALL_KEYS)]
    # The huge folder sorts among the first: it starts while every worker is busy.
    names += [f"big/obj-{i:08d}" for i in range(keys)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=BUCKET, Key=n, Body=b"x" * (len(n) % 7 + 1)), names
            )
        )


def timed_run(aws, table: str, *, hand_over: bool) -> tuple[float, int, int]:
    """Seconds, list requests made and ranges run, of one quiet baseline of the bucket."""
    from s3sizer.lambdas import layout as lay
    from s3sizer.lambdas.history import History
    from s3sizer.stack import baseline_split, baseline_spread
    from s3sizer.stack.baseline_run import BaselineRun, listing_client

    ddb = aws.client("dynamodb")
    ddb.create_table(**lay.table_definition(table))
    s3 = listing_client(aws)
    requests = [0]

    def count(**kwargs) -> None:
        requests[0] += 1

    # Once each: the session hands out the same client to both runs.
    s3.meta.events.register("before-call.s3.ListObjectsV2", _slow, unique_id="bench-slow")
    s3.meta.events.unregister("before-call.s3.ListObjectsV2", unique_id="bench-count")
    s3.meta.events.register("before-call.s3.ListObjectsV2", count, unique_id="bench-count")
    shipped = baseline_spread.AFTER_PAGES, baseline_split.SPLIT_AT_PAGES
    baseline_spread.AFTER_PAGES = shipped[0] if hand_over else 10**9
    # As when the folder starts while every worker is busy: it is not split as it starts.
    baseline_split.SPLIT_AT_PAGES = 10**9
    ranges = [0]

    def seen(progress) -> None:
        ranges[0] = progress.ranges

    try:
        began = time.perf_counter()
        BaselineRun(
            History(table, ddb, prefix_depth=1), s3, BUCKET,
            versioned=False, depth=1, workers=WORKERS, live=False, on_progress=seen,
        ).run()  # fmt: skip
        return time.perf_counter() - began, requests[0], ranges[0]
    finally:
        baseline_spread.AFTER_PAGES, baseline_split.SPLIT_AT_PAGES = shipped


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=2_000, help="keys in the huge folder")
    parser.add_argument("--page-size", type=int, default=4)
    args = parser.parse_args(argv)
    from benchmarks.emulator_process import EmulatorProcess
    from s3sizer.aws import Aws
    from s3sizer.settings import Settings
    from s3sizer.stack import listing

    listing.PAGE_SIZE = args.page_size
    emulator = EmulatorProcess().start()
    try:
        aws = Aws(Settings(stack="bench", region="us-east-1", endpoint_url=emulator.endpoint_url))
        fill(aws.client("s3"), args.keys)
        one, one_requests, one_ranges = timed_run(aws, "one-worker", hand_over=False)
        spread, spread_requests, spread_ranges = timed_run(aws, "handed-over", hand_over=True)
    finally:
        emulator.stop()
    pages = -(-args.keys // args.page_size)
    print(
        f"{SMALL_FOLDERS} folders of {SMALL_KEYS} keys and one of {args.keys:,} ({pages} pages of "
        f"{args.page_size}), {WORKERS} workers, {PAGE_SECONDS} s a page, {PROBE_SECONDS} s a "
        f"one-key request:\n"
        f"  listed by one worker: {one:.1f} s, {one_requests} list requests, {one_ranges} ranges\n"
        f"  handed over: {spread:.1f} s, {spread_requests} list requests, {spread_ranges} ranges\n"
        f"  {one / spread:.2f}x faster"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
