"""Careful deletions: a bucket of thousands of versions empties in one pass."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from s3sizer.stack import sweep


# Heavy (7 s): thousands of versions.
@pytest.mark.heavy
def test_a_versioned_bucket_of_thousands_of_versions_and_markers_empties_in_one_call():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="full")
        s3.put_bucket_versioning(Bucket="full", VersioningConfiguration={"Status": "Enabled"})
        for i in range(700):
            key = f"k/{i:04d}"
            s3.put_object(Bucket="full", Key=key, Body=b"a")
            s3.put_object(Bucket="full", Key=key, Body=b"bb")
            s3.delete_object(Bucket="full", Key=key)  # a delete marker: 2,100 entries in all

        sweep.empty_bucket(s3, "full")

        listing = s3.list_object_versions(Bucket="full")
        assert listing.get("Versions", []) == []
        assert listing.get("DeleteMarkers", []) == []
        s3.delete_bucket(Bucket="full")


def test_delete_keys_touches_nothing_but_the_keys_named():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="mixed")
        for key in (".s3sizer/plot.png", ".s3sizer/plot.png.bak", ".s3sizer/mine.txt"):
            s3.put_object(Bucket="mixed", Key=key, Body=b"x")

        sweep.delete_keys(s3, "mixed", [".s3sizer/plot.png"])

        left = [o["Key"] for o in s3.list_objects_v2(Bucket="mixed")["Contents"]]
        assert left == [".s3sizer/mine.txt", ".s3sizer/plot.png.bak"]
