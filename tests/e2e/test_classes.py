"""Storage classes on the local AWS, through the CLI: a versioned bucket with objects in four
classes, noncurrent versions and delete markers, `setup --storage-classes` and a deploy, more
writes and a lifecycle transition; `status --json`'s `by_class` equals what ListObjectVersions
shows, and its dollars equal S3's billing rules applied here by hand."""

from __future__ import annotations

import json
import re
import urllib.request

from s3sizer.costs import prices
from tests.e2e.conftest import poll

KB, GB = 1024, 2**30


def truth(s3, bucket: str) -> dict[str, dict[str, int]]:
    """by_class as ListObjectVersions shows it: each version in its class, current or not."""
    found: dict[str, dict[str, int]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            if version["Key"].startswith(".s3sizer/"):
                continue
            mine = found.setdefault(
                version["StorageClass"], {"current_bytes": 0, "noncurrent_bytes": 0, "objects": 0}
            )
            if version["IsLatest"]:
                mine["current_bytes"] += version["Size"]
                mine["objects"] += 1
            else:
                mine["noncurrent_bytes"] += version["Size"]
    return found


def by_hand(s3, bucket: str, table) -> float:
    """S3's rules, per version: the IA classes bill at least 128 KB; GLACIER and DEEP_ARCHIVE
    add 8 KB at STANDARD's rate and 32 KB at their own (docs/costs.md)."""
    billed: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            cls, size = version["StorageClass"], version["Size"]
            if cls in ("STANDARD_IA", "ONEZONE_IA", "GLACIER_IR"):
                size = max(size, 128 * KB)
            if cls in ("GLACIER", "DEEP_ARCHIVE"):
                size += 32 * KB
                billed["STANDARD"] = billed.get("STANDARD", 0) + 8 * KB
            billed[cls] = billed.get(cls, 0) + size
    # Every amount here is far below the first tier's bound: the first rate applies.
    return round(sum(amount / GB * table.rate(c)[0].usd for c, amount in billed.items()), 4)


def test_status_prices_each_storage_class_as_a_listing_shows_it(stack_cli):
    cli = stack_cli
    cli("setup")
    s3 = cli.aws.client("s3")
    bucket = cli.bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = lambda key, size, cls: s3.put_object(  # noqa: E731
        Bucket=bucket, Key=key, Body=b"x" * size, StorageClass=cls
    )["VersionId"]
    put("std", 300, "STANDARD")
    put("ia", 1000, "STANDARD_IA")
    put("cold/g", 5000, "GLACIER")
    put("cold/d", 2000, "DEEP_ARCHIVE")
    put("std", 400, "STANDARD")  # the first one noncurrent
    s3.delete_object(Bucket=bucket, Key="cold/g")  # a delete marker over a GLACIER version

    cli("setup", "--storage-classes")
    cli("deploy", "--no-layer")

    put("ia", 200 * KB, "STANDARD_IA")  # the small IA version noncurrent
    put("cold/d", 3000, "DEEP_ARCHIVE")
    gone = put("late", 50, "GLACIER")
    s3.delete_object(Bucket=bucket, Key="late", VersionId=gone)  # perhaps before its lookup
    moved = put("soon-cold", 700, "STANDARD")
    url = (
        f"{cli.aws.endpoint_url}/_s3sizer/s3/transition?bucket={bucket}&key=soon-cold"
        f"&class=GLACIER&versionId={moved}"
    )
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).read()

    expected = truth(s3, bucket)
    assert set(expected) == {"STANDARD", "STANDARD_IA", "GLACIER", "DEEP_ARCHIVE"}

    def storage() -> dict:
        return json.loads(cli("status", "--json").stdout)["storage"]

    poll(lambda: storage()["by_class"] == expected, timeout=60)
    got = storage()
    assert got["prices"]["basis"] == "classes"
    assert got["monthly_cost_usd"] == by_hand(s3, bucket, prices.load("us-east-1"))
    # One lookup (HEAD) per version created since the deploy (4 puts), and one more for the
    # transition's record when it came in a batch of its own (a notification names no class).
    logs = cli("logs", "size-tracking", "--since", "10m").stdout
    assert sum(int(n) for n in re.findall(r"lookups=(\d+)", logs)) in (4, 5)

    cli("setup", "--no-storage-classes")
    off = storage()
    assert off["by_class"] is None and off["prices"]["basis"] == "standard"
    cli("teardown", "--yes")
    assert cli.leftovers() == {}
