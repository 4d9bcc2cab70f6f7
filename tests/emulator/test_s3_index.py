"""ListObjectsV2 and ListObjectVersions read from the emulator's sorted key index
(patches/s3_index.py): page for page what moto's own walk of every key answers, and a common
prefix only where a current object lies, as S3 lists it."""

from __future__ import annotations

import pytest

from s3sizer.emulator.patches import hooks, s3_index
from tests.emulator.test_patch_contract import _answer, _client, in_process  # noqa: F401

KEYS = (
    ["a", "a/b", "a/c/d", "a-b", "a0", "b/", "b/x", "b//y", "é", "é/1", "éa"]
    + ["z\U0010ffff", "z\U0010ffff/q", "z\U0010ffff\U0010ffff", "zz/y/x", "zz/y/z"]
    + [f"n/{i:03d}" for i in range(23)]
    + [f"top{i}" for i in range(9)]
)


@pytest.mark.parametrize("versioned", [pytest.param(False, marks=pytest.mark.heavy), True])
def test_a_listing_answers_page_for_page_as_moto_s_own_walk_does(
    in_process,  # noqa: F811
    monkeypatch,
    versioned,
):
    from moto.s3.models import S3Backend

    aws, _, _ = in_process
    s3 = _client(aws, "s3")
    bucket = f"index-{versioned}".lower()
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i, key in enumerate(KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (i % 4))
    for key in ("a-b", "n/004", "top3"):  # deleted: a marker where versioned
        s3.delete_object(Bucket=bucket, Key=key)
    asked = [
        {"Prefix": prefix, "MaxKeys": size, **delimiter, **start}
        for prefix in ("", "a", "n/", "z\U0010ffff", "none")
        for size in (2, 1000)
        for delimiter in ({}, {"Delimiter": "/"}, {"Delimiter": "y"})
        for start in ({}, {"StartAfter": "a/"}, {"StartAfter": "n/010"})
    ] + [  # pages of one entry, followed to the end
        {"Prefix": "", "MaxKeys": 1, **delimiter, "StartAfter": "a"}
        for delimiter in ({}, {"Delimiter": "/"})
    ]

    def listed(kwargs):
        pages = [_answer(s3.list_objects_v2, Bucket=bucket, **kwargs)]
        while pages[-1][0] == "answer" and pages[-1][1].get("IsTruncated"):
            assert len(pages) < 100, f"{kwargs}: the listing does not end"
            token = pages[-1][1]["NextContinuationToken"]
            more = {**kwargs, "ContinuationToken": token}
            pages.append(_answer(s3.list_objects_v2, Bucket=bucket, **more))
        return pages

    before = hooks.FAST_PATHS[s3_index.INDEXED]
    fast = [listed(kwargs) for kwargs in asked]
    assert hooks.FAST_PATHS[s3_index.INDEXED] > before, (
        f"patch '{s3_index.TARGETS['list_objects_v2'].patch}': moto walked every key"
    )
    monkeypatch.setattr(S3Backend, "list_objects_v2", S3Backend.list_objects_v2.__wrapped__)
    own = [listed(kwargs) for kwargs in asked]
    for kwargs, got, expected in zip(asked, fast, own, strict=True):
        assert got == expected, kwargs
    assert max(len(pages) for pages in own) > 30


def test_a_folder_of_delete_markers_only_is_not_a_common_prefix(in_process):  # noqa: F811
    aws, _, _ = in_process
    s3 = _client(aws, "s3")
    s3.create_bucket(Bucket="index-markers")
    s3.put_bucket_versioning(Bucket="index-markers", VersioningConfiguration={"Status": "Enabled"})
    for key in ("gone/a", "gone/b", "kept/a", "kept/b"):
        s3.put_object(Bucket="index-markers", Key=key, Body=b"x")
    s3.delete_object(Bucket="index-markers", Key="gone/a")
    s3.delete_object(Bucket="index-markers", Key="gone/b")
    s3.delete_object(Bucket="index-markers", Key="kept/a")

    page = s3.list_objects_v2(Bucket="index-markers", Delimiter="/")

    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["kept/"]
    assert page["KeyCount"] == 1


def test_a_listing_sees_keys_written_since_its_last_page(in_process):  # noqa: F811
    aws, _, _ = in_process
    s3 = _client(aws, "s3")
    s3.create_bucket(Bucket="index-writes")
    for i in range(0, 20, 2):
        s3.put_object(Bucket="index-writes", Key=f"k{i:02d}", Body=b"x")
    first = s3.list_objects_v2(Bucket="index-writes", MaxKeys=4)
    s3.put_object(Bucket="index-writes", Key="k07", Body=b"x")  # after the page: listed
    s3.put_object(Bucket="index-writes", Key="k01", Body=b"x")  # before it: not
    s3.delete_object(Bucket="index-writes", Key="k08")

    rest = s3.list_objects_v2(
        Bucket="index-writes", ContinuationToken=first["NextContinuationToken"]
    )

    assert [c["Key"] for c in first["Contents"]] == ["k00", "k02", "k04", "k06"]
    assert [c["Key"] for c in rest["Contents"]] == ["k07", "k10", "k12", "k14", "k16", "k18"]


def test_the_sorted_names_are_kept_until_a_name_comes_or_goes(in_process):  # noqa: F811
    from moto.s3.utils import _VersionedKeyStore

    class Version:  # what moto's store disposes of when a name's versions are replaced
        def dispose(self) -> None:
            pass

    store = _VersionedKeyStore()
    store["b"] = Version()
    first = s3_index.sorted_names(store)
    store["b"] = Version()  # a new version of a name held: the names stay
    assert s3_index.sorted_names(store) is first == ["b"]

    store["a"] = Version()
    store.setlist("c", [Version()])
    assert s3_index.sorted_names(store) == ["a", "b", "c"]
    store.setlist("c", [Version(), Version()])
    kept = s3_index.sorted_names(store)
    assert s3_index.sorted_names(store) is kept

    store.pop("a")
    assert s3_index.sorted_names(store) == ["b", "c"]
    del store["b"]  # dict's own removal: the count tells
    assert s3_index.sorted_names(store) == ["c"]
