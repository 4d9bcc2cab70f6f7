"""The session reads timestamps as botocore does, only faster for the ISO form of listings."""

from __future__ import annotations

import pytest
from botocore.utils import parse_timestamp as botocore_parse

from s3sizer.aws import Aws, parse_timestamp
from s3sizer.settings import Settings

FORMS = [
    "2026-12-03T11:00:00.000Z",  # ListObjectsV2's LastModified
    "2026-12-03T11:00:00Z",
    "2026-12-03T11:00:00.123456Z",
    "2026-12-03T11:00:00+00:00",
    "Thu, 03 Dec 2026 11:00:00 GMT",  # a Last-Modified header
    1764759600,  # DynamoDB's and CloudWatch's epoch seconds
    1764759600.25,
]


@pytest.mark.parametrize("value", FORMS)
def test_every_form_reads_as_botocore_reads_it(value):
    ours, theirs = parse_timestamp(value), botocore_parse(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


def test_the_session_reads_listings_with_it(monkeypatch):
    import boto3
    from moto import mock_aws

    import s3sizer.aws

    read = []

    def counting(value):
        read.append(value)
        return parse_timestamp(value)

    monkeypatch.setattr(s3sizer.aws, "parse_timestamp", counting)
    with mock_aws():
        s3 = Aws(Settings(region="us-east-1"), placeholder_credentials=True).client("s3")
        s3.create_bucket(Bucket="timestamps")
        s3.put_object(Bucket="timestamps", Key="k", Body=b"x")
        listed = s3.list_objects_v2(Bucket="timestamps")["Contents"][0]["LastModified"]
        plain = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="timestamps")
    assert read and listed == plain["Contents"][0]["LastModified"]
