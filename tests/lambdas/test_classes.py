"""Storage classes in the tracker: each created version looked up once, kept in the key's
state, counted per class exactly as the other breakdown counters are, and moved by lifecycle
transitions in any order, duplicated, or after the version is gone."""

from __future__ import annotations

import itertools

import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas import size_tracking
from s3sizer.lambdas import versions as v
from s3sizer.lambdas.usage import set_storage_classes

from . import events as ev
from .conftest import BUCKET

KB = 1024


class FakeS3:
    """What HeadObject would answer: the class of each live version; a lookup log."""

    def __init__(self):
        self.classes: dict[tuple[str, str], str] = {}
        self.lookups: list[tuple[str, str]] = []

    def class_of(self, bucket, key, version_id):
        assert bucket == BUCKET
        version_id = version_id or "null"  # None: a bucket never versioned, its only version
        self.lookups.append((key, version_id))
        return self.classes.get((key, version_id))


@pytest.fixture
def s3(hist):
    fake = FakeS3()
    hist.class_of = fake.class_of
    set_storage_classes(hist, BUCKET, True)
    return fake


def put(key, size, seq, version_id=None):
    return ev.created(BUCKET, key, size, ev.sequencer(seq), version_id=version_id)


def delete(key, seq, version_id=None, marker=False):
    kind = "DeleteMarkerCreated" if marker else "Delete"
    return ev.removed(BUCKET, key, ev.sequencer(seq), kind=kind, version_id=version_id)


def transition_record(key, size, version_id=None, time="2026-11-24T21:07:05.123Z"):
    """S3's notification of a lifecycle transition: it names no class (event-notifications)."""
    rec = ev.record(
        "LifecycleTransition", BUCKET, key, ev.sequencer(99), size=size, version_id=version_id,
        event_time=time,
    )  # fmt: skip
    rec["eventVersion"] = "2.3"
    return rec


def class_changed(key, size, cls, version_id=None, time="2026-11-24T21:07:05Z"):
    """EventBridge's ``Object Storage Class Changed`` (ev-events): no sequencer."""
    obj = {"key": key, "size": size, "etag": "0" * 32}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0", "id": "b7d8c0a4-0000-4000-8000-000000000000",
        "detail-type": "Object Storage Class Changed", "source": "aws.s3",
        "account": "123456789012", "time": time, "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0", "bucket": {"name": BUCKET}, "object": obj,
            "request-id": "57H08PA84AB1JZW0", "requester": "s3.amazonaws.com",
            "destination-storage-class": cls,
        },
    }  # fmt: skip


def send(hist, *docs):
    out = {}
    for doc in docs:
        body = doc if "Records" in doc or "detail" in doc else ev.envelope(doc)
        if "eventName" in doc:
            body = ev.envelope(doc)
        counts = size_tracking.apply_event(hist, body)["counts"]
        for name, count in counts.items():
            out[name] = out.get(name, 0) + count
    return out


def by_class(hist) -> dict[str, list[int]]:
    item = hist._get(lay.address(lay.bucket_pk(BUCKET), lay.TOTALS_SK))
    return {c: f for c, f in lay.classes_from(item).items() if any(f)}


def truth(hist) -> dict[str, list[int]]:
    """The per-class figures the recorded keys hold, summed: what the counters must equal."""
    total: dict[str, list[int]] = {}
    for state in hist.keys(BUCKET):
        for c, figures in v.class_figures(state.versions).items():
            mine = total.setdefault(c, [0] * 5)
            mine[:] = [a + b for a, b in zip(mine, figures, strict=True)]
    return {c: f for c, f in total.items() if any(f)}


def test_creates_overwrites_and_deletes_count_per_class_with_one_lookup_each(hist, s3):
    s3.classes[("a", "null")] = "STANDARD_IA"
    s3.classes[("b", "null")] = "GLACIER"
    send(hist, put("a", 10 * KB, 1), put("b", 300 * KB, 2))
    assert s3.lookups == [("a", "null"), ("b", "null")]
    assert by_class(hist) == {
        "STANDARD_IA": [10 * KB, 0, 1, 0, 118 * KB],
        "GLACIER": [300 * KB, 0, 1, 0, 0],
    }
    send(hist, put("a", 10 * KB, 1), put("b", 300 * KB, 2))  # duplicates: no new lookup
    assert len(s3.lookups) == 2
    s3.classes[("a", "null")] = "STANDARD"
    send(hist, put("a", 200 * KB, 3))  # an overwrite in STANDARD
    assert by_class(hist) == {"GLACIER": [300 * KB, 0, 1, 0, 0]}
    send(hist, delete("b", 4))
    assert by_class(hist) == {}
    assert hist.totals(BUCKET).total_size == 200 * KB


def test_versioned_noncurrent_versions_and_markers_keep_their_class(hist, s3):
    s3.classes[("k", "v1")] = "DEEP_ARCHIVE"
    s3.classes[("k", "v2")] = "ONEZONE_IA"
    send(hist, put("k", 5 * KB, 1, "v1"), put("k", 7 * KB, 2, "v2"))
    assert by_class(hist) == {
        "DEEP_ARCHIVE": [0, 5 * KB, 0, 1, 0],
        "ONEZONE_IA": [7 * KB, 0, 1, 0, 121 * KB],
    }
    send(hist, delete("k", 3, "m1", marker=True))
    assert by_class(hist) == {
        "DEEP_ARCHIVE": [0, 5 * KB, 0, 1, 0],
        "ONEZONE_IA": [0, 7 * KB, 0, 1, 121 * KB],
    }
    send(hist, delete("k", 4, "m1"))  # the marker removed: v2 current again
    assert by_class(hist)["ONEZONE_IA"] == [7 * KB, 0, 1, 0, 121 * KB]
    assert by_class(hist) == truth(hist)


def test_transitions_in_any_order_duplicated_land_the_same(hist, s3):
    """Create, a transition by notification (looked up) and one by EventBridge (named), each
    delivered twice, in every order: one GLACIER version of 4 KB at the end."""
    docs = [
        put("t", 4 * KB, 1, "v1"),
        transition_record("t", 4 * KB, "v1"),
        class_changed("t", 4 * KB, "GLACIER", "v1"),
    ]
    for n, order in enumerate(itertools.permutations(docs * 2)):
        if n % 37:  # a spread of the 90 distinct orders keeps the test short
            continue
        key = f"t{n}"
        # Moved before the create is applied (HEAD sees GLACIER), or after (HEAD sees STANDARD).
        s3.classes[(key, "v1")] = "GLACIER" if n % 2 else "STANDARD"
        renamed = [_renamed(doc, key) for doc in order]
        send(hist, *renamed)
    assert by_class(hist) == truth(hist)
    keys = {s.key for s in hist.keys(BUCKET)}
    assert by_class(hist) == {"GLACIER": [4 * KB * len(keys), 0, len(keys), 0, 0]}


def test_a_transition_before_its_create_is_kept_for_it(hist, s3):
    s3.classes[("x", "v1")] = "STANDARD"  # the lookup raced ahead of the move
    send(hist, class_changed("x", 9, "GLACIER_IR", "v1"))
    assert by_class(hist) == {}  # nothing created yet
    send(hist, put("x", 9, 1, "v1"))
    assert by_class(hist) == {"GLACIER_IR": [9, 0, 1, 0, 128 * KB - 9]}


def test_a_transition_of_a_deleted_version_is_stale(hist, s3):
    s3.classes[("d", "v1")] = "STANDARD"
    counts = send(hist, put("d", 9, 1, "v1"), delete("d", 2, "v1"))
    counts = send(hist, class_changed("d", 9, "GLACIER", "v1"), transition_record("d", 9, "v1"))
    assert counts["stale"] == 2 and by_class(hist) == {}
    assert hist.totals(BUCKET).object_count == 0


def test_a_version_gone_before_its_lookup_nets_to_zero(hist, s3):
    """HEAD answers 404: the version is counted as STANDARD until its delete, which comes."""
    send(hist, put("g", 50 * KB, 1, "v1"))  # FakeS3 knows no class for it: gone
    assert by_class(hist) == {} and hist.totals(BUCKET).total_size == 50 * KB
    send(hist, delete("g", 2, "v1"))
    assert by_class(hist) == {} and hist.totals(BUCKET).total_size == 0
    s3.classes[("h", "v1")] = "STANDARD_IA"
    send(hist, put("h", 1, 3, "v1"), delete("h", 4, "v1"), transition_record("h", 1, "v1"))
    assert by_class(hist) == truth(hist) == {}


def test_without_classes_nothing_is_looked_up_and_transitions_are_ignored(hist):
    looked = []
    hist.class_of = lambda *args: looked.append(args) or "GLACIER"
    counts = send(hist, put("a", 5, 1), class_changed("a", 5, "GLACIER"))
    assert looked == [] and counts["ignored"] == 1 and by_class(hist) == {}
    item = hist._get(lay.address(lay.bucket_pk(BUCKET), lay.TOTALS_SK))
    assert not lay.tracks_classes(item)


def _renamed(doc: dict, key: str) -> dict:
    import copy

    doc = copy.deepcopy(doc)
    if "detail" in doc:
        doc["detail"]["object"]["key"] = key
    else:
        doc["s3"]["object"]["key"] = key
    return doc


def test_the_baseline_takes_classes_from_the_listing_and_the_tracker_carries_on(hist, s3):
    from s3sizer.lambdas.listing import ListedVersion as L

    listing = [
        L("a", "v2", 10, True, False, storage_class="STANDARD_IA"),
        L("a", "v1", 300 * KB, False, False, storage_class="GLACIER"),
        L("b", "m1", 0, True, True),
        L("b", "v1", 5, False, False, storage_class="DEEP_ARCHIVE"),
        L("c", "v1", 7, True, False, storage_class="STANDARD"),
    ]
    hist.reset_from_listing(BUCKET, listing)
    expected = {
        "STANDARD_IA": [10, 0, 1, 0, 128 * KB - 10],
        "GLACIER": [0, 300 * KB, 0, 1, 0],
        "DEEP_ARCHIVE": [0, 5, 0, 1, 0],
    }
    assert by_class(hist) == expected == truth(hist)
    # A transition recorded since stands over the listing's class, and a rerun changes nothing.
    send(hist, class_changed("c", 7, "GLACIER", "v1"))
    assert by_class(hist)["GLACIER"] == [7, 300 * KB, 1, 1, 0]
    hist.reset_from_listing(BUCKET, listing)
    assert by_class(hist)["GLACIER"] == [7, 300 * KB, 1, 1, 0]
    assert by_class(hist) == truth(hist)
    # Without classes tracked, a baseline leaves them as they are, and status shows none.
    set_storage_classes(hist, BUCKET, False)
    hist.reset_from_listing(BUCKET, [L("d", "v1", 3, True, False, storage_class="GLACIER")])
    assert by_class(hist) == truth(hist) == {}


@pytest.mark.parametrize("looked_up", ["STANDARD", "STANDARD_IA", "GLACIER"])
def test_two_transitions_of_one_version_in_either_order_end_in_the_later_class(hist, s3, looked_up):
    """STANDARD -> STANDARD_IA -> GLACIER, the events reordered: the waterfall's later wins,
    whatever the create's lookup saw."""
    for n, order in enumerate(itertools.permutations(["create", "ia", "glacier"])):
        key = f"w{n}"
        s3.classes[(key, "v1")] = looked_up
        docs = {
            "create": put(key, 1, 1, "v1"),
            "ia": class_changed(key, 1, "STANDARD_IA", "v1", time="2026-11-24T21:07:05Z"),
            "glacier": class_changed(key, 1, "GLACIER", "v1", time="2026-11-24T21:08:05Z"),
        }
        send(hist, *(docs[name] for name in order))
    assert by_class(hist) == {"GLACIER": [6, 0, 6, 0, 0]} == truth(hist)


def test_head_class_asks_s3_for_each_version_and_says_none_once_it_is_gone(aws):
    import boto3

    from s3sizer.lambdas.classes import head_class

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"1", StorageClass="GLACIER")
    class_of = head_class(s3)
    assert class_of("plain", "k", None) == "GLACIER"  # never versioned: no version id
    assert class_of("plain", "gone", None) is None
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    v2 = s3.put_object(Bucket="plain", Key="k", Body=b"12")["VersionId"]
    assert class_of("plain", "k", "null") == "GLACIER"  # the version written before
    assert class_of("plain", "k", v2) == "STANDARD"  # HEAD leaves STANDARD out
    marker = s3.delete_object(Bucket="plain", Key="k")["VersionId"]
    assert class_of("plain", "k", marker) is None  # 405: a delete marker's id
    s3.delete_object(Bucket="plain", Key="k", VersionId=v2)
    assert class_of("plain", "k", v2) is None


def test_head_class_of_a_bucket_versioned_since_the_record_asks_for_the_null_version(aws):
    """A record of a bucket never versioned names no version; if versioning is enabled and the
    key written again before the lookup, the object HEAD describes is the later version."""
    import boto3

    from s3sizer.lambdas.classes import head_class

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"1", StorageClass="GLACIER")
    s3.put_object(Bucket="plain", Key="hidden", Body=b"1", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket="plain", Key="gone", Body=b"1", StorageClass="GLACIER")
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="plain", Key="k", Body=b"12", StorageClass="STANDARD_IA")
    s3.delete_object(Bucket="plain", Key="hidden")  # a marker over the "null" version
    s3.delete_object(Bucket="plain", Key="gone", VersionId="null")
    s3.delete_object(Bucket="plain", Key="gone")
    class_of = head_class(s3)
    assert class_of("plain", "k", None) == "GLACIER"
    assert class_of("plain", "hidden", None) == "DEEP_ARCHIVE"
    assert class_of("plain", "gone", None) is None


def test_head_class_of_an_object_head_cannot_read_is_not_known_and_fails_nothing():
    """SSE-C: HEAD without the customer's key is a 400, at every retry. The version counts as
    STANDARD (a listing names its class later) rather than failing its chunk for ever."""
    from botocore.exceptions import ClientError

    from s3sizer.lambdas.classes import head_class

    class Refusing:
        def head_object(self, **kwargs):
            answer = {"Error": {"Code": "400", "Message": "Bad Request"}}
            answer["ResponseMetadata"] = {"HTTPStatusCode": 400, "HTTPHeaders": {}}
            raise ClientError(answer, "HeadObject")

    assert head_class(Refusing())("b", "k", "v1") is None
    assert head_class(Refusing())("b", "k", None) is None
