"""Listings and keys as S3 has them: ListObjectVersions' order and paging, URL-encoded listings of
keys with control characters, ListObjects' MaxKeys, long keys, Content-MD5 and multipart
completion."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from .in_process_s3 import client, in_process_emulator

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def aws():
    with in_process_emulator() as running:
        yield running


@pytest.fixture
def s3(aws):
    return client(aws, "s3")


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    response = refused.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_versions_and_delete_markers_are_listed_interleaved_newest_first(s3):
    s3.create_bucket(Bucket="interleaved")
    s3.put_bucket_versioning(Bucket="interleaved", VersioningConfiguration={"Status": "Enabled"})
    order = []
    for _ in range(2):
        order.append(s3.put_object(Bucket="interleaved", Key="k", Body=b"v")["VersionId"])
        order.append(s3.delete_object(Bucket="interleaved", Key="k")["VersionId"])
    raw = []
    s3.meta.events.register(
        "after-call.s3.ListObjectVersions",
        lambda http_response, **_: raw.append(http_response.content),
    )
    s3.list_object_versions(Bucket="interleaved")
    entries = [e for e in ET.fromstring(raw[0]) if e.tag in (NS + "Version", NS + "DeleteMarker")]
    listed = [(e.tag.removeprefix(NS), e.findtext(NS + "VersionId")) for e in entries]
    kinds = ["Version", "DeleteMarker"] * 2
    assert listed == list(zip(kinds, order, strict=True))[::-1]
    assert [e.findtext(NS + "IsLatest") for e in entries] == ["true", "false", "false", "false"]


def test_paging_versions_continues_after_a_marker_version_deleted_meanwhile(s3):
    s3.create_bucket(Bucket="paging")
    s3.put_bucket_versioning(Bucket="paging", VersioningConfiguration={"Status": "Enabled"})
    written = {key: [s3.put_object(Bucket="paging", Key=key, Body=b"x")["VersionId"]
                     for _ in range(count)]
               for key, count in (("a", 3), ("b", 2), ("c", 1))}  # fmt: skip
    first = s3.list_object_versions(Bucket="paging", MaxKeys=2)
    assert first["IsTruncated"] and first["NextKeyMarker"] == "a"
    marker = first["NextVersionIdMarker"]
    assert marker == written["a"][1]  # newest first: a's third version, then its second
    # WHEN the version named by the page marker is deleted before the next page is asked for
    s3.delete_object(Bucket="paging", Key="a", VersionId=marker)
    rest, page = [], {"IsTruncated": True, "NextKeyMarker": "a", "NextVersionIdMarker": marker}
    while page["IsTruncated"]:
        page = s3.list_object_versions(
            Bucket="paging", MaxKeys=2, KeyMarker=page["NextKeyMarker"],
            VersionIdMarker=page["NextVersionIdMarker"],
        )  # fmt: skip
        rest += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    # THEN the listing goes on with the versions after it, and skips none of the bucket
    assert rest == [("a", written["a"][0]), *(("b", v) for v in written["b"][::-1]),
                    ("c", written["c"][0])]  # fmt: skip


CONTROL_KEYS = ["a\x01b", "bell\x07", "line\nbreak", "dir\x01/inside", "plus+ space"]


def test_keys_with_control_characters_are_stored_and_listed_url_encoded(s3):
    s3.create_bucket(Bucket="control-keys")
    s3.put_bucket_versioning(Bucket="control-keys", VersioningConfiguration={"Status": "Enabled"})
    for key in CONTROL_KEYS:
        s3.put_object(Bucket="control-keys", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="control-keys", Key="line\nbreak")["Body"].read() == b"line\nbreak"
    flat = sorted(k for k in CONTROL_KEYS if "/" not in k)
    v2 = s3.list_objects_v2(Bucket="control-keys")
    assert [o["Key"] for o in v2["Contents"]] == sorted(CONTROL_KEYS)
    versions = s3.list_object_versions(Bucket="control-keys")
    assert [v["Key"] for v in versions["Versions"]] == sorted(CONTROL_KEYS)
    for listing in (
        s3.list_objects(Bucket="control-keys", Delimiter="/"),
        s3.list_object_versions(Bucket="control-keys", Delimiter="/"),
    ):
        listed = listing.get("Contents", listing.get("Versions"))
        assert [o["Key"] for o in listed] == flat
        assert listing["CommonPrefixes"] == [{"Prefix": "dir\x01/"}]
    assert s3.list_objects(Bucket="control-keys", Prefix="\n")["Prefix"] == "\n"  # as sent
    after = s3.list_objects_v2(Bucket="control-keys", StartAfter="a\x01b", Delimiter="\x07")
    assert (after["StartAfter"], after["Delimiter"]) == ("a\x01b", "\x07")
    assert after["CommonPrefixes"] == [{"Prefix": "bell\x07"}]
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket="control-keys", PaginationConfig={"PageSize": 2}
    )
    assert [v["Key"] for page in pages for v in page["Versions"]] == sorted(CONTROL_KEYS)


def test_list_objects_v1_counts_common_prefixes_against_max_keys(s3):
    s3.create_bucket(Bucket="v1-max-keys")
    for key in ("a/1", "a/2", "b/1", "c", "d"):
        s3.put_object(Bucket="v1-max-keys", Key=key, Body=b"")
    first = s3.list_objects(Bucket="v1-max-keys", Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/", "b/"]
    assert "Contents" not in first and first["IsTruncated"] and first["NextMarker"] == "b/"
    rest = s3.list_objects(Bucket="v1-max-keys", Delimiter="/", MaxKeys=2, Marker="b/")
    assert [o["Key"] for o in rest["Contents"]] == ["c", "d"] and not rest["IsTruncated"]


def test_keys_over_1024_bytes_are_refused_as_s3_does(s3):
    s3.create_bucket(Bucket="long-keys")
    s3.put_object(Bucket="long-keys", Key="s", Body=b"")
    too_long = "é" * 512 + "x"  # 1,025 bytes in UTF-8, 513 characters
    for call, kwargs in (
        (s3.put_object, {"Body": b""}),
        (s3.copy_object, {"CopySource": {"Bucket": "long-keys", "Key": "s"}}),
        (s3.create_multipart_upload, {}),
    ):
        assert error_of(call, Bucket="long-keys", Key=too_long, **kwargs) == (
            400,
            "KeyTooLongError",
        )
    s3.put_object(Bucket="long-keys", Key="é" * 512, Body=b"")  # 1,024 bytes: accepted
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="long-keys")["Contents"]]
    assert sorted(keys) == ["s", "é" * 512]


def test_a_put_whose_content_md5_does_not_match_is_refused_and_stores_nothing(s3):
    s3.create_bucket(Bucket="bad-digest")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    refused = error_of(s3.put_object, Bucket="bad-digest", Key="k", Body=b"abc", ContentMD5=wrong)
    assert refused == (400, "BadDigest")
    assert error_of(s3.head_object, Bucket="bad-digest", Key="k")[0] == 404
    right = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    s3.put_object(Bucket="bad-digest", Key="k", Body=b"abc", ContentMD5=right)


def test_multipart_completion_answers_as_s3_does(s3):
    s3.create_bucket(Bucket="multipart")
    upload = s3.create_multipart_upload(Bucket="multipart", Key="m")["UploadId"]
    part = s3.upload_part(Bucket="multipart", Key="m", UploadId=upload, PartNumber=1, Body=b"p")
    assert error_of(
        s3.complete_multipart_upload, Bucket="multipart", Key="m", UploadId=upload,
        MultipartUpload={"Parts": []},
    ) == (400, "MalformedXML")  # fmt: skip
    assert error_of(
        s3.complete_multipart_upload, Bucket="multipart", Key="m", UploadId="no-such-upload",
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    ) == (404, "NoSuchUpload")  # fmt: skip
    done = s3.complete_multipart_upload(
        Bucket="multipart", Key="m", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert "VersionId" not in done  # the bucket was never versioned
    # Nor under suspended versioning, where the object is the key's null version
    s3.put_bucket_versioning(Bucket="multipart", VersioningConfiguration={"Status": "Suspended"})
    upload = s3.create_multipart_upload(Bucket="multipart", Key="m")["UploadId"]
    part = s3.upload_part(Bucket="multipart", Key="m", UploadId=upload, PartNumber=1, Body=b"p")
    done = s3.complete_multipart_upload(
        Bucket="multipart", Key="m", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert "VersionId" not in done
    assert s3.head_object(Bucket="multipart", Key="m", VersionId="null")["ContentLength"] == 1


def test_requests_out_of_s3s_bounds_are_refused_as_s3_does(s3):
    s3.create_bucket(Bucket="bounds")
    too_many = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
    assert error_of(s3.delete_objects, Bucket="bounds", Delete=too_many) == (400, "MalformedXML")

    def unreadable_max_keys(params, **_):
        params["url"] += "&max-keys=blah"

    s3.meta.events.register("before-call.s3.ListObjects", unreadable_max_keys)
    assert error_of(s3.list_objects, Bucket="bounds") == (400, "InvalidArgument")
