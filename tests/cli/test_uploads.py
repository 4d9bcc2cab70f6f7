"""`--uploads-every` and `status --refresh-uploads` through the CLI, against moto in-process."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.checks import one_clean_error_line
from tests.cli.conftest import DEFAULT_BUCKET, inventory

MiB = 2**20


@pytest.mark.parametrize(
    ("value", "says"),
    [("30s", "under 1 minute"), ("0.5m", "under 1 minute"), ("90s", "whole minutes"),
     ("-1m", "negative"), ("soon", "not a duration")],
)  # fmt: skip
def test_a_poll_interval_aws_cannot_schedule_is_refused_before_any_call(cli, aws, value, says):
    result = cli("setup", "--uploads-every", value, code=2)

    assert says in one_clean_error_line(result)
    assert all(not names for names in inventory().values())
    assert says in one_clean_error_line(cli("deploy", "--uploads-every", value, code=2))


def test_refresh_uploads_polls_now_and_status_shows_it(cli, aws):
    cli("setup")
    s3 = boto3.client("s3")
    upload = s3.create_multipart_upload(Bucket=DEFAULT_BUCKET, Key="big.bin")["UploadId"]
    for number in (1, 2):
        s3.upload_part(
            Bucket=DEFAULT_BUCKET, Key="big.bin", UploadId=upload, PartNumber=number,
            Body=b"x" * (5 * MiB),
        )  # fmt: skip
    before = json.loads(cli("status", "--json").stdout)["storage"]["incomplete_uploads"]
    assert (before["uploads"], before["checked_at"]) == (0, None)
    assert "not polled yet" in cli("status").stdout

    got = json.loads(cli("status", "--refresh-uploads", "--json").stdout)

    found = got["storage"]["incomplete_uploads"]
    assert (found["bytes"], found["uploads"]) == (10 * MiB, 1)
    assert found["checked_at"] is not None and found["oldest"] is not None
    assert got["storage"]["billable_bytes"] == 10 * MiB
    text = cli("status").stdout
    assert f"uploads      polled {found['checked_at']}; the oldest started" in text


def test_refresh_uploads_goes_without_by_prefix(cli, aws):
    cli("setup")

    result = cli("status", "--by-prefix", "--refresh-uploads", code=2)

    assert "--refresh-uploads" in one_clean_error_line(result)


def test_refresh_uploads_of_a_bucket_deleted_since_names_untrack_not_credentials(cli, aws):
    cli("setup")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="since-deleted")
    cli("track", "since-deleted")
    s3.delete_bucket(Bucket="since-deleted")

    result = cli("status", "--refresh-uploads", "--bucket", "since-deleted", code=1)

    line = one_clean_error_line(result)
    assert "since-deleted no longer exists" in line
    assert "s3sizer untrack since-deleted" in line
    assert "credentials" not in line
