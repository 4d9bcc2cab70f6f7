"""Storage-class transitions triggered by a test: the version's new class, and the events S3
sends for a transition (an s3:LifecycleTransition record and EventBridge's Object Storage Class
Changed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from .in_process_s3 import client, in_process_emulator


def _drain(sqs, url: str) -> list[dict]:
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "sqs:SendMessage", "Resource": arn}  # fmt: skip
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
    )
    return url, arn


@pytest.fixture(scope="module")
def setup():
    with in_process_emulator() as aws:
        s3, sqs, events = client(aws, "s3"), client(aws, "sqs"), client(aws, "events")
        records_url, records_arn = _queue(sqs, "transition-records")
        bus_url, bus_arn = _queue(sqs, "transition-bus")
        s3.create_bucket(Bucket="moving")
        s3.put_bucket_versioning(Bucket="moving", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket="moving",
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": records_arn, "Events": ["s3:LifecycleTransition"]}
                ],
                "EventBridgeConfiguration": {},
            },
        )
        events.put_rule(
            Name="class-changes",
            EventPattern=json.dumps(
                {"source": ["aws.s3"], "detail-type": ["Object Storage Class Changed"]}
            ),
        )
        events.put_targets(Rule="class-changes", Targets=[{"Id": "q", "Arn": bus_arn}])
        _drain(sqs, records_url)  # the configuration's s3:TestEvent
        yield aws, s3, lambda: _drain(sqs, records_url), lambda: _drain(sqs, bus_url)


def test_a_transition_moves_one_version_and_sends_s3s_events(setup):
    aws, s3, records, bus = setup
    old = s3.put_object(Bucket="moving", Key="logs/a b.txt", Body=b"12345")["VersionId"]
    s3.put_object(Bucket="moving", Key="logs/a b.txt", Body=b"123", StorageClass="STANDARD_IA")

    moved = aws.transition("moving", "logs/a b.txt", "GLACIER", version_id=old)

    assert moved == {"bucket": "moving", "key": "logs/a b.txt", "versionId": old,
                     "from": "STANDARD", "to": "GLACIER"}  # fmt: skip
    versions = s3.list_object_versions(Bucket="moving")["Versions"]
    assert [(v["VersionId"] == old, v["StorageClass"]) for v in versions] == [
        (False, "STANDARD_IA"),
        (True, "GLACIER"),
    ]
    [document] = records()
    [record] = document["Records"]
    assert record["eventName"] == "LifecycleTransition"
    assert record["eventVersion"] == "2.3"
    assert record["userIdentity"] == {"principalId": "s3.amazonaws.com"}
    assert record["requestParameters"] == {"sourceIPAddress": "s3.amazonaws.com"}
    s3_object = record["s3"]["object"]
    assert (s3_object["key"], s3_object["size"], s3_object["versionId"]) == (
        "logs/a+b.txt", 5, old,
    )  # fmt: skip
    assert set(s3_object) == {"key", "size", "eTag", "versionId", "sequencer"}
    [event] = bus()
    assert event["detail-type"] == "Object Storage Class Changed"
    assert event["source"] == "aws.s3" and event["resources"] == ["arn:aws:s3:::moving"]
    detail = event["detail"]
    assert detail["destination-storage-class"] == "GLACIER"
    assert detail["requester"] == "s3.amazonaws.com"
    assert detail["object"] == {"key": "logs/a b.txt", "size": 5,
                                "etag": s3_object["eTag"], "version-id": old}  # fmt: skip
    assert set(detail) == {"version", "bucket", "object", "request-id", "requester",
                           "destination-storage-class"}  # fmt: skip


def test_the_current_version_moves_when_no_version_is_named(setup):
    aws, s3, records, bus = setup
    s3.put_object(Bucket="moving", Key="current", Body=b"x")
    records(), bus()

    aws.transition("moving", "current", "DEEP_ARCHIVE")

    head = s3.head_object(Bucket="moving", Key="current")
    assert head["StorageClass"] == "DEEP_ARCHIVE"
    assert len(records()) == 1 and len(bus()) == 1


def test_the_control_endpoint_refuses_what_it_cannot_move(setup):
    aws, s3, _records, _bus = setup
    s3.put_object(Bucket="moving", Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    base = f"{aws.endpoint_url}/_s3sizer/s3/transition"

    def post(query: str, method: str = "POST"):
        request = urllib.request.Request(f"{base}?{query}", method=method)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("bucket=moving&key=ia&class=GLACIER_IR")[0] == 200
    assert post("bucket=moving&key=ia&class=GLACIER_IR")[0] == 409  # there already
    # Up the waterfall: no lifecycle rule makes that move.
    warmer = post("bucket=moving&key=ia&class=STANDARD")
    assert warmer[0] == 409 and "only to a colder class" in warmer[1]["message"]
    assert post("bucket=moving&key=ia&class=STANDARD_IA")[0] == 409
    assert post("bucket=moving&key=ia&class=PLATINUM")[0] == 400
    assert post("bucket=moving&key=missing&class=GLACIER")[0] == 404
    assert post("bucket=nowhere&key=ia&class=GLACIER")[0] == 404
    assert post("bucket=moving&class=GLACIER")[0] == 400
    assert post("bucket=moving&key=ia&class=GLACIER", method="GET")[0] == 405
    assert s3.head_object(Bucket="moving", Key="ia")["StorageClass"] == "GLACIER_IR"


def test_lifecycle_transition_rules_move_versions_down_the_waterfall(setup):
    aws, s3, records, bus = setup
    old = s3.put_object(Bucket="moving", Key="rules/k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket="moving", Key="rules/k", Body=b"newer")["VersionId"]
    s3.put_bucket_lifecycle_configuration(
        Bucket="moving",
        LifecycleConfiguration={"Rules": [{
            "ID": "tiers", "Status": "Enabled", "Filter": {"Prefix": "rules/"},
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                            {"Days": 90, "StorageClass": "GLACIER"}],
            "NoncurrentVersionTransitions": [{"NoncurrentDays": 7,
                                              "StorageClass": "DEEP_ARCHIVE"}],
        }]},
    )  # fmt: skip
    records(), bus()

    def classes() -> dict[str, str]:
        listing = s3.list_object_versions(Bucket="moving", Prefix="rules/")["Versions"]
        return {v["VersionId"]: v["StorageClass"] for v in listing}

    assert aws.run_lifecycle(days=1)["versions_transitioned"] == 0
    assert aws.run_lifecycle(days=10)["versions_transitioned"] == 1
    assert classes() == {old: "DEEP_ARCHIVE", new: "STANDARD"}
    assert aws.run_lifecycle(days=40)["versions_transitioned"] == 1
    assert classes() == {old: "DEEP_ARCHIVE", new: "STANDARD_IA"}
    assert aws.run_lifecycle(days=100)["versions_transitioned"] == 1
    assert aws.run_lifecycle(days=200)["versions_transitioned"] == 0  # nowhere colder to go
    assert classes() == {old: "DEEP_ARCHIVE", new: "GLACIER"}

    moved = [(r["s3"]["object"]["versionId"], r["eventName"])
             for document in records() for r in document["Records"]]  # fmt: skip
    assert moved == [(old, "LifecycleTransition"), (new, "LifecycleTransition"),
                     (new, "LifecycleTransition")]  # fmt: skip
    assert [e["detail"]["destination-storage-class"] for e in bus()] == [
        "DEEP_ARCHIVE", "STANDARD_IA", "GLACIER",
    ]  # fmt: skip
