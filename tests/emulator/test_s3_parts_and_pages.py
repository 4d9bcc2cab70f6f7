"""Reading a multipart object part by part (GetObject and HeadObject with PartNumber,
GetObjectAttributes' ObjectParts), conditional writes, ListObjectsV2's ContinuationToken and
FetchOwner, and the stored Content-Encoding, as S3 answers them."""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError

from .in_process_s3 import client, in_process_emulator

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def aws():
    with in_process_emulator() as running:
        yield running


@pytest.fixture
def s3(aws):
    return client(aws, "s3")


def needs_members(s3, operation: str, side: str, *members: str) -> None:
    """Skip where this botocore cannot send (or read) what the test checks: the floor run's
    older client knows no If-Match on PutObject and no Content-Range on HeadObject."""
    model = s3.meta.service_model.operation_model(operation)
    shape = model.input_shape if side == "input" else model.output_shape
    missing = [m for m in members if m not in shape.members]
    if missing:
        pytest.skip(f"this botocore's {operation} {side} has no {', '.join(missing)}")


def error_of(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    response = refused.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_each_part_of_a_multipart_object_reads_with_the_objects_etag(s3):
    needs_members(s3, "HeadObject", "output", "ContentRange")
    s3.create_bucket(Bucket="parts")
    bodies = {1: b"a" * 5 * MIB, 2: b"b" * 5 * MIB, 3: b"c" * 7}
    upload = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
    etags = {
        number: s3.upload_part(
            Bucket="parts", Key="k", UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        for number, body in bodies.items()
    }
    # Part 2 is uploaded but left out of the completion: the object has two parts.
    named = [{"PartNumber": n, "ETag": etags[n]} for n in (1, 3)]
    done = s3.complete_multipart_upload(
        Bucket="parts", Key="k", UploadId=upload, MultipartUpload={"Parts": named}
    )
    offset = 0
    for number, original in ((1, 1), (2, 3)):
        size = len(bodies[original])
        got = s3.get_object(Bucket="parts", Key="k", PartNumber=number)
        head = s3.head_object(Bucket="parts", Key="k", PartNumber=number)
        for answer in (got, head):
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206
            assert (answer["ETag"], answer["PartsCount"]) == (done["ETag"], 2)
            assert answer["ContentLength"] == size
            assert answer["ContentRange"] == f"bytes {offset}-{offset + size - 1}/{5 * MIB + 7}"
        assert got["Body"].read() == bodies[original]
        offset += size
    assert error_of(s3.get_object, Bucket="parts", Key="k", PartNumber=3) == (400, "InvalidPart")
    assert s3.head_object(Bucket="parts", Key="k")["ContentLength"] == 5 * MIB + 7


def test_object_attributes_page_through_the_completed_parts(s3):
    s3.create_bucket(Bucket="attributes")
    upload = s3.create_multipart_upload(Bucket="attributes", Key="k")["UploadId"]
    sizes = {1: 5 * MIB, 2: 5 * MIB, 3: 5 * MIB, 4: 3}
    named = [
        {"PartNumber": n, "ETag": s3.upload_part(
            Bucket="attributes", Key="k", UploadId=upload, PartNumber=n, Body=b"x" * size
        )["ETag"]}
        for n, size in sizes.items()
    ]  # fmt: skip
    del named[1]  # part 2 is left out of the object
    s3.complete_multipart_upload(
        Bucket="attributes", Key="k", UploadId=upload, MultipartUpload={"Parts": named}
    )
    ask = ["ObjectParts", "ObjectSize"]
    whole = s3.get_object_attributes(Bucket="attributes", Key="k", ObjectAttributes=ask)
    assert whole["ObjectSize"] == 10 * MIB + 3
    parts = whole["ObjectParts"]
    assert (parts["TotalPartsCount"], parts["IsTruncated"]) == (3, False)
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [
        (1, 5 * MIB),
        (3, 5 * MIB),
        (4, 3),
    ]
    page = s3.get_object_attributes(
        Bucket="attributes", Key="k", ObjectAttributes=ask, MaxParts=1, PartNumberMarker=1
    )["ObjectParts"]
    assert (page["IsTruncated"], page["NextPartNumberMarker"], page["MaxParts"]) == (True, 3, 1)
    assert [p["PartNumber"] for p in page["Parts"]] == [3]
    s3.put_object(Bucket="attributes", Key="single", Body=b"x")
    single = s3.get_object_attributes(Bucket="attributes", Key="single", ObjectAttributes=ask)
    assert "ObjectParts" not in single


def test_part_one_of_a_single_piece_object_is_the_whole_object(s3):
    s3.create_bucket(Bucket="single")
    etag = s3.put_object(Bucket="single", Key="k", Body=b"body")["ETag"]
    got = s3.get_object(Bucket="single", Key="k", PartNumber=1)
    assert (got["ETag"], got["Body"].read(), got["ContentRange"]) == (etag, b"body", "bytes 0-3/4")
    assert error_of(s3.get_object, Bucket="single", Key="k", PartNumber=2) == (400, "InvalidPart")


def test_a_listing_page_echoes_its_continuation_token_and_owners_only_when_asked(s3):
    s3.create_bucket(Bucket="pages")
    for key in ("a", "b", "c"):
        s3.put_object(Bucket="pages", Key=key, Body=b"x")
    first = s3.list_objects_v2(Bucket="pages", MaxKeys=1)
    assert "ContinuationToken" not in first
    token = first["NextContinuationToken"]
    rest = s3.list_objects_v2(Bucket="pages", ContinuationToken=token, StartAfter="a")
    assert (rest["ContinuationToken"], rest["StartAfter"]) == (token, "a")
    assert [o["Key"] for o in rest["Contents"]] == ["b", "c"]
    unasked = s3.list_objects_v2(Bucket="pages", FetchOwner=False)["Contents"]
    asked = s3.list_objects_v2(Bucket="pages", FetchOwner=True)["Contents"]
    assert not any("Owner" in o for o in unasked)
    assert all("Owner" in o for o in asked)


def complete_one_part(s3, bucket: str, key: str, **conditions) -> dict:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **conditions,
    )  # fmt: skip


@pytest.mark.parametrize("versioning", [None, "Enabled"])
def test_conditional_writes_compare_with_the_current_version(s3, versioning):
    needs_members(s3, "PutObject", "input", "IfMatch")
    needs_members(s3, "CompleteMultipartUpload", "input", "IfMatch", "IfNoneMatch")
    bucket = f"conditional-{versioning or 'plain'}".lower()
    s3.create_bucket(Bucket=bucket)
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning})
    put = lambda **c: s3.put_object(Bucket=bucket, Key="k", Body=b"v", **c)  # noqa: E731
    etag = put(IfNoneMatch="*")["ETag"]
    assert error_of(put, IfNoneMatch="*") == (412, "PreconditionFailed")
    assert error_of(put, IfNoneMatch=etag) == (412, "PreconditionFailed")
    assert error_of(put, IfMatch="other") == (412, "PreconditionFailed")
    put(IfNoneMatch="other")
    put(IfMatch="*")
    etag = complete_one_part(s3, bucket, "k", IfMatch=etag)["ETag"]
    assert error_of(complete_one_part, s3, bucket, "k", IfNoneMatch=etag) == (
        412, "PreconditionFailed",
    )  # fmt: skip
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker on a versioned bucket
    for conditions in ({"IfMatch": "*"}, {"IfMatch": etag}):
        assert error_of(put, **conditions) == (404, "NoSuchKey")
        assert error_of(complete_one_part, s3, bucket, "k", **conditions) == (404, "NoSuchKey")
    put(IfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_a_copy_checks_its_sources_etag(s3):
    s3.create_bucket(Bucket="copies")
    etag = s3.put_object(Bucket="copies", Key="src", Body=b"v")["ETag"]
    copy = lambda **c: s3.copy_object(Bucket="copies", Key="dst", CopySource="copies/src", **c)  # noqa: E731
    assert error_of(copy, CopySourceIfMatch="other") == (412, "PreconditionFailed")
    copy(CopySourceIfMatch=etag)
    assert s3.head_object(Bucket="copies", Key="dst")["ETag"] == etag


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("gzip", "gzip"), ("deflate, gzip", "deflate, gzip"), ("gzip, aws-chunked", "gzip"),
     ("aws-chunked, gzip", "gzip"), ("aws-chunked", None), ("aws-chunked, aws-chunked", None)],
)  # fmt: skip
def test_upload_framing_is_not_stored_as_the_objects_encoding(s3, sent, stored):
    s3.create_bucket(Bucket="encodings")
    s3.put_object(Bucket="encodings", Key="k", Body=b"x", ContentEncoding=sent)
    assert s3.head_object(Bucket="encodings", Key="k").get("ContentEncoding") == stored


def test_an_objects_retention_reads_back_as_set(s3):
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket="locked", Key="k", Body=b"v")
    assert error_of(s3.get_object_retention, Bucket="locked", Key="k") == (
        404, "NoSuchObjectLockConfiguration",
    )  # fmt: skip
    until = datetime.datetime(2140, 1, 1, tzinfo=datetime.UTC)
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    s3.put_object_retention(Bucket="locked", Key="k", Retention=retention)
    assert s3.get_object_retention(Bucket="locked", Key="k")["Retention"] == retention
    s3.create_bucket(Bucket="unlocked")
    s3.put_object(Bucket="unlocked", Key="k", Body=b"v")
    assert error_of(s3.get_object_retention, Bucket="unlocked", Key="k") == (400, "InvalidRequest")


def test_object_lock_configuration_is_checked_as_s3_checks_it(s3):
    def rule(**retention) -> dict:
        return {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}}

    s3.create_bucket(Bucket="lock-later")
    put = s3.put_object_lock_configuration
    assert error_of(
        put, Bucket="lock-later", ObjectLockConfiguration=rule(Mode="GOVERNANCE", Days=1)
    ) == (409, "InvalidBucketState")
    s3.create_bucket(Bucket="lock-now", ObjectLockEnabledForBucket=True)
    for bad, code in (
        (rule(Mode="GOVERNANCE", Days=0), "InvalidRetentionPeriod"),
        (rule(Mode="GOVERNANCE", Years=-1), "InvalidRetentionPeriod"),
        (rule(Mode="governance", Years=1), "MalformedXML"),
        ({**rule(Mode="GOVERNANCE", Years=1), "ObjectLockEnabled": "Disabled"}, "MalformedXML"),
    ):
        assert error_of(put, Bucket="lock-now", ObjectLockConfiguration=bad) == (400, code)
    put(Bucket="lock-now", ObjectLockConfiguration=rule(Mode="GOVERNANCE", Days=1))
    got = s3.get_object_lock_configuration(Bucket="lock-now")["ObjectLockConfiguration"]
    assert got == rule(Mode="GOVERNANCE", Days=1)
    assert error_of(
        s3.put_bucket_versioning, Bucket="lock-now", VersioningConfiguration={"Status": "Suspended"}
    ) == (409, "InvalidBucketState")


def test_a_retained_object_keeps_its_retention_unless_bypassed(s3):
    s3.create_bucket(Bucket="retained", ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket="retained", Key="k", Body=b"v")
    later = datetime.datetime(2140, 1, 3, tzinfo=datetime.UTC)
    sooner = datetime.datetime(2140, 1, 1, tzinfo=datetime.UTC)
    retain = s3.put_object_retention
    bad_mode = {"Mode": "governance", "RetainUntilDate": later}
    assert error_of(retain, Bucket="retained", Key="k", Retention=bad_mode) == (400, "MalformedXML")
    retain(Bucket="retained", Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later})
    for change in ({"Mode": "GOVERNANCE", "RetainUntilDate": sooner},
                   {"Mode": "COMPLIANCE", "RetainUntilDate": later}):  # fmt: skip
        assert error_of(retain, Bucket="retained", Key="k", Retention=change) == (
            403, "AccessDenied",
        )  # fmt: skip
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": sooner}
    retain(Bucket="retained", Key="k", Retention=shorter, BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket="retained", Key="k")["Retention"] == shorter
    hold = s3.put_object_legal_hold
    assert error_of(hold, Bucket="retained", Key="k", LegalHold={"Status": "abc"}) == (
        400, "MalformedXML",
    )  # fmt: skip
    s3.create_bucket(Bucket="unheld")
    s3.put_object(Bucket="unheld", Key="k", Body=b"v")
    assert error_of(s3.get_object_legal_hold, Bucket="unheld", Key="k") == (400, "InvalidRequest")


def test_delete_objects_names_the_version_it_could_not_delete(s3):
    s3.create_bucket(Bucket="kept", ObjectLockEnabledForBucket=True)
    kept = s3.put_object(Bucket="kept", Key="a", Body=b"v")["VersionId"]
    gone = s3.put_object(Bucket="kept", Key="b", Body=b"v")["VersionId"]
    until = datetime.datetime(2140, 1, 1, tzinfo=datetime.UTC)
    s3.put_object_retention(
        Bucket="kept", Key="a", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
    )
    answer = s3.delete_objects(
        Bucket="kept",
        Delete={"Objects": [{"Key": "a", "VersionId": kept}, {"Key": "b", "VersionId": gone}]},
    )
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in answer["Errors"]] == [
        ("a", kept, "AccessDenied")
    ]
    assert [(d["Key"], d["VersionId"]) for d in answer["Deleted"]] == [("b", gone)]
