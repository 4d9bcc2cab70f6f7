"""Exact where real buckets are hard: versions in any delivery order, and keys of 1,024 bytes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.reliability.workload import drained_status, listing_totals

LONG_ASCII = "l/" + "a" * 1022  # 1,024 bytes
LONG_UTF8 = "u/" + "é" * 510 + "x"  # 2 + 1,020 + 1 = 1,023 bytes


def reconcile_drift(cli) -> tuple[int, int]:
    result = json.loads(cli("reconcile", "--json").stdout)
    return result["drift_bytes"], result["drift_objects"]


def test_a_versioned_bucket_stays_exact_without_reconcile(stack_cli):
    cli, bucket = stack_cli, f"{stack_cli.stack}-versioned"
    s3 = cli.aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="kept", Body=b"1" * 10)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"2" * 20)  # two versions before setup
    s3.put_object(Bucket=bucket, Key=LONG_ASCII, Body=b"x" * 5)
    cli("setup", "--bucket", bucket)
    cli("deploy")

    def put_then_delete_that_version(i: int) -> None:
        version = s3.put_object(Bucket=bucket, Key=f"pairs/{i % 7}", Body=b"p" * (i + 1))
        s3.delete_object(Bucket=bucket, Key=f"pairs/{i % 7}", VersionId=version["VersionId"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put_then_delete_that_version, range(40)))
    # The current version deleted by id: the previous one (10 bytes) is current again.
    current = s3.head_object(Bucket=bucket, Key="kept")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="kept", VersionId=current)
    # A delete marker, then its removal: the object comes back.
    s3.put_object(Bucket=bucket, Key="back", Body=b"b" * 33)
    marker = s3.delete_object(Bucket=bucket, Key="back")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="back", VersionId=marker)
    s3.put_object(Bucket=bucket, Key=LONG_UTF8, Body=b"y" * 7)
    s3.delete_object(Bucket=bucket, Key=LONG_ASCII)
    # Suspended versioning: a "null" version written over in place.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="suspended", Body=b"s" * 3)
    s3.put_object(Bucket=bucket, Key="suspended", Body=b"s" * 4)

    status = drained_status(cli, timeout=60, bucket=bucket)

    assert (status["total_size"], status["object_count"]) == listing_totals(cli, bucket) == (54, 4)
    assert reconcile_drift(cli) == (0, 0)
    cli("teardown", "--yes")


def test_keys_of_1024_bytes_before_setup_and_after_deploy_are_tracked(stack_cli):
    cli, bucket = stack_cli, f"{stack_cli.stack}-long-keys"
    s3 = cli.aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=LONG_ASCII, Body=b"a" * 11)
    s3.put_object(Bucket=bucket, Key=LONG_UTF8 + "/", Body=b"")  # 1,024 bytes, a folder
    cli("setup", "--bucket", bucket)  # the baseline holds both
    cli("deploy")
    s3.put_object(Bucket=bucket, Key=LONG_UTF8, Body=b"u" * 13)
    s3.put_object(Bucket=bucket, Key=LONG_ASCII, Body=b"a" * 17)
    s3.delete_object(Bucket=bucket, Key=LONG_UTF8 + "/")

    status = drained_status(cli, timeout=60, bucket=bucket)

    assert (status["total_size"], status["object_count"]) == (30, 2)
    assert reconcile_drift(cli) == (0, 0)
    cli("teardown", "--yes")
