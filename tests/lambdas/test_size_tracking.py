"""The size-tracking function, fed events shaped as S3 sends them (tests/events/*.json)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from s3sizer.lambdas import size_tracking
from s3sizer.lambdas.size_tracking import Change, Skip, apply_event, parse_record

from . import events
from .conftest import TABLE

EVENTS = Path(__file__).parent.parent / "events"
DEMO = "amzn-s3-demo-bucket"
ZERO = {"applied": 0, "duplicate": 0, "stale": 0, "ignored": 0, "rejected": 0}


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def only_record(name: str) -> dict:
    (record,) = load(name)["Records"]
    return record


def counts(**kw) -> dict:
    return {**ZERO, **kw}


# -- parse_record ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "put.json",
            Change(
                DEMO,
                "photos/red flower+1.jpg",
                "0055AED6DCD90281E5",
                1024,
                "ObjectCreated:Put",
                None,
            ),
        ),
        (
            "put-versioned.json",
            Change(
                DEMO,
                "report ü.csv",
                "0055AED6DCD90281E6",
                3000,
                "ObjectCreated:Put",
                "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            ),
        ),
        (
            "copy.json",
            Change(
                DEMO, "copy of 100%.txt", "0055AED6DCD90281E7", 2048, "ObjectCreated:Copy", None
            ),
        ),
        (
            "multipart.json",
            Change(
                DEMO,
                "big/archive.tar",
                "0055AED6DCD90281E8",
                52428800,
                "ObjectCreated:CompleteMultipartUpload",
                None,
            ),
        ),
        (
            "delete.json",
            Change(
                DEMO,
                "photos/red flower+1.jpg",
                "0055AED6DCD90281F0",
                None,
                "ObjectRemoved:Delete",
                None,
            ),
        ),
        (
            "delete-marker.json",
            Change(
                DEMO,
                "report ü.csv",
                "0055AED6DCD90281F1",
                None,
                "ObjectRemoved:DeleteMarkerCreated",
                "tpz7.vWbFqGgtwVOPNdzYUzbN6bFtlQA",
            ),
        ),
        (
            "lifecycle-expiration.json",
            Change(
                DEMO,
                "logs/2026-11-01.log",
                "0055AED6DCD90281F2",
                None,
                "LifecycleExpiration:Delete",
                None,
            ),
        ),
    ],
)
def test_records_that_change_a_key(fixture, expected):
    assert parse_record(only_record(fixture)) == expected


def test_removals_carry_no_size_and_no_etag():
    for name in ("delete.json", "delete-marker.json", "lifecycle-expiration.json"):
        obj = only_record(name)["s3"]["object"]
        assert "size" not in obj and "eTag" not in obj


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Completed",
        "ObjectRestore:Post",
        "ObjectRestore:Delete",
        "Replication:OperationFailedReplication",
        "LifecycleTransition",
        "IntelligentTiering",
        "ObjectTagging:Put",
        "ObjectAcl:Put",
    ],
)
def test_families_that_do_not_change_the_size_are_ignored(event_name):
    record = only_record("restore.json") | {"eventName": event_name}
    assert parse_record(record).outcome == "ignored"


def test_the_plot_under_the_ignore_prefix_is_ignored():
    assert parse_record(only_record("plot.json")).outcome == "ignored"
    assert parse_record(only_record("plot.json"), ignore_prefix="other/").size == 35000
    assert isinstance(parse_record(only_record("plot.json"), ignore_prefix=""), Change)


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
        (broken(("eventName",), drop=True), "malformed"),
        (broken(("eventName",), 7), "malformed"),
        (broken(("eventName",), "ObjectFrobnicated:Put"), "unknown event family"),
        (broken(("s3",), drop=True), "malformed"),
        (broken(("s3", "object"), "x"), "malformed"),
        (broken(("s3", "object", "key"), drop=True), "malformed"),
        (broken(("s3", "object", "key"), 12), "malformed"),
        (broken(("s3", "bucket", "name"), ""), "malformed"),
        (broken(("s3", "object", "sequencer"), drop=True), "malformed"),
        (broken(("s3", "object", "sequencer"), "not-hex"), "not hexadecimal"),
        (broken(("s3", "object", "sequencer"), ""), "not hexadecimal"),
        (broken(("s3", "object", "sequencer"), 1234), "not hexadecimal"),
        (broken(("s3", "object", "size"), drop=True), "no valid size"),
        (broken(("s3", "object", "size"), "1024"), "no valid size"),
        (broken(("s3", "object", "size"), -1), "no valid size"),
        (broken(("s3", "object", "versionId"), 3), "versionId"),
        (broken(("s3", "object", "key"), "k" * 1023), "too long"),
    ],
)
def test_records_nobody_can_apply_are_rejected_with_a_reason(record, reason):
    skip = parse_record(record)
    assert isinstance(skip, Skip) and skip.outcome == "rejected"
    assert reason in skip.reason


# -- apply_event ----------------------------------------------------------------------------


def test_a_test_event_is_ignored(hist):
    assert apply_event(hist, load("test-event.json"), ignore_prefix=".s3sizer/") == ZERO
    assert hist.totals(DEMO).version == 0


def test_every_record_of_an_event_is_applied_on_its_own(hist):
    batch = events.envelope(
        only_record("put.json"),
        only_record("copy.json"),
        only_record("restore.json"),
        only_record("plot.json"),
        only_record("put.json"),
        broken(("s3", "object", "sequencer"), "zz"),
        only_record("delete.json"),
    )
    assert apply_event(hist, batch, ignore_prefix=".s3sizer/") == counts(
        applied=3, duplicate=1, ignored=2, rejected=1
    )
    totals = hist.totals(DEMO)
    assert (totals.total_size, totals.object_count, totals.max_size) == (2048, 1, 3072)


def test_rejected_records_leave_the_totals_alone_and_say_why(hist, caplog):
    apply_event(hist, events.envelope(only_record("put.json")), ignore_prefix=".s3sizer/")
    before = hist.totals(DEMO)
    bad = events.envelope(
        broken(("eventName",), "ObjectFrobnicated:Put"),
        broken(("s3", "object", "sequencer"), "G00D"),
        broken(("s3", "object", "size"), drop=True),
        {"eventName": "ObjectCreated:Put"},
    )
    with caplog.at_level(logging.WARNING, logger=size_tracking.__name__):
        assert apply_event(hist, bad, ignore_prefix=".s3sizer/") == counts(rejected=4)
    assert hist.totals(DEMO) == before
    assert len(caplog.records) == 4
    assert "unknown event family 'ObjectFrobnicated:Put'" in caplog.records[0].getMessage()
    assert "'G00D' is not hexadecimal" in caplog.records[1].getMessage()


@pytest.mark.parametrize("event", [None, "text", {"Records": "not a list"}])
def test_an_event_that_is_not_s3s_is_rejected_not_raised(hist, event):
    assert apply_event(hist, event, ignore_prefix=".s3sizer/") == counts(rejected=1)


def test_dynamodb_errors_fail_the_invocation(hist, ddb):
    ddb.delete_table(TableName=TABLE)
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        apply_event(hist, load("put.json"), ignore_prefix=".s3sizer/")


def test_the_bucket_comes_from_each_record(hist):
    batch = events.envelope(
        events.created("one", "k", 1, "01"), events.created("two", "k", 2, "01")
    )
    apply_event(hist, batch, ignore_prefix=".s3sizer/")
    assert (hist.totals("one").total_size, hist.totals("two").total_size) == (1, 2)


# -- handler --------------------------------------------------------------------------------


@pytest.fixture
def tracking_env(ddb, function_env):
    return function_env(size_tracking)


def test_handler_reads_its_settings_from_the_environment(tracking_env, ddb):
    tracking_env.setenv("IGNORE_PREFIX", "photos/")
    tracking_env.setenv("HISTORY_TTL_DAYS", "30")
    assert size_tracking.handler(load("put.json"), None) == counts(ignored=1)
    assert size_tracking.handler(load("copy.json"), None) == counts(applied=1)
    (point,) = [i for i in ddb.scan(TableName=TABLE)["Items"] if i["sk"]["S"].startswith("H#")]
    assert "expires_at" in point


def test_handler_defaults_to_the_s3sizer_prefix(tracking_env):
    assert size_tracking.handler(load("plot.json"), None) == counts(ignored=1)
    assert size_tracking.handler(load("test-event.json"), None) == ZERO


def test_handler_without_its_table_says_so(tracking_env):
    tracking_env.delenv("TABLE_NAME")
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        size_tracking.handler(load("put.json"), None)


def test_handler_with_a_bad_retention_says_so(tracking_env):
    tracking_env.setenv("HISTORY_TTL_DAYS", "forever")
    with pytest.raises(RuntimeError, match="HISTORY_TTL_DAYS"):
        size_tracking.handler(load("put.json"), None)
