"""A started emulator prepares its services before any client asks (emulator/warmup.py)."""

from __future__ import annotations

from s3sizer.emulator import Emulator, warmup


def _prepared_services(aws: Emulator) -> set[str]:
    return set(aws._server.app.app.app_instances)  # moto's dispatcher: one app per service


def test_every_warm_up_request_is_answered_and_changes_nothing():
    with Emulator(port=0) as aws:
        aws._warm_up.join(timeout=30)
        assert warmup.warm(aws.endpoint_url) == len(warmup.REQUESTS)
        import boto3

        def client(service):
            return boto3.client(
                service, endpoint_url=aws.endpoint_url, region_name=warmup.REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip

        assert client("s3").list_buckets()["Buckets"] == []
        assert client("dynamodb").list_tables()["TableNames"] == []
        assert client("sqs").list_queues().get("QueueUrls", []) == []
        assert client("lambda").list_functions()["Functions"] == []


def test_services_are_prepared_before_the_first_client_request():
    with Emulator(port=0) as aws:
        aws._warm_up.join(timeout=30)
        prepared = _prepared_services(aws)
        # moto's names for the services of REQUESTS ("lambda" is "awslambda" to it)
        assert {"s3", "dynamodb", "sqs", "awslambda", "events", "cloudwatch", "logs"} <= prepared


def test_a_stopped_emulator_ends_its_warm_up():
    aws = Emulator(port=0).start()
    aws.stop()
    assert aws._stopping.is_set()  # what the warm-up asks before each request
    assert not aws._warm_up.is_alive()


def test_the_warm_up_sends_nothing_once_told_to_stop():
    with Emulator(port=0) as aws:
        asked = []

        def stopped():
            asked.append(1)
            return len(asked) > 2  # asked before and after building each client: one request

        assert warmup.warm(aws.endpoint_url, stopped) == 1
