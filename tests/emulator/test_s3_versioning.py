"""Versioning as S3 does it: suspended versioning's null versions and null delete markers, delete
markers for keys that never existed, deletes of one version, and reads of a deleted key."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from .in_process_s3 import NotifiedBucket, client, in_process_emulator

DELETE, MARKER, PUT = (
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "ObjectCreated:Put",
)


@pytest.fixture(scope="module")
def aws():
    with in_process_emulator() as running:
        yield running


def test_a_delete_under_suspension_adds_a_null_marker_and_keeps_the_other_versions(aws):
    # GIVEN a version written while versioning was on, then a null version once suspended
    bucket = NotifiedBucket(aws, "suspended-delete", versioning="Enabled")
    first = bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"7 bytes")["VersionId"]
    bucket.version("Suspended")
    bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"null")
    # WHEN the key is deleted without a version id
    response = bucket.s3.delete_object(Bucket=bucket.name, Key="k")
    # THEN a null delete marker replaces the null version, and the earlier version stays
    assert (response["DeleteMarker"], response["VersionId"]) == (True, "null")
    assert bucket.versions() == [("marker", "k", "null", True, None),
                                 ("version", "k", first, False, 7)]  # fmt: skip
    assert "Contents" not in bucket.s3.list_objects_v2(Bucket=bucket.name)
    assert bucket.events() == [(PUT, "k", first), (PUT, "k", "null"), (MARKER, "k", "null")]


def test_a_put_under_suspension_replaces_only_the_null_version(aws):
    bucket = NotifiedBucket(aws, "suspended-put", versioning="Enabled")
    first = bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"1")["VersionId"]
    bucket.version("Suspended")
    bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"333")
    bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"4444")
    assert bucket.versions() == [("version", "k", "null", True, 4),
                                 ("version", "k", first, False, 1)]  # fmt: skip
    assert bucket.s3.get_object(Bucket=bucket.name, Key="k", VersionId=first)["Body"].read() == b"1"
    assert bucket.events() == [(PUT, "k", first), (PUT, "k", "null"), (PUT, "k", "null")]


def test_a_delete_of_one_version_under_suspension_removes_it_alone_and_names_it(aws):
    # GIVEN `a` (21 bytes) written with versioning on, and a null version after suspension
    bucket = NotifiedBucket(aws, "suspended-version-delete", versioning="Enabled")
    first = bucket.s3.put_object(Bucket=bucket.name, Key="a", Body=b"x" * 21)["VersionId"]
    bucket.version("Suspended")
    bucket.s3.put_object(Bucket=bucket.name, Key="a", Body=b"null")
    # WHEN the first version is deleted by its id
    response = bucket.s3.delete_object(Bucket=bucket.name, Key="a", VersionId=first)
    # THEN only it goes, and its event names it
    assert response["VersionId"] == first and "DeleteMarker" not in response
    assert bucket.versions() == [("version", "a", "null", True, 4)]
    assert bucket.events()[-1] == (DELETE, "a", first)
    # AND a head of it by its version id works under suspension, until the null one goes too
    assert (
        bucket.s3.head_object(Bucket=bucket.name, Key="a", VersionId="null")["ContentLength"] == 4
    )
    bucket.s3.delete_object(Bucket=bucket.name, Key="a", VersionId="null")
    assert bucket.versions() == []
    assert bucket.events() == [(DELETE, "a", "null")]


def test_a_delete_over_a_delete_marker_under_suspension_replaces_it(aws):
    bucket = NotifiedBucket(aws, "suspended-twice", versioning="Enabled")
    first = bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"v")["VersionId"]
    bucket.version("Suspended")
    for _ in range(2):  # the second delete meets the null marker of the first
        response = bucket.s3.delete_object(Bucket=bucket.name, Key="k")
        assert (response["DeleteMarker"], response["VersionId"]) == (True, "null")
    assert bucket.versions() == [("marker", "k", "null", True, None),
                                 ("version", "k", first, False, 1)]  # fmt: skip
    # Removing the marker by its version id brings the earlier version back, as on S3
    response = bucket.s3.delete_object(Bucket=bucket.name, Key="k", VersionId="null")
    assert response["DeleteMarker"] is True
    assert bucket.s3.get_object(Bucket=bucket.name, Key="k")["Body"].read() == b"v"
    assert bucket.events() == [(PUT, "k", first), (MARKER, "k", "null"), (MARKER, "k", "null"),
                               (DELETE, "k", "null")]  # fmt: skip


def test_deleting_a_key_that_never_existed_in_a_versioned_bucket_writes_a_marker(aws):
    bucket = NotifiedBucket(aws, "enabled-absent", versioning="Enabled")
    response = bucket.s3.delete_object(Bucket=bucket.name, Key="never")
    marker = response["VersionId"]
    assert response["DeleteMarker"] is True and marker not in (None, "null")
    assert bucket.versions() == [("marker", "never", marker, True, None)]
    assert bucket.events() == [(MARKER, "never", marker)]


def test_reads_of_a_key_whose_current_version_is_a_marker_name_the_marker(aws):
    bucket = NotifiedBucket(aws, "marker-reads", versioning="Enabled")
    bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=b"v")
    marker = bucket.s3.delete_object(Bucket=bucket.name, Key="k")["VersionId"]
    for read in (bucket.s3.head_object, bucket.s3.get_object):
        with pytest.raises(ClientError) as missing:
            read(Bucket=bucket.name, Key="k")
        headers = missing.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert (headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == ("true", marker)
    # The marker itself, named by its version id, is not an object: 405 with its Last-Modified
    for read in (bucket.s3.head_object, bucket.s3.get_object):
        with pytest.raises(ClientError) as refused:
            read(Bucket=bucket.name, Key="k", VersionId=marker)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
        assert "last-modified" in refused.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert refused.value.response["Error"]["Code"] == "MethodNotAllowed"
    # A key with neither object nor marker says so (as ceph/s3-tests expects of S3)
    with pytest.raises(ClientError) as missing:
        bucket.s3.head_object(Bucket=bucket.name, Key="never")
    assert missing.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == (
        "false"
    )


def _looked_up_then_replaced(aws, name: str, then) -> tuple:
    """A copy's source as moto finds it before the write lock, then a write of the source that
    lands first (the race of two clients), then the copy."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = NotifiedBucket(aws, name)
    bucket.s3.put_object(Bucket=name, Key="src", Body=b"old")
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    found = backend.get_object(name, "src")
    then(bucket)
    return bucket, backend, found


def test_a_copy_whose_source_was_overwritten_meanwhile_copies_it_as_it_now_stands(aws):
    def overwrite(bucket):
        bucket.s3.put_object(Bucket=bucket.name, Key="src", Body=b"newer")

    bucket, backend, found = _looked_up_then_replaced(aws, "copy-race", overwrite)

    backend.copy_object(found, bucket.name, "dst")

    assert bucket.s3.get_object(Bucket=bucket.name, Key="dst")["Body"].read() == b"newer"


def test_a_copy_whose_source_was_deleted_meanwhile_is_no_such_key(aws):
    from moto.s3.exceptions import MissingKey

    def delete(bucket):
        bucket.s3.delete_object(Bucket=bucket.name, Key="src")

    bucket, backend, found = _looked_up_then_replaced(aws, "copy-race-gone", delete)

    with pytest.raises(MissingKey):
        backend.copy_object(found, bucket.name, "dst")
    assert "Contents" not in bucket.s3.list_objects_v2(Bucket=bucket.name)


def test_a_put_s_etag_is_known_before_another_put_of_the_key_disposes_of_its_body(aws):
    """The response of a PUT reads its ETag after the write lock; a second PUT of the same key
    may dispose of the first one's body by then (a bucket with no notification, which would
    have read the ETag in time)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    client(aws, "s3").create_bucket(Bucket="etag-race")
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    first = backend.put_object("etag-race", "k", b"first body")
    backend.put_object("etag-race", "k", b"second")

    assert first.etag == f'"{hashlib.md5(b"first body").hexdigest()}"'
