"""The tracker's one question to S3 about a late create: which versions of a key it holds."""

from __future__ import annotations

import boto3

from s3sizer.lambdas.late_creates import version_lister


def test_the_lister_names_every_version_and_marker_of_the_key_and_no_other_keys(aws):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="late-creates")
    s3.put_bucket_versioning(Bucket="late-creates", VersioningConfiguration={"Status": "Enabled"})
    key = "p3/k 3+6%é"
    ids = {
        s3.put_object(Bucket="late-creates", Key=key, Body=b"x" * i)["VersionId"] for i in range(3)
    }
    ids.add(s3.delete_object(Bucket="late-creates", Key=key)["VersionId"])  # a delete marker
    gone = s3.put_object(Bucket="late-creates", Key=key, Body=b"y")["VersionId"]
    s3.delete_object(Bucket="late-creates", Key=key, VersionId=gone)
    for other in (key + "/child", key + "z", "p3/k"):  # sharing its beginning, before and after
        s3.put_object(Bucket="late-creates", Key=other, Body=b"z")
    assert version_lister(s3)("late-creates", key) == ids
    assert version_lister(s3)("late-creates", "p3/missing") == set()


def test_the_lister_reads_on_past_a_page_full_of_the_key(aws):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="late-creates")
    s3.put_bucket_versioning(Bucket="late-creates", VersioningConfiguration={"Status": "Enabled"})
    ids = {
        s3.put_object(Bucket="late-creates", Key="hot", Body=b"")["VersionId"] for _ in range(23)
    }
    s3.put_object(Bucket="late-creates", Key="hotter", Body=b"")
    # Pages of 10 (S3's are of 1,000): the key fills two, and the third passes it.
    assert version_lister(s3, page_size=10)("late-creates", "hot") == ids
