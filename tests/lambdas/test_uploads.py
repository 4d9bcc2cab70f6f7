"""The unfinished uploads' poll (lambdas/uploads.py) on moto with the emulator's S3 listings:
the figures equal ListMultipartUploads and ListParts, uploads that end mid-poll are left out,
and the requests grow with the uploads and their parts' pages only."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import boto3
import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas import size_tracking, uploads
from s3sizer.stack.estate import settings_items
from s3sizer.stack.model import BucketSettings

from .conftest import BUCKET, TABLE

MiB = 1024 * 1024


@pytest.fixture
def s3(ddb):
    """S3 whose uploads carry their real start time and page as S3 pages them."""
    from s3sizer.emulator.patches import s3_lifecycle, s3_uploads
    from s3sizer.emulator.patches.hooks import PatchSet

    patches = PatchSet()
    s3_lifecycle.install(patches)
    s3_uploads.install(patches)
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        patches.undo()


def start(s3, key: str, part_sizes: list[int], bucket: str = BUCKET) -> str:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number, size in enumerate(part_sizes, start=1):
        s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=b"x" * size
        )
    return upload_id


def counted(s3) -> dict[str, int]:
    """How many requests of each operation the client sends from now on."""
    seen: dict[str, int] = {}

    def count(model, **_):
        seen[model.name] = seen.get(model.name, 0) + 1

    s3.meta.events.register("before-call.s3", count)
    return seen


def uploads_item(ddb, bucket: str = BUCKET) -> dict:
    return ddb.get_item(TableName=TABLE, Key=uploads.uploads_address(bucket))["Item"]


def test_a_poll_writes_the_parts_bytes_the_uploads_and_the_oldest_start(s3, ddb):
    first = start(s3, "videos/a.bin", [5 * MiB, 5 * MiB])
    start(s3, "videos/b.bin", [5 * MiB])
    listed = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    truth = sum(
        part["Size"]
        for upload in listed
        for part in s3.list_parts(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])[
            "Parts"
        ]
    )
    oldest = min(u["Initiated"] for u in listed)
    requests = counted(s3)

    polled = uploads.poll_bucket(s3, ddb, TABLE, BUCKET)

    assert (polled.bytes, polled.uploads) == (truth, 2) == (15 * MiB, 2)
    assert polled.oldest == lay.iso_ms(oldest)
    assert next(u for u in listed if u["UploadId"] == first)["Initiated"] == oldest
    assert requests == {"ListMultipartUploads": 1, "ListParts": 2}
    assert polled.requests == 4  # and one PutItem
    item = uploads_item(ddb)
    assert (item["bytes"]["N"], item["uploads"]["N"]) == (str(15 * MiB), "2")
    assert item["oldest"]["S"] == polled.oldest
    assert item["checked_at"]["S"] == polled.checked_at


def test_no_uploads_writes_zeros_and_no_oldest(s3, ddb):
    s3.put_object(Bucket=BUCKET, Key="done.txt", Body=b"whole")

    polled = uploads.poll_bucket(s3, ddb, TABLE, BUCKET)

    assert (polled.bytes, polled.uploads, polled.oldest, polled.requests) == (0, 0, None, 2)
    assert "oldest" not in uploads_item(ddb)


def test_an_upload_that_ends_between_the_listing_and_its_parts_is_left_out(s3, ddb):
    ending = start(s3, "a-ends.bin", [5 * MiB])
    start(s3, "b-stays.bin", [5 * MiB, 1 * MiB])
    other = boto3.client("s3", region_name="us-east-1")

    def complete_first(params, **_):
        if params.get("UploadId") == ending:
            parts = other.list_parts(Bucket=BUCKET, Key="a-ends.bin", UploadId=ending)["Parts"]
            other.complete_multipart_upload(
                Bucket=BUCKET, Key="a-ends.bin", UploadId=ending,
                MultipartUpload={"Parts": [
                    {"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts
                ]},
            )  # fmt: skip

    s3.meta.events.register("provide-client-params.s3.ListParts", complete_first)

    polled = uploads.poll_bucket(s3, ddb, TABLE, BUCKET)

    assert (polled.bytes, polled.uploads) == (6 * MiB, 1)
    assert s3.head_object(Bucket=BUCKET, Key="a-ends.bin")["ContentLength"] == 5 * MiB


def test_pages_of_uploads_and_of_parts_are_all_read(s3, ddb):
    sizes = {}
    for i in range(5):
        parts = [100 + i, 200, 300]
        start(s3, f"k{i % 2}/{i}.bin", parts)
        sizes[i] = sum(parts)

    def small_pages(params, model, **_):
        params["MaxUploads" if model.name == "ListMultipartUploads" else "MaxParts"] = 2

    s3.meta.events.register("provide-client-params.s3.ListMultipartUploads", small_pages)
    s3.meta.events.register("provide-client-params.s3.ListParts", small_pages)
    requests = counted(s3)

    polled = uploads.poll_bucket(s3, ddb, TABLE, BUCKET)

    assert (polled.bytes, polled.uploads) == (sum(sizes.values()), 5)
    # 5 uploads in pages of 2, 3 parts each in pages of 2: 3 + 5 x 2 listings, and the write.
    assert requests == {"ListMultipartUploads": 3, "ListParts": 10}
    assert polled.requests == 14


def test_an_older_poll_never_overwrites_a_newer_one(s3, ddb):
    start(s3, "one.bin", [5 * MiB])
    later = datetime(2030, 1, 1, tzinfo=UTC)
    uploads.poll_bucket(s3, ddb, TABLE, BUCKET, now=lambda: later)
    start(s3, "two.bin", [5 * MiB])

    uploads.poll_bucket(s3, ddb, TABLE, BUCKET, now=lambda: datetime(2029, 1, 1, tzinfo=UTC))

    item = uploads_item(ddb)
    assert (item["uploads"]["N"], item["checked_at"]["S"]) == ("1", lay.iso_ms(later))


def test_the_tracker_polls_every_tracked_bucket_on_its_scheduled_event(s3, ddb, monkeypatch):
    s3.create_bucket(Bucket="second-bucket")
    for name in (BUCKET, "second-bucket"):
        items = settings_items(BucketSettings(name), "s3sizer")
        for item in items:
            ddb.put_item(TableName=TABLE, Item=item)
    start(s3, "a.bin", [5 * MiB, 5 * MiB])
    start(s3, "b.bin", [5 * MiB], bucket="second-bucket")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("BUCKET_SETTINGS", "table")
    size_tracking._config.cache_clear()
    size_tracking._s3.cache_clear()
    scheduled = {
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-03T09:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/s3sizer-uploads-poll"],
        "detail": {},
    }  # fmt: skip
    try:
        result = size_tracking.handler(scheduled, None)
    finally:
        size_tracking._config.cache_clear()
        size_tracking._s3.cache_clear()

    assert sorted(r["bucket"] for r in result["buckets"]) == sorted([BUCKET, "second-bucket"])
    assert uploads_item(ddb)["bytes"]["N"] == str(10 * MiB)
    assert uploads_item(ddb, "second-bucket")["bytes"]["N"] == str(5 * MiB)


def register(s3, ddb, names: list[str]) -> None:
    for name in names:
        if name != BUCKET:
            s3.create_bucket(Bucket=name)
        for item in settings_items(BucketSettings(name), "s3sizer"):
            ddb.put_item(TableName=TABLE, Item=item)


def test_buckets_a_short_invocation_skipped_go_first_at_the_next(s3, ddb, monkeypatch):
    """An invocation with time for one bucket only, three times: each bucket once, not the
    first in the registry's order three times and the others never."""
    names = ["a-bucket", "b-bucket", BUCKET]
    register(s3, ddb, names)
    monkeypatch.setattr(uploads, "POLL_WORKERS", 1)
    polled: list[str] = []
    for _ in names:
        # 30 s at its start, then enough for the first bucket, then none for the others.
        remaining = functools.partial(next, iter([30_000, uploads.RESERVE_MS * 2]), 0)
        result = uploads.poll_stack(s3, ddb, TABLE, remaining_ms=remaining)
        polled += [r["bucket"] for r in result["buckets"] if "checked_at" in r]

    assert sorted(polled) == sorted(names)


def test_a_tracker_timeout_under_the_reserve_still_polls(s3, ddb):
    """`deploy --timeout size-tracking=4`: the invocation starts with 4 s, under the 5 s
    reserve; it still polls, keeping back a share of its time instead."""
    register(s3, ddb, [BUCKET])
    start(s3, "a.bin", [5 * MiB])

    result = uploads.poll_stack(s3, ddb, TABLE, remaining_ms=lambda: 4_000)

    assert [r.get("uploads") for r in result["buckets"]] == [1]
