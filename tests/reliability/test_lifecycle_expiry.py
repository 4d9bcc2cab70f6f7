"""Lifecycle rules expire objects while clients write: the deployed tracker still ends exact.

The first bucket's events reach the tracker through SQS, the second's through EventBridge. The
emulator runs the bucket's lifecycle rules as of two days later, again and again, through
its control endpoint (`POST /_s3sizer/lifecycle/advance?days=2`) while clients put, overwrite
and delete, so expirations and client writes to the same keys interleave.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.request
from collections import Counter

import pytest

from tests.reliability.workload import drained_status, listing_totals

CLIENTS, OPERATIONS = 4, 60


def advance(cli, days: float = 2) -> dict:
    url = f"{cli.aws.endpoint_url}/_s3sizer/lifecycle/advance?days={days}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=60) as got:
        return json.loads(got.read())


class Advancing:
    """Runs the lifecycle rules in a loop until stopped; adds up what the runs did."""

    def __init__(self, cli):
        self.cli, self.done = cli, Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            report = advance(self.cli)
            self.done.update({k: v for k, v in report.items() if isinstance(v, int)})

    def __enter__(self) -> Advancing:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def write_concurrently(cli, bucket: str, operation) -> None:
    s3 = cli.aws.client("s3")
    threads = [
        threading.Thread(
            target=lambda n=n: [
                operation(s3, random.Random(n * 1000 + i)) for i in range(OPERATIONS)
            ]
        )
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def reconcile_drift(cli) -> tuple[int, int]:
    result = json.loads(cli("reconcile", "--json").stdout)
    return result["drift_bytes"], result["drift_objects"]


def test_current_objects_expiring_under_a_prefix_while_clients_write(stack_cli):
    cli, bucket = stack_cli, f"{stack_cli.stack}-expiring"
    s3 = cli.aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"tmp/before-{i}", Body=b"b" * (i + 1))
        s3.put_object(Bucket=bucket, Key=f"keep/before-{i}", Body=b"k" * (i + 1))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                 "Expiration": {"Days": 1}},
            ]
        },
    )  # fmt: skip
    cli("setup", "--bucket", bucket)
    cli("deploy")

    def operation(s3, rng: random.Random) -> None:
        key = f"{rng.choice(['tmp', 'keep'])}/{rng.randrange(8)}"
        if rng.random() < 0.8:
            s3.put_object(Bucket=bucket, Key=key, Body=rng.randbytes(rng.randrange(1, 500)))
        else:
            s3.delete_object(Bucket=bucket, Key=key)

    with Advancing(cli) as lifecycle:
        write_concurrently(cli, bucket, operation)
    advance(cli)  # whatever tmp/ still holds expires now
    status = drained_status(cli, timeout=60, bucket=bucket)

    assert lifecycle.done["objects_expired"] > 0
    assert not any(key.startswith("tmp/") for key in _keys(s3, bucket))
    assert (status["total_size"], status["object_count"]) == listing_totals(cli, bucket)
    assert reconcile_drift(cli) == (0, 0)
    cli("teardown", "--yes")


@pytest.mark.heavy  # 28 s: the default run stays near 10 minutes; CI runs the heavy tier
def test_noncurrent_versions_and_lone_delete_markers_expiring_while_clients_write(stack_cli):
    cli, bucket = stack_cli, f"{stack_cli.stack}-versions"
    s3 = cli.aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=b"1" * (i + 1))
        s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=b"2" * (i + 2))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "noncurrent", "Status": "Enabled", "Filter": {},
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 1,
                                                 "NewerNoncurrentVersions": 1}},
                {"ID": "markers", "Status": "Enabled", "Filter": {},
                 "Expiration": {"ExpiredObjectDeleteMarker": True}},
                {"ID": "scratch", "Status": "Enabled", "Filter": {"Prefix": "scratch/"},
                 "Expiration": {"Days": 1}},
            ]
        },
    )  # fmt: skip
    cli("setup", "--bucket", bucket)
    cli("deploy", "--delivery", "eventbridge")  # lifecycle events in EventBridge's shape

    def operation(s3, rng: random.Random) -> None:
        key = f"{rng.choice(['k', 'scratch'])}/{rng.randrange(6)}"
        roll = rng.random()
        if roll < 0.6:
            s3.put_object(Bucket=bucket, Key=key, Body=rng.randbytes(rng.randrange(1, 500)))
        elif roll < 0.8:
            s3.delete_object(Bucket=bucket, Key=key)  # a delete marker
        else:  # the newest version of the key, whatever it is, deleted for good
            listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
            newest = [
                v["VersionId"]
                for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])
                if v["Key"] == key and v["IsLatest"]
            ]
            if newest:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=newest[0])

    with Advancing(cli) as lifecycle:
        write_concurrently(cli, bucket, operation)
    status = drained_status(cli, timeout=60, bucket=bucket)

    assert status["delivery"] == "eventbridge"
    assert lifecycle.done["versions_deleted"] > 0
    assert lifecycle.done["delete_markers_created"] > 0
    assert lifecycle.done["delete_markers_removed"] > 0
    assert (status["total_size"], status["object_count"]) == listing_totals(cli, bucket)
    assert reconcile_drift(cli) == (0, 0)
    cli("teardown", "--yes")


def _keys(s3, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]
