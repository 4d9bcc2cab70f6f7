"""`untrack` of a large bucket: its items deleted partition after partition, or side by side.

An emulator runs in this process; a stack is set up on a small first bucket, and a second
bucket of many objects (written straight into the emulator's S3, as in section 10) is tracked
with `s3sizer track`, untracked with `s3sizer untrack --workers 1` (one partition at a time, as
before this release), tracked again, and untracked with `s3sizer untrack` (16 partitions side
by side). Each command runs as its own process over HTTP; time is wall time. The emulator serves
DynamoDB requests one at a time, so here the workers overlap only the client's own work and the
round trips; on AWS, where each BatchWriteItem waits for its answer, 16 partitions at once
delete up to 16 times as fast, within the table's write capacity.

    python benchmarks/untrack_speed.py [--objects 30000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baseline_speed import fill, run_timed
from benchmarks.measure import Section, Table

FIRST, BIG = "bench-untrack-first", "bench-untrack-big"


def _items_left(endpoint: str, table: str) -> int:
    """The big bucket's key items still in the table (one Query of each key partition)."""
    import boto3

    from s3sizer.lambdas import layout as lay

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    left = 0
    for pk in lay.key_partitions(BIG):
        pages = ddb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            Select="COUNT",
        )
        left += sum(page["Count"] for page in pages)
    return left


def section(objects: int) -> Section:
    import boto3

    from s3sizer.emulator import Emulator
    from s3sizer.stack.model import Names

    local = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(local)
    env = {**os.environ, **local, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    table = Table(["objects", "key items", "workers", "untrack", "against one worker", "left"])
    with Emulator(port=0) as aws:
        s3 = boto3.client("s3", endpoint_url=aws.endpoint_url, region_name="us-east-1")
        for bucket in (FIRST, BIG):
            s3.create_bucket(Bucket=bucket)
        fill(BIG, objects)
        stack = "bench-untrack"
        cli = [sys.executable, "-m", "s3sizer", "--endpoint-url", aws.endpoint_url]
        cli += ["--stack", stack]
        run_timed([*cli, "setup", "--bucket", FIRST], env)
        timed = {}
        for workers in (1, 16):
            run_timed([*cli, "track", BIG], env)
            timed[workers] = run_timed([*cli, "untrack", BIG, "--workers", str(workers)], env)
            left = _items_left(aws.endpoint_url, Names(stack).table)
            table.add(
                f"{objects:,}",
                f"{objects:,}",
                str(workers),
                f"{timed[workers].seconds:.1f} s",
                f"{timed[workers].seconds / timed[1].seconds:.2f}x",
                str(left),
            )
    result = Section("12. `untrack` of a large bucket", __doc__.split("\n\n")[1], [table])
    result.highlights.append(
        f"`untrack` of a bucket of {objects:,} objects takes {timed[16].seconds:.1f} s with 16 "
        f"partitions side by side, {timed[16].seconds / timed[1].seconds:.2f}x the time of one "
        "partition at a time, on the emulator (one DynamoDB request at a time)."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=30_000)
    args = parser.parse_args(argv)
    print(section(args.objects).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
