"""An in-process emulator for the lifecycle tests, and a bucket whose lifecycle events land in a
queue (classic records) and, through EventBridge, in a second queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

EVENTS = ["s3:LifecycleExpiration:*", "s3:ObjectRemoved:*"]


def client(aws, service: str):
    return boto3.client(
        service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def queue(aws, name: str, source: str) -> tuple[str, str]:
    """A queue that `source` (a service principal) may send to: its URL and ARN."""
    sqs = client(aws, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {"Effect": "Allow", "Principal": {"Service": source}, "Action": "sqs:SendMessage"}
    policy = {"Statement": [{**statement, "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


class Bucket:
    """A bucket with lifecycle rules whose events are collected from queues."""

    def __init__(self, aws, name: str, *, versioning: str | None = None, eventbridge=False):
        self.aws, self.name = aws, name
        self.s3, self.sqs = client(aws, "s3"), client(aws, "sqs")
        self.s3.create_bucket(Bucket=name)
        if versioning:
            self.s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning}
            )
        self.records_url, arn = queue(aws, f"{name}-records", "s3.amazonaws.com")
        configuration = {"QueueConfigurations": [{"QueueArn": arn, "Events": EVENTS}]}
        self.eventbridge_url = None
        if eventbridge:
            self.eventbridge_url, target = queue(aws, f"{name}-eb", "events.amazonaws.com")
            events = client(aws, "events")
            pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [name]}}}
            events.put_rule(Name=name, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": target}])
            configuration["EventBridgeConfiguration"] = {}
        self.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=configuration
        )
        self._records: list[dict] = []

    def rules(self, *rules: dict) -> None:
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=self.name, LifecycleConfiguration={"Rules": list(rules)}
        )

    def put(self, key: str, size: int, **options) -> str | None:
        return self.s3.put_object(Bucket=self.name, Key=key, Body=b"x" * size, **options).get(
            "VersionId"
        )

    def keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.name)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def versions(self) -> list[tuple[str, str, bool]]:
        """(key, version id, is a delete marker), newest first per key."""
        listing = self.s3.list_object_versions(Bucket=self.name)
        found = [(v["Key"], v["VersionId"], False) for v in listing.get("Versions", [])]
        found += [(m["Key"], m["VersionId"], True) for m in listing.get("DeleteMarkers", [])]
        return found

    def _drain(self, url: str) -> list[dict]:
        bodies = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def records(self) -> list[dict]:
        """Every S3 record received so far (no TestEvent), in sequencer order."""
        self._records += [
            r for body in self._drain(self.records_url) for r in body.get("Records", [])
        ]
        return sorted(self._records, key=lambda r: r["s3"]["object"]["sequencer"])

    def eventbridge_events(self) -> list[dict]:
        """The EventBridge events of lifecycle's changes, in sequencer order."""
        events = [
            e
            for e in self._drain(self.eventbridge_url)
            if e["detail"].get("reason") == "Lifecycle Expiration"
        ]
        return sorted(events, key=lambda e: e["detail"]["object"]["sequencer"])


def summary(records: list[dict]) -> list[tuple[str, str, str | None]]:
    return [
        (r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("versionId"))
        for r in records
    ]


def midnight_in(days: int) -> str:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
