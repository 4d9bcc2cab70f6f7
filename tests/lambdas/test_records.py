"""What the tracker reads from each input shape (tests/events/*.json, shaped as AWS sends them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3sizer.lambdas import own_keys, records
from s3sizer.lambdas import versions as v
from s3sizer.lambdas.records import Change, Skip, parse_eventbridge, parse_s3_record

from . import events

EVENTS = Path(__file__).parent.parent / "events"
DEMO = "amzn-s3-demo-bucket"
T = 1795554365.123  # 2026-11-24T21:06:05.123Z


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def only_record(name: str) -> dict:
    (record,) = load(name)["Records"]
    return record


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("put.json", ("photos/red flower+1.jpg", "null", v.OBJECT, 1024, "0055AED6DCD90281E5")),
        ("put-versioned.json", ("report ü.csv", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", v.OBJECT, 3000, "0055AED6DCD90281E6")),
        ("copy.json", ("copy of 100%.txt", "null", v.OBJECT, 2048, "0055AED6DCD90281E7")),
        ("multipart.json", ("big/archive.tar", "null", v.OBJECT, 52428800, "0055AED6DCD90281E8")),
        ("delete.json", ("photos/red flower+1.jpg", "null", v.GONE, 0, "0055AED6DCD90281F")),
        ("delete-marker.json", ("report ü.csv", "tpz7.vWbFqGgtwVOPNdzYUzbN6bFtlQA", v.MARKER, 0, "0055AED6DCD90281F1")),
        ("lifecycle-expiration.json", ("logs/2026-11-01.log", "null", v.GONE, 0, "0055AED6DCD90281F2")),
    ],
)  # fmt: skip
def test_classic_records_are_decoded(fixture, expected):
    change = parse_s3_record(only_record(fixture))
    assert isinstance(change, Change) and change.bucket == DEMO
    assert (change.key, change.version_id, change.kind, change.size, change.seq) == expected
    assert change.time == pytest.approx(T)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("eventbridge-created.json", ("photos/red flower+1.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", v.OBJECT, 1024)),
        ("eventbridge-delete-marker.json", ("report ü.csv", "tpz7.vWbFqGgtwVOPNdzYUzbN6bFtlQA", v.MARKER, 0)),
        ("eventbridge-permanently-deleted.json", ("logs/2026-11-01.log", "null", v.GONE, 0)),
    ],
)  # fmt: skip
def test_eventbridge_events_are_decoded(fixture, expected):
    change = parse_eventbridge(load(fixture))
    assert isinstance(change, Change) and change.bucket == DEMO
    assert (change.key, change.version_id, change.kind, change.size) == expected
    assert change.time == 1795554365.0  # whole seconds only


def test_deletes_carry_no_size_in_either_shape():
    for name in ("delete.json", "delete-marker.json", "lifecycle-expiration.json"):
        assert "size" not in only_record(name)["s3"]["object"]
    for name in ("eventbridge-delete-marker.json", "eventbridge-permanently-deleted.json"):
        assert "size" not in load(name)["detail"]["object"]


@pytest.mark.parametrize(
    "detail_type",
    [
        "Object Restore Completed",
        "Object Tags Added",
        "Object ACL Updated",
    ],
)
def test_eventbridge_events_that_change_no_size_are_ignored(detail_type):
    event = load("eventbridge-created.json") | {"detail-type": detail_type}
    assert parse_eventbridge(event).outcome == records.IGNORED


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Completed",
        "Replication:OperationFailedReplication",
        "IntelligentTiering",
        "ObjectTagging:Put",
        "ObjectAcl:Put",
    ],
)
def test_classic_families_that_change_no_size_are_ignored(event_name):
    # LifecycleTransition changes no size, but a storage class: test_classes.py
    assert (
        parse_s3_record(only_record("restore.json") | {"eventName": event_name}).outcome
        == "ignored"
    )


@pytest.mark.parametrize(
    ("key", "own"),
    [
        (".s3sizer/plot.png", True),
        (".s3sizer/layers/0123456789abcdef0123456789abcdef.zip", True),
        (".s3sizer/layers/0123456789ABCDEF0123456789abcdef.zip", False),
        (".s3sizer/layers/0123.zip", False),
        (".s3sizer/notes.txt", False),
        (".s3sizer/plot.png.bak", False),
        ("plot.png", False),
    ],
)
def test_only_s3sizers_own_keys_are_ignored(key, own):
    assert own_keys.is_own_key(key) is own
    change = parse_s3_record(events.created(DEMO, key, 5, "01"))
    assert (change.outcome == "ignored") if own else isinstance(change, Change)


@pytest.mark.parametrize(("own_bucket", "ignored"), [(DEMO, True), ("other-bucket", False)])
def test_s3sizers_own_keys_are_ignored_only_in_the_bucket_it_writes_to(
    monkeypatch, own_bucket, ignored
):
    monkeypatch.setenv(own_keys.OWN_BUCKET_VARIABLE, own_bucket)
    for key in (".s3sizer/plot.png", ".s3sizer/layers/0123456789abcdef0123456789abcdef.zip"):
        change = parse_s3_record(events.created(DEMO, key, 5, "01"))
        assert (change.outcome == "ignored") if ignored else isinstance(change, Change)


def broken(path: tuple[str, ...], value=None, *, drop: bool = False) -> dict:
    record = only_record("put.json")
    node = record
    for part in path[:-1]:
        node = node[part]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not a record", "malformed"),
        ({}, "malformed"),
        (broken(("eventName",), 7), "malformed"),
        (broken(("eventName",), "ObjectFrobnicated:Put"), "unknown event family"),
        (broken(("s3", "object"), "x"), "malformed"),
        (broken(("s3", "object", "key"), drop=True), "malformed"),
        (broken(("s3", "object", "key"), 12), "malformed"),
        (broken(("s3", "bucket", "name"), ""), "malformed"),
        (broken(("s3", "object", "sequencer"), "not-hex"), "not hexadecimal"),
        (broken(("s3", "object", "sequencer"), ""), "not hexadecimal"),
        (broken(("s3", "object", "size"), drop=True), "no valid size"),
        (broken(("s3", "object", "size"), "1024"), "no valid size"),
        (broken(("s3", "object", "size"), -1), "no valid size"),
        (broken(("s3", "object", "versionId"), 3), "version id"),
        (broken(("s3", "object", "key"), "k" * 1025), "longer than S3 allows"),
    ],
)
def test_records_nobody_can_apply_are_rejected_with_a_reason(record, reason):
    skip = parse_s3_record(record)
    assert isinstance(skip, Skip) and skip.outcome == "rejected"
    assert reason in skip.reason


def test_a_1024_byte_multibyte_key_is_accepted():
    key = "ü" * 512  # 1,024 bytes in UTF-8
    change = parse_s3_record(events.created(DEMO, key, 5, "01"))
    assert isinstance(change, Change) and change.key == key


def test_eventbridge_rejects_an_unknown_deletion_type():
    event = load("eventbridge-permanently-deleted.json")
    event["detail"]["deletion-type"] = "Vanished"
    assert parse_eventbridge(event).outcome == "rejected"


def test_sqs_batches_of_either_body_become_messages():
    batch = load("sqs-s3.json")
    first, second = records.messages(batch)
    assert first.id == batch["Records"][0]["messageId"] and len(first.changes) == 1
    assert second.changes == [] and second.skips[0].reason == "s3:TestEvent"
    first, second = records.messages(load("sqs-eventbridge.json"))
    assert [c.kind for c in first.changes + second.changes] == [v.OBJECT, v.MARKER]


def test_a_body_that_is_not_json_is_rejected():
    batch = events.sqs({})
    batch["Records"][0]["body"] = "{not json"
    (message,) = records.messages(batch)
    assert message.skips[0].outcome == "rejected"


def test_a_direct_event_is_one_message_without_id():
    (message,) = records.messages(load("put.json"))
    assert message.id is None and len(message.changes) == 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", 0),
        ("0055AED6DCD9028", "0055AED6DCD90281E5", -1),  # padded: ...0280000 < ...0281E5
        ("0055AED6DCD90290", "0055AED6DCD90281E5", 1),
        ("0055aed6dcd90281e5", "0055AED6DCD90281E5", 0),
        ("00550", "0055", 0),
        ("0B", "0A1", 1),
    ],
)
def test_sequencers_compare_as_aws_documents(a, b, expected):
    assert records.compare_sequencers(a, b) == expected
    assert records.compare_sequencers(b, a) == -expected


def test_a_redriven_lambda_failure_record_yields_its_original_event():
    # What the direct route's on-failure destination holds, moved into the queue by a redrive.
    original = load("put.json")
    failure = {
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": original,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": "ClientError"},
    }

    assert records.parse_document(failure) == records.parse_document(original)


def test_transitions_become_changes_of_class_in_both_shapes():
    classic = parse_s3_record(only_record("restore.json") | {"eventName": "LifecycleTransition"})
    assert (classic.kind, classic.cls, classic.seq) == ("T", None, "")
    event = load("eventbridge-created.json") | {"detail-type": "Object Storage Class Changed"}
    event["detail"] = {**event["detail"], "destination-storage-class": "DEEP_ARCHIVE"}
    changed = parse_eventbridge(event)
    assert (changed.kind, changed.cls) == ("T", "DEEP_ARCHIVE")
    del event["detail"]["destination-storage-class"]
    assert parse_eventbridge(event).outcome == records.REJECTED
