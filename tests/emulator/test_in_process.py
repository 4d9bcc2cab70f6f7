"""The emulator in-process, as `s3sizer demo` runs it: wait_idle covers queues that event source
mappings read."""

from __future__ import annotations

import boto3

from s3sizer.emulator import Emulator

from .helpers import zip_bytes

HANDLER = "def handler(event, context):\n    return None\n"


def test_wait_idle_waits_until_mapped_queues_are_drained():
    with Emulator(port=0, retry_backoff=0.01) as aws:

        def client(service):
            return boto3.client(
                service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip

        sqs, lambda_client = client("sqs"), client("lambda")
        url = sqs.create_queue(QueueName="idle")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        role = client("iam").create_role(RoleName="idle", AssumeRolePolicyDocument="{}")
        lambda_client.create_function(
            FunctionName="idle", Runtime="python3.11", Role=role["Role"]["Arn"],
            Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": HANDLER})},
        )  # fmt: skip
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName="idle")
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "x"} for n in range(10)]
        )
        assert aws.wait_idle(timeout=30)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
