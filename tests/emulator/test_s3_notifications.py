"""S3 notifications: asynchronous, retried, and shaped as AWS documents them."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from .helpers import RECORDING_HANDLER, create_function, notify_function, poll, read_records

pytestmark = pytest.mark.emulator

EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def tracked(emulator, tmp_path, request):
    """A bucket whose created and removed objects notify a recording function."""
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    records = tmp_path / "records"
    arn = create_function(emulator, name, RECORDING_HANDLER, env={"RECORD_FILE": str(records)})
    emulator.client("s3").create_bucket(Bucket=name)
    configure(emulator, name, arn)
    return Tracked(emulator, name, arn, records)


class Tracked:
    def __init__(self, emulator, bucket, function_arn, records):
        self.s3 = emulator.client("s3")
        self.bucket, self.function_arn, self.records = bucket, function_arn, records

    def events(self) -> list[dict]:
        return [r["event"] for r in read_records(self.records)]

    def wait_for_records(self, count: int) -> list[dict]:
        """`count` S3 records, in the order of their changes (delivery order may differ, as on AWS)."""

        def enough():
            found = [e["Records"][0] for e in self.events() if "Records" in e]
            return found if len(found) >= count else None

        found = poll(enough)
        assert len(found) == count, found
        return sorted(found, key=lambda record: record["s3"]["object"]["sequencer"])


def configure(emulator, bucket: str, function_arn: str) -> None:
    notify_function(emulator, bucket, function_arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])


def test_a_function_that_does_not_allow_s3_is_refused_as_a_destination(emulator):
    # GIVEN a function whose resource policy does not let S3 invoke it
    arn = create_function(emulator, "notify-refused", RECORDING_HANDLER)
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="notify-refused")
    # WHEN it is configured as the bucket's destination
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket="notify-refused",
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    # THEN S3 refuses it, as AWS does, and keeps no configuration
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in str(refused.value)
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket="notify-refused"
    )


def test_a_test_event_arrives_when_the_configuration_is_written(tracked):
    test_event = poll(lambda: tracked.events())[0]
    assert set(test_event) == {"Service", "Event", "Time", "Bucket", "RequestId", "HostId"}
    assert (test_event["Service"], test_event["Event"]) == ("Amazon S3", "s3:TestEvent")
    assert test_event["Bucket"] == tracked.bucket
    assert EVENT_TIME.match(test_event["Time"])


def test_records_have_the_documented_shape(tracked):
    # GIVEN a key with a slash, spaces, a plus sign and non-ASCII characters
    key = "dir/a b+c ü.txt"
    tracked.s3.put_object(Bucket=tracked.bucket, Key=key, Body=b"hello")
    tracked.s3.delete_object(Bucket=tracked.bucket, Key=key)
    put, delete = tracked.wait_for_records(2)

    assert put["eventVersion"] == "2.1"
    assert put["eventSource"] == "aws:s3"
    assert put["awsRegion"] == "us-east-1"
    assert EVENT_TIME.match(put["eventTime"])
    assert put["eventName"] == "ObjectCreated:Put"
    assert put["userIdentity"]["principalId"]
    assert put["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(put["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3 = put["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "size-tracking"
    assert s3["bucket"]["name"] == tracked.bucket
    assert s3["bucket"]["arn"] == f"arn:aws:s3:::{tracked.bucket}"
    assert s3["bucket"]["ownerIdentity"]["principalId"]
    # The key is URL-encoded as AWS encodes it: slashes kept, spaces as '+'
    assert s3["object"]["key"] == "dir/a+b%2Bc+%C3%BC.txt"
    assert unquote_plus(s3["object"]["key"]) == key
    assert s3["object"]["size"] == 5
    assert s3["object"]["eTag"] == hashlib.md5(b"hello").hexdigest()
    assert "versionId" not in s3["object"]  # the bucket is not versioned

    assert delete["eventName"] == "ObjectRemoved:Delete"
    assert set(delete["s3"]["object"]) == {"key", "sequencer"}  # no size and no eTag


def test_each_change_of_a_key_gets_a_greater_hex_sequencer(tracked):
    for body in (b"one", b"two, longer"):
        tracked.s3.put_object(Bucket=tracked.bucket, Key="k", Body=body)
    tracked.s3.delete_object(Bucket=tracked.bucket, Key="k")
    records = tracked.wait_for_records(3)
    # Delivery order is not guaranteed, as on AWS: order the records by what they describe
    by_name = sorted(
        records, key=lambda r: ("Removed" in r["eventName"], r["s3"]["object"].get("size"))
    )
    sequencers = [r["s3"]["object"]["sequencer"] for r in by_name]
    assert all(re.fullmatch(r"[0-9A-F]{16,}", s) for s in sequencers)
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3


def test_a_put_returns_before_the_function_has_finished(emulator, tmp_path):
    # GIVEN a function that does not finish until the test releases it
    handler = """
import os, time

def handler(event, context):
    if "Records" not in event:
        return
    open(os.environ["STARTED"], "w").close()
    while not os.path.exists(os.environ["RELEASE"]):
        time.sleep(0.02)
"""
    started, release = tmp_path / "started", tmp_path / "release"
    arn = create_function(
        emulator, "notify-async", handler, Timeout=30,
        env={"STARTED": str(started), "RELEASE": str(release)},
    )  # fmt: skip
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="notify-async")
    configure(emulator, "notify-async", arn)
    # WHEN an object is put
    s3.put_object(Bucket="notify-async", Key="k", Body=b"x")
    # THEN the put has returned while the function is still running
    poll(started.exists)
    release.touch()


def test_a_failing_function_gets_the_event_twice_more(emulator, tmp_path):
    handler = """
import json, os

def handler(event, context):
    if "Records" not in event:
        return
    path = os.environ["RECORD_FILE"]
    attempt = 1 + (sum(1 for _ in open(path)) if os.path.exists(path) else 0)
    with open(path, "a") as f:
        f.write(json.dumps({"attempt": attempt, "event": event}) + "\\n")
    if attempt < 3:
        raise RuntimeError("not yet")
"""
    records = tmp_path / "records"
    arn = create_function(emulator, "notify-retry", handler, env={"RECORD_FILE": str(records)})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="notify-retry")
    configure(emulator, "notify-retry", arn)
    s3.put_object(Bucket="notify-retry", Key="k", Body=b"x")
    attempts = poll(lambda: len(read_records(records)) >= 3 and read_records(records))
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert len({str(a["event"]) for a in attempts}) == 1  # the same event each time


def test_copies_multipart_uploads_and_multi_deletes_are_notified_once_each(tracked):
    s3, bucket = tracked.s3, tracked.bucket
    s3.put_object(Bucket=bucket, Key="source", Body=b"abc")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "source"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "source"}, {"Key": "copy"}]})
    s3.delete_object(Bucket=bucket, Key="never-existed")  # AWS notifies this delete too
    records = tracked.wait_for_records(6)
    seen = sorted((r["eventName"], unquote_plus(r["s3"]["object"]["key"])) for r in records)
    assert seen == [
        ("ObjectCreated:CompleteMultipartUpload", "big"),
        ("ObjectCreated:Copy", "copy"),
        ("ObjectCreated:Put", "source"),
        ("ObjectRemoved:Delete", "copy"),
        ("ObjectRemoved:Delete", "never-existed"),
        ("ObjectRemoved:Delete", "source"),
    ]


def test_versioned_buckets_notify_delete_markers_and_version_deletes(tracked):
    s3, bucket = tracked.s3, tracked.bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    records = tracked.wait_for_records(3)
    assert [(r["eventName"], r["s3"]["object"]["versionId"]) for r in records] == [
        ("ObjectCreated:Put", version),
        ("ObjectRemoved:DeleteMarkerCreated", marker),
        ("ObjectRemoved:Delete", version),
    ]
    assert "size" not in records[1]["s3"]["object"] and "eTag" not in records[1]["s3"]["object"]


def test_object_tagging_put_comes_from_put_object_tagging_only(emulator, tmp_path):
    """A put, a copy and a multipart upload set their objects' tags, but S3 notifies only the
    object's creation; PutObjectTagging is what sends s3:ObjectTagging:Put."""
    records = tmp_path / "records"
    arn = create_function(emulator, "tagging", RECORDING_HANDLER, env={"RECORD_FILE": str(records)})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="tagging")
    notify_function(emulator, "tagging", arn, ["s3:ObjectTagging:*"])
    s3.put_object(Bucket="tagging", Key="plain", Body=b"abc", Tagging="team=a")
    s3.copy_object(Bucket="tagging", Key="copy", CopySource={"Bucket": "tagging", "Key": "plain"})
    upload = s3.create_multipart_upload(Bucket="tagging", Key="big")["UploadId"]
    part = s3.upload_part(Bucket="tagging", Key="big", UploadId=upload, PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(
        Bucket="tagging", Key="big", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    s3.put_object_tagging(
        Bucket="tagging", Key="copy", Tagging={"TagSet": [{"Key": "team", "Value": "b"}]}
    )

    def tagged():
        found = [
            e["Records"][0] for e in (r["event"] for r in read_records(records)) if "Records" in e
        ]
        return found or None

    found = poll(tagged)
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in found] == [
        ("ObjectTagging:Put", "copy")
    ]


def test_filter_rule_names_are_read_in_any_case_and_others_are_refused(emulator, tmp_path):
    """S3 takes "Prefix" as "prefix"; a name that is neither is InvalidArgument, not a 500."""
    records = tmp_path / "records"
    arn = create_function(emulator, "rules", RECORDING_HANDLER, env={"RECORD_FILE": str(records)})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="rules")
    notify_function(emulator, "rules", arn, ["s3:ObjectCreated:*"])

    def entry(name: str) -> dict:
        rules = [{"Name": name, "Value": "logs/"}, {"Name": "Suffix", "Value": ".gz"}]
        return {"Id": "filtered", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": rules}}}  # fmt: skip

    s3.put_bucket_notification_configuration(
        Bucket="rules",
        NotificationConfiguration={"LambdaFunctionConfigurations": [entry("Prefix")]},
    )
    s3.put_object(Bucket="rules", Key="other/a.gz", Body=b"1")
    s3.put_object(Bucket="rules", Key="logs/a.gz", Body=b"1")

    def created():
        found = [
            e["Records"][0] for e in (r["event"] for r in read_records(records)) if "Records" in e
        ]
        return found or None

    assert [r["s3"]["object"]["key"] for r in poll(created)] == ["logs/a.gz"]
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket="rules",
            NotificationConfiguration={"LambdaFunctionConfigurations": [entry("Middle")]},
        )
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidArgument", 400
    )  # fmt: skip
