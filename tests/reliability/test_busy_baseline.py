"""A baseline on a busy bucket: setup, deploy, reconcile, a deeper prefix depth and a change of
route each record one while clients keep writing. Afterwards the totals and every prefix equal
the bucket's listing, with no second reconcile, on unversioned and versioned buckets."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.stack.model import Names
from tests.emulator.helpers import poll
from tests.reliability.workload import drained_status, listing_totals

PREFIXES = ["logs/", "data/a/", "data/b/", "img/", "tmp/x/", ""]


def key_of(rng: random.Random) -> str:
    return f"{rng.choice(PREFIXES)}k{rng.randrange(400):03d}"


class Writers:
    """Clients that put, overwrite and delete (and delete versions) until told to stop."""

    def __init__(self, s3, bucket: str, versioned: bool, clients: int = 3):
        self.s3, self.bucket, self.versioned = s3, bucket, versioned
        self.stop = threading.Event()
        self.operations = 0
        self.threads = [
            threading.Thread(target=self._write, args=(seed,), daemon=True)
            for seed in range(clients)
        ]

    def _write(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            key, roll = key_of(rng), rng.random()
            if roll < 0.6:
                answer = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=b"w" * rng.randrange(1, 500)
                )
                if self.versioned and roll < 0.1:
                    self.s3.delete_object(
                        Bucket=self.bucket, Key=key, VersionId=answer["VersionId"]
                    )
            else:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            self.operations += 1

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def messages_in_queue(cli) -> int:
    sqs = cli.aws.client("sqs")
    url = sqs.get_queue_url(QueueName=Names(cli.stack).queue)["QueueUrl"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    return sum(int(got[name]) for name in names)


def prefix_listing(s3, bucket: str, depth: int) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            for prefix in lay.prefixes(item["Key"], depth):
                mine = sums.setdefault(prefix, [0, 0])
                mine[0], mine[1] = mine[0] + item["Size"], mine[1] + 1
    return {p: (size, count) for p, (size, count) in sums.items()}


# Each case records several baselines while clients write: setup's, deploy's (after the route),
# then reconcile's on one bucket, a deeper depth's and a change of route's on the other.
CASES = {
    "unversioned": (False, [["reconcile", "--json"]]),
    "versioned": (
        True,
        [["setup", "--prefix-depth", "2"], ["deploy", "--delivery", "eventbridge"]],
    ),
    # One deploy moves the stack to the fold and changes its route: the route's baseline runs
    # while the tracker already writes for the fold.
    "to the fold": (False, [["deploy", "--write-path", "fold", "--delivery", "eventbridge"]]),
    # The move to the direct route leaves the queue's mapping to apply what the queue still
    # holds: a recent change the baseline saw recorded stands only because the changes after
    # it, some still in the queue, arrive.
    "to the fold, direct": (False, [["deploy", "--write-path", "fold", "--delivery", "direct"]]),
}


@pytest.mark.heavy
@pytest.mark.parametrize("case", list(CASES))
def test_every_baseline_on_a_busy_bucket_ends_exact(stack_cli, case):
    versioned, commands = CASES[case]
    cli = stack_cli
    bucket = f"{cli.stack}-busy-{case[0]}{len(case)}"
    s3 = cli.aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rng = random.Random(11)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(
            lambda i: s3.put_object(Bucket=bucket, Key=key_of(rng), Body=b"p" * (i % 300 + 1)),
            range(400),
        ))  # fmt: skip

    with Writers(s3, bucket, versioned) as writers:
        cli("setup", "--bucket", bucket)
        cli("deploy")  # the route, then a live baseline
        for command in commands:
            cli(*command)
    assert writers.operations > 50

    status = drained_status(cli, timeout=90, bucket=bucket)
    poll(lambda: messages_in_queue(cli) == 0, timeout=60, interval=0.5)  # none stranded
    assert (status["total_size"], status["object_count"]) == listing_totals(cli, bucket)
    depth = 2 if versioned else 1
    tracked = json.loads(cli("status", "--by-prefix", "--json").stdout)
    assert {p["prefix"]: (p["total_size"], p["object_count"]) for p in tracked} == prefix_listing(
        s3, bucket, depth
    )
    drift = json.loads(cli("reconcile", "--json").stdout)
    assert (drift["drift_bytes"], drift["drift_objects"]) == (0, 0)
    cli("teardown", "--yes")
