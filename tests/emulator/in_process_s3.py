"""An emulator in the test process for S3 tests, whose events are read from an SQS queue.

S3 sends to an SQS destination while it serves the request, so once a request has returned its
records are in the queue: no polling, no Lambda workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.config import Config

from s3sizer.emulator import Emulator


@contextmanager
def in_process_emulator() -> Iterator[Emulator]:
    with Emulator(port=0, retry_backoff=0.01) as aws:
        yield aws


def client(aws: Emulator, service: str):
    return boto3.client(
        service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),  # botocore retries BadDigest
    )  # fmt: skip


class NotifiedBucket:
    """A bucket whose created and removed objects are sent to a queue of its own."""

    def __init__(self, aws: Emulator, name: str, versioning: str | None = None):
        self.s3, self.sqs, self.name = client(aws, "s3"), client(aws, "sqs"), name
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                     "Action": "sqs:SendMessage", "Resource": arn}  # fmt: skip
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
        )
        self.s3.create_bucket(Bucket=name)
        self.s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]},
        )  # fmt: skip
        if versioning:
            self.version(versioning)
        self.events()  # the configuration's s3:TestEvent

    def version(self, status: str) -> None:
        self.s3.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": status})

    def events(self) -> list[tuple[str, str, str | None]]:
        """(eventName, key, versionId) of each record sent since the last call, in change order."""
        records = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                records += json.loads(message["Body"]).get("Records", [])
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        records.sort(key=lambda record: record["s3"]["object"]["sequencer"])
        return [
            (r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("versionId"))
            for r in records
        ]

    def versions(self) -> list[tuple[str, str, bool, int | None]]:
        """(kind, versionId, IsLatest, Size) of every version and delete marker, as listed."""
        listing = self.s3.list_object_versions(Bucket=self.name)
        found = [("version", v["Key"], v["VersionId"], v["IsLatest"], v["Size"])
                 for v in listing.get("Versions", [])]  # fmt: skip
        found += [("marker", m["Key"], m["VersionId"], m["IsLatest"], None)
                  for m in listing.get("DeleteMarkers", [])]  # fmt: skip
        return sorted(found, key=lambda v: (v[1], not v[3]))
