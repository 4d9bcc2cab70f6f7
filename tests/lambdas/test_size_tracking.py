"""The size-tracking function fed each of its three shapes, as AWS sends them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from s3sizer.lambdas import size_tracking
from s3sizer.lambdas.history import History, parse_iso
from s3sizer.lambdas.size_tracking import apply_event

from . import events
from .conftest import TABLE

EVENTS = Path(__file__).parent.parent / "events"
DEMO = "amzn-s3-demo-bucket"
ZERO = dict.fromkeys(size_tracking.COUNTED, 0)


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def only_record(name: str) -> dict:
    (record,) = load(name)["Records"]
    return record


def counts(**kw) -> dict:
    return {**ZERO, **kw}


def test_a_test_event_is_ignored(hist):
    assert apply_event(hist, load("test-event.json"))["counts"] == counts(ignored=1)
    assert hist.totals(DEMO).version == 0


def test_a_direct_event_of_many_records_is_one_chunk(hist):
    batch = events.envelope(
        only_record("put.json"),
        only_record("copy.json"),
        only_record("restore.json"),
        only_record("plot.json"),
        only_record("put.json"),
        {**only_record("put.json"), "eventName": "ObjectFrobnicated:Put"},
        only_record("delete.json"),
    )
    assert apply_event(hist, batch)["counts"] == counts(
        applied=3, duplicate=1, ignored=2, rejected=1
    )
    totals = hist.totals(DEMO)
    # put 1024, copy 2048, then the put is deleted: the peak inside the batch was 3072
    assert (totals.total_size, totals.object_count, totals.max_size) == (2048, 1, 3072)
    assert [p.total_size for p in hist.points(DEMO)] == [2048]  # one point per chunk


def test_sqs_batches_of_s3_notifications_apply(hist):
    outcome = apply_event(hist, load("sqs-s3.json"))
    assert outcome == {"counts": counts(applied=1, ignored=1), "failed": []}
    assert hist.totals(DEMO).total_size == 1024


def test_sqs_batches_of_eventbridge_events_apply(hist):
    outcome = apply_event(hist, load("sqs-eventbridge.json"))
    assert outcome["counts"] == counts(applied=2)
    # the create of "photos/red flower+1.jpg" counts; the marker hides a key never seen
    assert hist.totals(DEMO).total_size == 1024
    assert hist.key_state(DEMO, "report ü.csv").exists is False


def test_rejected_records_are_logged_and_dropped(hist, caplog):
    bad = events.sqs(
        {"Records": [{**only_record("put.json"), "eventName": "ObjectFrobnicated:Put"}]},
        {"hello": "world"},
    )
    with caplog.at_level(logging.WARNING, logger=size_tracking.__name__):
        outcome = apply_event(hist, bad)
    assert outcome == {"counts": counts(rejected=2), "failed": []}
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "unknown event family 'ObjectFrobnicated:Put'" in messages[0]


def test_one_info_line_per_batch(hist, caplog):
    batch = events.sqs(*(events.envelope(events.created("b", f"k{i}", i, "01")) for i in range(5)))
    with caplog.at_level(logging.INFO, logger=size_tracking.__name__):
        apply_event(hist, batch)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        "batch: applied=5 duplicate=0 stale=0 ignored=0 rejected=0 retries=0 failed=0 buckets=b"
    ]


def test_the_batch_line_names_a_few_buckets_then_how_many_more(hist, caplog):
    batch = events.sqs(
        *(events.envelope(events.created(f"b{i}", "k", 1, "01")) for i in (4, 1, 3, 2, 5))
    )
    with caplog.at_level(logging.INFO, logger=size_tracking.__name__):
        apply_event(hist, batch)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert line.endswith(" buckets=b1,b2,b3,+2 more")


def test_the_module_logger_logs_info_without_any_configuration():
    assert size_tracking.logger.getEffectiveLevel() == logging.INFO


class BrokenFor:
    """The real client, but every write for one bucket fails as a throttled request would."""

    def __init__(self, client, bucket):
        self._client, self._bucket = client, bucket

    def transact_write_items(self, TransactItems):
        if any(f"B#{self._bucket}" in json.dumps(i) for i in TransactItems):
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
            raise ClientError(error, "TransactWriteItems")
        return self._client.transact_write_items(TransactItems=TransactItems)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_passing_failure_fails_only_the_messages_of_its_chunk(ddb, clock, caplog):
    hist = History(TABLE, BrokenFor(ddb, "sick"), now=clock)
    batch = events.sqs(
        events.envelope(events.created("well", "a", 1, "01")),
        events.envelope(events.created("sick", "a", 2, "01")),
        events.envelope(events.created("well", "b", 3, "01")),
    )
    outcome = apply_event(hist, batch)
    assert outcome["failed"] == [events.message_ids(batch)[1]]
    assert outcome["counts"]["applied"] == 2 and outcome["counts"]["failed"] == 1
    assert hist.totals("well").total_size == 4
    assert hist.totals("sick").version == 0


def test_a_passing_failure_on_a_direct_event_raises(ddb, clock):
    hist = History(TABLE, BrokenFor(ddb, DEMO), now=clock)
    with pytest.raises(Exception, match="ThrottlingException"):
        apply_event(hist, load("put.json"))


def test_a_missing_table_fails_every_message_for_redelivery(hist, ddb):
    ddb.delete_table(TableName=TABLE)
    batch = load("sqs-s3.json")
    assert apply_event(hist, batch)["failed"] == [batch["Records"][0]["messageId"]]


def test_the_bucket_comes_from_each_record(hist):
    batch = events.envelope(
        events.created("one", "k", 1, "01"), events.created("two", "k", 2, "01")
    )
    apply_event(hist, batch)
    assert (hist.totals("one").total_size, hist.totals("two").total_size) == (1, 2)


def test_each_chunk_prints_one_metric_line(hist, capsys):
    apply_event(hist, events.envelope(events.created("b", "k", 7, "01")))
    apply_event(hist, events.envelope(events.created("b", "k", 7, "01")))  # a duplicate: no line
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "s3sizer" and directive["Dimensions"] == [["Bucket"]]
    assert {m["Name"]: (m["Unit"], m["StorageResolution"]) for m in directive["Metrics"]} == {
        "BucketSizeBytes": ("Bytes", 1),
        "NumberOfObjects": ("Count", 1),
    }
    assert (document["Bucket"], document["BucketSizeBytes"], document["NumberOfObjects"]) == (
        "b",
        7,
        1,
    )
    updated_at = parse_iso(hist.totals("b").updated_at)
    assert document["_aws"]["Timestamp"] == int(updated_at.timestamp() * 1000)


def test_metric_timestamps_never_go_back_even_when_the_clock_does(hist, clock, capsys):
    apply_event(hist, events.envelope(events.created("b", "k", 7, "01")))
    clock.advance(-60)  # another container's clock, a minute behind
    apply_event(hist, events.envelope(events.created("b", "k", 9, "02")))
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert second["_aws"]["Timestamp"] == first["_aws"]["Timestamp"] + 1
    assert second["BucketSizeBytes"] == 9


# -- handler --------------------------------------------------------------------------------


@pytest.fixture
def tracking_env(ddb, function_env):
    return function_env(size_tracking)


def test_handler_answers_sqs_batches_with_their_failures(tracking_env):
    assert size_tracking.handler(load("sqs-s3.json"), None) == {"batchItemFailures": []}


def test_handler_reads_its_settings_from_the_environment(tracking_env, ddb):
    tracking_env.setenv("HISTORY_TTL_DAYS", "30")
    tracking_env.setenv("PREFIX_DEPTH", "0")
    assert size_tracking.handler(load("copy.json"), None) == counts(applied=1)
    items = ddb.scan(TableName=TABLE)["Items"]
    (point,) = [i for i in items if i["sk"]["S"].startswith("H#")]
    assert "expires_at" in point
    assert not [i for i in items if i["pk"]["S"].endswith("#P")]  # no prefix tracked


def test_handler_ignores_only_its_own_keys(tracking_env):
    assert size_tracking.handler(load("plot.json"), None) == counts(ignored=1)
    user_object = events.created(DEMO, ".s3sizer/mine.txt", 4, "01")
    assert size_tracking.handler(events.envelope(user_object), None) == counts(applied=1)


def test_handler_without_its_table_says_so(tracking_env):
    tracking_env.delenv("TABLE_NAME")
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        size_tracking.handler(load("put.json"), None)


@pytest.mark.parametrize(
    ("name", "value"), [("HISTORY_TTL_DAYS", "forever"), ("PREFIX_DEPTH", "6")]
)
def test_handler_with_a_bad_setting_says_so(tracking_env, name, value):
    tracking_env.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        size_tracking.handler(load("put.json"), None)


def test_handler_asks_s3_about_a_create_redelivered_after_its_keys_tombstones_were_capped(
    tracking_env, aws
):
    """SQS delivers at least once: a copy of v0's create comes back after v0 and 33 newer
    versions of the key were deleted for good. The tracker's map kept only the newest 32
    tombstones, so only S3's listing of the key can say that v0 is gone."""
    import boto3

    from s3sizer.lambdas import versions

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=DEMO)
    s3.put_bucket_versioning(Bucket=DEMO, VersioningConfiguration={"Status": "Enabled"})
    serial = iter(range(1, 1000))

    def put_then_delete() -> dict:
        vid = s3.put_object(Bucket=DEMO, Key="hot k+1", Body=b"x" * 7)["VersionId"]
        made = events.created(DEMO, "hot k+1", 7, events.sequencer(next(serial)), version_id=vid)
        s3.delete_object(Bucket=DEMO, Key="hot k+1", VersionId=vid)
        gone = events.removed(DEMO, "hot k+1", events.sequencer(next(serial)), version_id=vid)
        return made, gone

    first, first_gone = put_then_delete()
    bodies = [first, first_gone]
    for _ in range(versions.MAX_TOMBSTONES + 1):
        bodies += put_then_delete()
    for body in bodies:
        assert size_tracking.handler(events.sqs(events.envelope(body)), None) == {
            "batchItemFailures": []
        }
    assert History(TABLE, boto3.client("dynamodb")).totals(DEMO).object_count == 0
    late = size_tracking.handler(events.sqs(events.envelope(first)), None)
    assert late == {"batchItemFailures": []}
    totals = History(TABLE, boto3.client("dynamodb")).totals(DEMO)
    assert (totals.total_size, totals.object_count) == (0, 0)  # before: (7, 1)
