"""Storage classes as S3 keeps and reports them, and unfinished multipart uploads as S3 lists
them (real start times, classes, pagination), on one in-process emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .in_process_s3 import client, in_process_emulator

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3():
    with in_process_emulator() as aws:
        yield client(aws, "s3")


def _classes(listing: list[dict]) -> dict[str, str]:
    return {entry["Key"]: entry["StorageClass"] for entry in listing}


def test_the_class_each_write_asks_for_is_kept_and_listed(s3):
    s3.create_bucket(Bucket="classes")
    s3.put_object(Bucket="classes", Key="std", Body=b"x")
    s3.put_object(Bucket="classes", Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    s3.put_object(Bucket="classes", Key="moved", Body=b"x", StorageClass="STANDARD_IA")
    s3.copy_object(
        Bucket="classes", Key="moved", CopySource="classes/moved", StorageClass="GLACIER"
    )  # fmt: skip  (in place: only the class changes)
    # A copy without a class is STANDARD, whatever the source's class (CopyObject's docs).
    s3.copy_object(Bucket="classes", Key="copy-default", CopySource="classes/ia")
    s3.copy_object(Bucket="classes", Key="copy", CopySource="classes/std",
                   StorageClass="DEEP_ARCHIVE")  # fmt: skip
    upload = s3.create_multipart_upload(Bucket="classes", Key="mp", StorageClass="GLACIER")
    etag = s3.upload_part(Bucket="classes", Key="mp", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"p")["ETag"]  # fmt: skip
    s3.complete_multipart_upload(
        Bucket="classes", Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    expected = {"copy": "DEEP_ARCHIVE", "copy-default": "STANDARD", "ia": "STANDARD_IA", "moved": "GLACIER",
                "mp": "GLACIER", "std": "STANDARD"}  # fmt: skip

    assert _classes(s3.list_objects_v2(Bucket="classes")["Contents"]) == expected
    assert _classes(s3.list_objects(Bucket="classes")["Contents"]) == expected
    assert _classes(s3.list_object_versions(Bucket="classes")["Versions"]) == expected
    for key, storage_class in expected.items():
        head = s3.head_object(Bucket="classes", Key=key)
        header = head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-storage-class")
        # S3 answers the header for every class but STANDARD.
        assert header == (None if storage_class == "STANDARD" else storage_class)
        attributes = s3.get_object_attributes(
            Bucket="classes", Key=key, ObjectAttributes=["StorageClass"]
        )
        assert attributes["StorageClass"] == storage_class
    assert "StorageClass" not in s3.get_object(Bucket="classes", Key="std")
    assert s3.get_object(Bucket="classes", Key="ia")["StorageClass"] == "STANDARD_IA"


def test_versions_keep_their_own_classes(s3):
    s3.create_bucket(Bucket="versioned-classes")
    s3.put_bucket_versioning(
        Bucket="versioned-classes", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_object(Bucket="versioned-classes", Key="k", Body=b"1", StorageClass="STANDARD_IA")
    s3.put_object(Bucket="versioned-classes", Key="k", Body=b"22", StorageClass="GLACIER")
    versions = s3.list_object_versions(Bucket="versioned-classes")["Versions"]
    assert [(v["Size"], v["StorageClass"], v["IsLatest"]) for v in versions] == [
        (2, "GLACIER", True),
        (1, "STANDARD_IA", False),
    ]


def test_unfinished_uploads_show_their_class_and_real_start_time(s3):
    s3.create_bucket(Bucket="uploads")
    before = datetime.now(UTC) - timedelta(seconds=1)
    glacier = s3.create_multipart_upload(Bucket="uploads", Key="g", StorageClass="GLACIER")
    plain = s3.create_multipart_upload(Bucket="uploads", Key="p")
    after = datetime.now(UTC) + timedelta(seconds=1)

    uploads = s3.list_multipart_uploads(Bucket="uploads")["Uploads"]

    assert [(u["Key"], u["UploadId"], u["StorageClass"]) for u in uploads] == [
        ("g", glacier["UploadId"], "GLACIER"),
        ("p", plain["UploadId"], "STANDARD"),
    ]
    for upload in uploads:
        assert before <= upload["Initiated"] <= after
    parts = s3.list_parts(Bucket="uploads", Key="g", UploadId=glacier["UploadId"])
    assert parts["StorageClass"] == "GLACIER"


def test_list_parts_pages_by_part_number(s3):
    s3.create_bucket(Bucket="parts")
    upload_id = s3.create_multipart_upload(Bucket="parts", Key="big")["UploadId"]
    etags = {}
    for number, size in ((1, 5 * MIB), (3, 5 * MIB), (7, 10)):  # gaps between part numbers
        etags[number] = s3.upload_part(Bucket="parts", Key="big", UploadId=upload_id,
                                       PartNumber=number, Body=b"a" * size)["ETag"]  # fmt: skip

    seen, marker, pages = [], 0, 0
    while True:
        page = s3.list_parts(
            Bucket="parts", Key="big", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker
        )
        pages += 1
        seen += [(p["PartNumber"], p["Size"], p["ETag"]) for p in page["Parts"]]
        assert all(isinstance(p["LastModified"], datetime) for p in page["Parts"])
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]

    assert pages == 2
    assert seen == [(1, 5 * MIB, etags[1]), (3, 5 * MIB, etags[3]), (7, 10, etags[7])]
    last = s3.list_parts(Bucket="parts", Key="big", UploadId=upload_id, PartNumberMarker=3)
    assert [p["PartNumber"] for p in last["Parts"]] == [7]
    assert last["IsTruncated"] is False


def test_list_multipart_uploads_pages_with_its_markers(s3):
    s3.create_bucket(Bucket="many-uploads")
    created = []
    for key in ("b", "a", "b", "c/1", "c/2", "d"):
        upload = s3.create_multipart_upload(Bucket="many-uploads", Key=key)
        created.append((key, upload["UploadId"]))
    # Sorted by key, then by initiation time within a key.
    expected = sorted(created, key=lambda pair: pair[0])

    seen, kwargs = [], {}
    while True:
        page = s3.list_multipart_uploads(Bucket="many-uploads", MaxUploads=2, **kwargs)
        assert len(page.get("Uploads", [])) <= 2
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == expected

    after_b = s3.list_multipart_uploads(Bucket="many-uploads", KeyMarker="b")
    assert [u["Key"] for u in after_b["Uploads"]] == ["c/1", "c/2", "d"]
    grouped = s3.list_multipart_uploads(Bucket="many-uploads", Delimiter="/")
    assert [u["Key"] for u in grouped["Uploads"]] == ["a", "b", "b", "d"]
    assert grouped["CommonPrefixes"] == [{"Prefix": "c/"}]
    only_c = s3.list_multipart_uploads(Bucket="many-uploads", Prefix="c/")
    assert [u["Key"] for u in only_c["Uploads"]] == ["c/1", "c/2"]
