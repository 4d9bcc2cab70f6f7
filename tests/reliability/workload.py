"""A user's own workload: concurrent clients doing random S3 operations on awkward keys."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field

import pytest

from tests.e2e.conftest import StackCli, poll

KEYS = [
    f"{prefix}{i}{suffix}"
    for i in range(6)
    for prefix, suffix in (
        ("plain-", ".txt"),
        ("with space/ ", " end.bin"),
        ("plus+sign-", "+.dat"),
        ("percent%25-", "%.csv"),
        ("ünïcødé/日本-", "-ß.json"),
    )
]
OPERATIONS = ("put", "overwrite", "delete", "copy", "multipart")


@dataclass
class Tally:
    operations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERATIONS, 0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> None:
        with self.lock:
            self.operations[name] += 1


def one_client(cli: StackCli, seed: int, operations: int, tally: Tally) -> None:
    s3, rng, bucket = cli.aws.client("s3"), random.Random(seed), cli.bucket
    for _ in range(operations):
        name, key = rng.choice(OPERATIONS), rng.choice(KEYS)
        body = rng.randbytes(rng.randrange(0, 3000))
        if name in ("put", "overwrite"):
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        elif name == "delete":
            s3.delete_object(Bucket=bucket, Key=key)
        elif name == "copy":
            source = rng.choice(KEYS)
            try:
                s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source})
            except s3.exceptions.ClientError:
                s3.put_object(Bucket=bucket, Key=source, Body=body)  # the source was deleted
        else:
            upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=body)
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            )
        tally.count(name)


def run_load(cli: StackCli, clients: int = 8, operations: int = 100, seed: int = 7) -> Tally:
    tally = Tally()
    threads = [
        threading.Thread(target=one_client, args=(cli, seed + n, operations, tally))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def listing_totals(cli: StackCli, bucket: str | None = None) -> tuple[int, int]:
    """What ListObjectsV2 shows, less the only objects s3sizer writes (its plot, a layer)."""
    from s3sizer.lambdas.own_keys import is_own_key

    pages = (
        cli.aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket or cli.bucket)
    )
    objects = [o for page in pages for o in page.get("Contents", [])]
    objects = [o for o in objects if not is_own_key(o["Key"])]
    return sum(o["Size"] for o in objects), len(objects)


def drained_status(cli: StackCli, timeout: float = 90, bucket: str | None = None) -> dict:
    """The status once the tracker has caught up with the bucket (polled, with a deadline)."""
    expected = listing_totals(cli, bucket)

    seen: dict = {}

    def caught_up():
        status = json.loads(cli("status", "--json").stdout)
        seen.update(status)
        return (status["total_size"], status["object_count"]) == expected and status

    try:
        return poll(caught_up, timeout=timeout, interval=0.5)
    except pytest.fail.Exception:
        # What the tracker had reached, and whether its events wait or were dead-lettered.
        shown = {k: seen.get(k) for k in ("total_size", "object_count", "queued", "dead_letters")}
        pytest.fail(f"not caught up with the listing {expected} after {timeout} s: {shown}")
