"""S3 lifecycle rules on the emulator: each kind of rule, its filters, and the events S3 sends.

One in-process emulator with real days; each test advances the lifecycle clock with
`run_lifecycle(days=N)`, which runs every bucket's rules as of N days from now. A rule of `Days: 1`
is due at the first midnight UTC a whole day after the object's time, so 2 days always reach it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest

from s3sizer.emulator import Emulator

from .lifecycle_helpers import Bucket, midnight_in, summary

DELETE, MARKER = "LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated"


@pytest.fixture(scope="module")
def aws():
    with Emulator(port=0, retry_backoff=0.01) as running:
        yield running


def rule(rule_id: str, *, status: str = "Enabled", prefix: str = "", **actions) -> dict:
    return {"ID": rule_id, "Status": status, "Filter": {"Prefix": prefix}, **actions}


def test_current_objects_of_an_unversioned_bucket_expire_after_their_days(aws):
    bucket = Bucket(aws, "lc-unversioned")
    bucket.put("tmp/a b+c.txt", 5)
    bucket.put("keep/a", 7)
    bucket.rules(rule("tmp", prefix="tmp/", Expiration={"Days": 1}))

    aws.run_lifecycle(days=0)
    aws.run_lifecycle(days=1)  # not yet: Days round up to the next midnight UTC
    assert bucket.keys() == ["keep/a", "tmp/a b+c.txt"]

    aws.run_lifecycle(days=2)

    assert bucket.keys() == ["keep/a"]
    [record] = bucket.records()
    assert record["eventName"] == DELETE
    assert record["eventVersion"] == "2.3"
    assert record["userIdentity"] == {"principalId": "s3.amazonaws.com"}
    assert record["requestParameters"] == {"sourceIPAddress": "s3.amazonaws.com"}
    # A removal carries no size nor eTag; an unversioned bucket's no versionId.
    assert set(record["s3"]["object"]) == {"key", "sequencer"}
    assert record["s3"]["object"]["key"] == "tmp/a+b%2Bc.txt"


def test_a_date_expires_every_matching_object_once_it_has_passed(aws):
    bucket = Bucket(aws, "lc-date")
    bucket.put("old/a", 1)
    bucket.put("later/a", 1)
    bucket.rules(
        rule("past", prefix="old/", Expiration={"Date": midnight_in(-3)}),
        rule("future", prefix="later/", Expiration={"Date": midnight_in(10)}),
    )

    aws.run_lifecycle(days=0)
    assert bucket.keys() == ["later/a"]
    aws.run_lifecycle(days=10)
    assert bucket.keys() == []
    assert summary(bucket.records()) == [(DELETE, "old/a", None), (DELETE, "later/a", None)]


def test_a_versioned_bucket_gets_a_delete_marker_and_eventbridge_is_told(aws):
    bucket = Bucket(aws, "lc-versioned", versioning="Enabled", eventbridge=True)
    version = bucket.put("logs/a", 9)
    bucket.rules(rule("logs", prefix="logs/", Expiration={"Days": 1}))

    aws.run_lifecycle(days=2)

    assert bucket.keys() == []
    [(_, marker, _)] = [v for v in bucket.versions() if v[2]]
    assert ("logs/a", version, False) in bucket.versions()
    assert summary(bucket.records()) == [(MARKER, "logs/a", marker)]
    [event] = bucket.eventbridge_events()
    assert (event["detail-type"], event["source"]) == ("Object Deleted", "aws.s3")
    detail = event["detail"]
    assert detail["reason"] == "Lifecycle Expiration"
    assert detail["deletion-type"] == "Delete Marker Created"
    assert detail["requester"] == "s3.amazonaws.com"
    assert "source-ip-address" not in detail  # no request caused it
    assert detail["object"]["version-id"] == marker
    assert detail["object"]["etag"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert "size" not in detail["object"]

    aws.run_lifecycle(days=4)  # a marker over a version is never expired
    assert [v for v in bucket.versions() if v[2]] == [("logs/a", marker, True)]


def test_noncurrent_versions_expire_keeping_the_newest_ones_asked_for(aws):
    bucket = Bucket(aws, "lc-noncurrent", versioning="Enabled", eventbridge=True)
    first, second, third, current = (bucket.put("k", size) for size in (1, 2, 3, 4))
    bucket.rules(
        rule("old", NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1})
    )

    aws.run_lifecycle(days=2)

    assert sorted(v[1] for v in bucket.versions()) == sorted([third, current])
    assert summary(bucket.records()) == [(DELETE, "k", first), (DELETE, "k", second)]
    events = bucket.eventbridge_events()
    assert [e["detail"]["deletion-type"] for e in events] == ["Permanently Deleted"] * 2
    assert [e["detail"]["object"]["version-id"] for e in events] == [first, second]


def test_a_delete_marker_left_alone_is_removed(aws):
    bucket = Bucket(aws, "lc-markers", versioning="Enabled")
    version = bucket.put("gone", 3)
    bucket.s3.delete_object(Bucket=bucket.name, Key="gone")  # a marker over the version
    bucket.put("still", 3)
    bucket.s3.delete_object(Bucket=bucket.name, Key="still")
    bucket.rules(rule("markers", Expiration={"ExpiredObjectDeleteMarker": True}))
    aws.run_lifecycle(days=0)
    assert len(bucket.versions()) == 4  # markers with versions under them stay

    bucket.s3.delete_object(Bucket=bucket.name, Key="gone", VersionId=version)
    [marker] = [v[1] for v in bucket.versions() if v[0] == "gone"]
    bucket.records()  # what the client's own delete sent
    aws.run_lifecycle(days=0)

    assert [v[0] for v in bucket.versions()] == ["still", "still"]
    assert summary(bucket.records())[-1] == (DELETE, "gone", marker)


def test_expiration_days_also_remove_old_enough_lone_delete_markers(aws):
    bucket = Bucket(aws, "lc-days-markers", versioning="Enabled")
    version = bucket.put("k", 1)
    bucket.s3.delete_object(Bucket=bucket.name, Key="k")
    bucket.s3.delete_object(Bucket=bucket.name, Key="k", VersionId=version)
    bucket.rules(rule("days", Expiration={"Days": 3}))

    aws.run_lifecycle(days=1)
    assert len(bucket.versions()) == 1
    aws.run_lifecycle(days=4)
    assert bucket.versions() == []


def test_a_suspended_bucket_gets_a_null_delete_marker(aws):
    bucket = Bucket(aws, "lc-suspended", versioning="Enabled")
    kept = bucket.put("k", 2)
    bucket.s3.put_bucket_versioning(
        Bucket=bucket.name, VersioningConfiguration={"Status": "Suspended"}
    )
    bucket.rules(rule("all", Expiration={"Days": 1}))

    aws.run_lifecycle(days=2)

    assert bucket.keys() == []
    assert sorted(bucket.versions()) == [("k", kept, False), ("k", "null", True)]
    assert summary(bucket.records()) == [(MARKER, "k", "null")]


def test_unfinished_uploads_are_aborted_without_an_event(aws):
    bucket = Bucket(aws, "lc-uploads")
    s3 = bucket.s3
    stale = s3.create_multipart_upload(Bucket=bucket.name, Key="up/big")["UploadId"]
    other = s3.create_multipart_upload(Bucket=bucket.name, Key="elsewhere/big")["UploadId"]
    s3.upload_part(Bucket=bucket.name, Key="up/big", UploadId=stale, PartNumber=1, Body=b"p" * 10)
    bucket.rules(
        rule("abort", prefix="up/", AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})
    )

    aws.run_lifecycle(days=1)
    assert len(s3.list_multipart_uploads(Bucket=bucket.name)["Uploads"]) == 2
    aws.run_lifecycle(days=2)

    uploads = s3.list_multipart_uploads(Bucket=bucket.name)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [other]
    assert bucket.records() == []


def test_filters_on_tags_sizes_and_both_select_objects(aws):
    bucket = Bucket(aws, "lc-filters")
    bucket.put("t/tagged", 1, Tagging="class=scratch&team=a")
    bucket.put("t/other-tag", 10, Tagging="class=keep")
    bucket.put("big", 100)
    bucket.put("small", 2)
    bucket.put("mid", 50)
    bucket.put("and/big-tagged", 80, Tagging="class=scratch")
    bucket.put("and/small-tagged", 5, Tagging="class=scratch")
    expire = {"Expiration": {"Days": 1}}
    bucket.rules(
        {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "class", "Value": "scratch"}}}
        | {"Expiration": {"Days": 1}},
        {"ID": "big", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 99}} | expire,
        {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 3}} | expire,
    )
    aws.run_lifecycle(days=2)
    assert bucket.keys() == ["mid", "t/other-tag"]

    bucket.put("and/big-tagged", 80, Tagging="class=scratch")
    bucket.put("and/small-tagged", 5, Tagging="class=scratch")
    bucket.put("and/big-untagged", 80)
    bucket.rules(
        {
            "ID": "and",
            "Status": "Enabled",
            "Filter": {
                "And": {
                    "Prefix": "and/",
                    "Tags": [{"Key": "class", "Value": "scratch"}],
                    "ObjectSizeGreaterThan": 10,
                    "ObjectSizeLessThan": 1000,
                }
            },
        }
        | expire
    )
    aws.run_lifecycle(days=2)
    assert bucket.keys() == ["and/big-untagged", "and/small-tagged", "mid", "t/other-tag"]


def test_disabled_rules_and_deleted_configurations_do_nothing(aws):
    bucket = Bucket(aws, "lc-disabled")
    bucket.put("a", 1)
    bucket.rules(rule("off", status="Disabled", Expiration={"Days": 1}))
    aws.run_lifecycle(days=30)
    assert bucket.keys() == ["a"]

    bucket.rules(rule("on", Expiration={"Days": 1}))
    bucket.s3.delete_bucket_lifecycle(Bucket=bucket.name)
    aws.run_lifecycle(days=30)
    assert bucket.keys() == ["a"]
    assert bucket.records() == []


def test_days_below_one_are_refused_as_s3_refuses_them(aws):
    from botocore.exceptions import ClientError

    bucket = Bucket(aws, "lc-days-zero")
    for action, field in (
        ("Expiration", "Days"),
        ("NoncurrentVersionExpiration", "NoncurrentDays"),
        ("AbortIncompleteMultipartUpload", "DaysAfterInitiation"),
    ):
        with pytest.raises(ClientError) as refused:
            bucket.rules(rule("zero", **{action: {field: 0}}))
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidArgument"
        assert error["Message"] == f"'{field}' for {action} action must be a positive integer"


@pytest.mark.parametrize(
    ("rules", "code", "message"),
    [
        ([rule("a" * 256, Expiration={"Days": 1})], "InvalidArgument", "ID length should not"),
        ([rule("twice", prefix=p, Expiration={"Days": 1}) for p in "ab"], "InvalidArgument",
         "Rule ID must be unique"),
        ([rule("noon", Expiration={"Date": "2030-01-01T12:00:00Z"})], "InvalidArgument",
         "'Date' must be at midnight GMT"),
        ([rule("lower", status="enabled", Expiration={"Days": 1})], "MalformedXML", ""),
    ],
    ids=["long-id", "same-id", "date-not-midnight", "status"],
)  # fmt: skip
def test_rules_s3_refuses_are_refused(aws, rules, code, message):
    from botocore.exceptions import ClientError

    bucket = Bucket(aws, f"lc-refused-{code.lower()}-{len(message)}")
    with pytest.raises(ClientError) as refused:
        bucket.rules(*rules)
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["Error"]["Message"].startswith(message)


def test_rules_without_an_id_get_one_each(aws):
    bucket = Bucket(aws, "lc-no-id")
    bucket.s3.put_bucket_lifecycle_configuration(
        Bucket=bucket.name,
        LifecycleConfiguration={
            "Rules": [
                {"Status": "Enabled", "Prefix": prefix, "Expiration": {"Days": 1}}
                for prefix in ("x/", "y/")
            ]
        },
    )
    stored = bucket.s3.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"]
    assert len({rule["ID"] for rule in stored if rule["ID"]}) == 2


def test_objects_a_rule_will_expire_carry_the_expiration_header(aws):
    bucket = Bucket(aws, "lc-header", versioning="Enabled")
    bucket.rules(rule("week", prefix="logs/", Expiration={"Days": 7}))
    old = bucket.put("logs/a", 1)
    put = bucket.s3.put_object(Bucket=bucket.name, Key="logs/a", Body=b"x")
    head = bucket.s3.head_object(Bucket=bucket.name, Key="logs/a")
    got = bucket.s3.get_object(Bucket=bucket.name, Key="logs/a")

    header = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    match = re.fullmatch(r'expiry-date="(.+)", rule-id="week"', header)
    due = parsedate_to_datetime(match.group(1))
    written = head["LastModified"]
    assert (due.hour, due.minute, due.second) == (0, 0, 0)  # a midnight UTC
    assert timedelta(days=7) <= due - written < timedelta(days=8)
    assert head["Expiration"] == got["Expiration"] == header
    noncurrent = bucket.s3.head_object(Bucket=bucket.name, Key="logs/a", VersionId=old)
    assert "Expiration" not in noncurrent
    bucket.put("other", 1)
    assert "Expiration" not in bucket.s3.head_object(Bucket=bucket.name, Key="other")
