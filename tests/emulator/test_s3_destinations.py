"""S3 → SQS and S3 → EventBridge → rule → SQS, shaped as AWS sends them; S3's own checks."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .helpers import poll

pytestmark = pytest.mark.emulator


def _queue(emulator, name: str, bucket: str | None, principal: str = "s3.amazonaws.com"):
    """A queue whose policy lets S3 (for `bucket`) or EventBridge send to it."""
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {"Effect": "Allow", "Principal": {"Service": principal},
                 "Action": "sqs:SendMessage", "Resource": arn}  # fmt: skip
    if bucket:
        statement["Condition"] = {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
    )
    return url, arn


def _bodies(emulator, url: str, count: int) -> list[dict]:
    sqs, found = emulator.client("sqs"), []

    def enough():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(found) >= count

    poll(enough)
    return found


def test_queue_destinations_get_the_test_event_then_aws_shaped_records(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="to-queue")
    url, arn = _queue(emulator, "to-queue", "to-queue")
    s3.put_bucket_notification_configuration(
        Bucket="to-queue",
        NotificationConfiguration={"QueueConfigurations": [
            {"Id": "q", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
        ]},
    )  # fmt: skip
    s3.put_object(Bucket="to-queue", Key="a b.txt", Body=b"12345")
    s3.delete_object(Bucket="to-queue", Key="a b.txt")
    test_event, put, delete = _bodies(emulator, url, 3)
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == "to-queue"
    assert put["Records"][0]["eventName"] == "ObjectCreated:Put"
    assert put["Records"][0]["s3"]["configurationId"] == "q"
    assert put["Records"][0]["s3"]["object"]["key"] == "a+b.txt"
    assert put["Records"][0]["s3"]["object"]["size"] == 5
    assert delete["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    assert "size" not in delete["Records"][0]["s3"]["object"]


def test_a_queue_whose_policy_does_not_let_s3_send_is_refused(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="queue-refused")
    _, arn = _queue(emulator, "queue-refused", "another-bucket")
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket="queue-refused",
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]},
        )  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in str(refused.value)


def test_overlapping_entries_are_refused_as_s3_refuses_them(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="overlap")
    _, first = _queue(emulator, "overlap-1", "overlap")
    _, second = _queue(emulator, "overlap-2", "overlap")

    def configure(*entries):
        s3.put_bucket_notification_configuration(
            Bucket="overlap", NotificationConfiguration={"QueueConfigurations": list(entries)}
        )

    with pytest.raises(ClientError) as refused:
        configure({"QueueArn": first, "Events": ["s3:ObjectCreated:*"]},
                  {"QueueArn": second, "Events": ["s3:ObjectCreated:Put"]})  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert refused.value.response["Error"]["Message"] == (
        "Configurations overlap. Configurations on the same bucket cannot share a common "
        "event type."
    )

    def prefixed(arn, prefix):
        return {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}}  # fmt: skip

    with pytest.raises(ClientError, match="ambiguously defined"):
        configure(prefixed(first, "logs/"), prefixed(second, "logs/2026/"))
    configure(prefixed(first, "logs/"), prefixed(second, "images/"))  # disjoint: accepted
    configure({"QueueArn": first, "Events": ["s3:ObjectCreated:*"]},
              {"QueueArn": second, "Events": ["s3:ObjectRemoved:*"]})  # fmt: skip


def test_eventbridge_routes_s3_events_shaped_as_aws_documents_them(emulator):
    s3, events = emulator.client("s3"), emulator.client("events")
    s3.create_bucket(Bucket="to-bus")
    s3.put_bucket_versioning(Bucket="to-bus", VersioningConfiguration={"Status": "Enabled"})
    url, arn = _queue(emulator, "from-bus", None, principal="events.amazonaws.com")
    events.put_rule(
        Name="s3-to-queue",
        EventPattern=json.dumps({
            "source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
            "detail": {"bucket": {"name": ["to-bus"]}},
        }),
    )  # fmt: skip
    events.put_targets(Rule="s3-to-queue", Targets=[{"Id": "q", "Arn": arn}])
    s3.put_bucket_notification_configuration(
        Bucket="to-bus", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket="to-bus")
    version = s3.put_object(Bucket="to-bus", Key="dir/a b", Body=b"hello")["VersionId"]
    marker = s3.delete_object(Bucket="to-bus", Key="dir/a b")["VersionId"]
    s3.delete_object(Bucket="to-bus", Key="dir/a b", VersionId=version)
    created, marked, deleted = sorted(
        _bodies(emulator, url, 3), key=lambda e: e["detail"]["object"]["sequencer"]
    )
    assert created["source"] == "aws.s3" and created["detail-type"] == "Object Created"
    assert created["resources"] == ["arn:aws:s3:::to-bus"]
    assert created["time"].endswith("Z") and created["region"] == "us-east-1"
    detail = created["detail"]
    assert detail["reason"] == "PutObject" and detail["bucket"] == {"name": "to-bus"}
    assert detail["object"]["key"] == "dir/a b"  # not URL-encoded, unlike notification records
    assert detail["object"]["size"] == 5 and detail["object"]["version-id"] == version
    assert detail["object"]["etag"] == "5d41402abc4b2a76b9719d911017c592"
    assert {"request-id", "requester", "source-ip-address"} <= set(detail)
    assert marked["detail-type"] == "Object Deleted"
    assert marked["detail"]["deletion-type"] == "Delete Marker Created"
    assert marked["detail"]["object"]["version-id"] == marker
    assert deleted["detail"]["deletion-type"] == "Permanently Deleted"
    assert deleted["detail"]["object"]["version-id"] == version
    for removal in (marked, deleted):
        assert removal["detail"]["reason"] == "DeleteObject"
        assert "size" not in removal["detail"]["object"]
    sequencers = [e["detail"]["object"]["sequencer"] for e in (created, marked, deleted)]
    assert len(set(sequencers)) == 3


def test_a_rule_with_only_a_schedule_gets_no_s3_event(emulator):
    s3, events, sqs = emulator.client("s3"), emulator.client("events"), emulator.client("sqs")
    s3.create_bucket(Bucket="to-bus-and-clock")
    scheduled_url, scheduled_arn = _queue(emulator, "on-a-clock", None, "events.amazonaws.com")
    matched_url, matched_arn = _queue(emulator, "on-a-pattern", None, "events.amazonaws.com")
    events.put_rule(Name="every-day", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="every-day", Targets=[{"Id": "q", "Arn": scheduled_arn}])
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": ["to-bus-and-clock"]}}}
    events.put_rule(Name="s3-objects", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="s3-objects", Targets=[{"Id": "q", "Arn": matched_arn}])
    s3.put_bucket_notification_configuration(
        Bucket="to-bus-and-clock", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )

    s3.put_object(Bucket="to-bus-and-clock", Key="k", Body=b"1")

    # The bus routes each event to every matching rule at once: once the pattern's rule has it,
    # the schedule's would have it too, if a rule without a pattern matched every event.
    assert _bodies(emulator, matched_url, 1)[0]["detail"]["object"]["key"] == "k"
    assert "Messages" not in sqs.receive_message(QueueUrl=scheduled_url, WaitTimeSeconds=0)


def test_an_undeliverable_eventbridge_event_goes_to_the_targets_dlq(emulator):
    s3, events = emulator.client("s3"), emulator.client("events")
    s3.create_bucket(Bucket="bus-dlq")
    dlq_url, dlq_arn = _queue(emulator, "bus-dlq", None, principal="events.amazonaws.com")
    events.put_rule(
        Name="bus-dlq",
        EventPattern=json.dumps(
            {"source": ["aws.s3"], "detail": {"bucket": {"name": ["bus-dlq"]}}}
        ),
    )
    gone = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    events.put_targets(
        Rule="bus-dlq",
        Targets=[{"Id": "q", "Arn": gone, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )
    s3.put_bucket_notification_configuration(
        Bucket="bus-dlq", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_object(Bucket="bus-dlq", Key="k", Body=b"x")
    [event] = _bodies(emulator, dlq_url, 1)
    assert event["detail"]["object"]["key"] == "k"


def test_deleting_a_key_whose_current_version_is_a_delete_marker_adds_another(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="marker-on-marker")
    s3.put_bucket_versioning(
        Bucket="marker-on-marker", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_object(Bucket="marker-on-marker", Key="k", Body=b"x")
    s3.delete_object(Bucket="marker-on-marker", Key="k")

    again = s3.delete_object(Bucket="marker-on-marker", Key="k")

    assert again["DeleteMarker"] is True
    markers = s3.list_object_versions(Bucket="marker-on-marker")["DeleteMarkers"]
    assert len(markers) == 2
