"""An existing bucket is adopted: its objects and its other notification entries survive."""

from __future__ import annotations

import json

import boto3

from tests.cli.conftest import inventory

BUCKET = "users-own-bucket"


def make_users_bucket() -> tuple[dict, dict]:
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    objects = {"a.txt": b"hello", "dir/b b+.bin": b"\0" * 300, "ü/c": b"x" * 1234}
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    queue_url = sqs.create_queue(QueueName="users-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    foreign = {
        "QueueConfigurations": [
            {"Id": "users-entry", "QueueArn": queue_arn, "Events": ["s3:ObjectTagging:*"]}
        ]
    }
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=foreign)
    return objects, foreign


def notification() -> dict:
    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=BUCKET)
    config.pop("ResponseMetadata")
    return config


def contents() -> dict:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def test_setup_records_the_starting_totals_of_an_adopted_bucket(cli, aws):
    objects, _ = make_users_bucket()

    result = cli("setup", "--bucket", BUCKET)
    status = json.loads(cli("status", "--json").stdout)

    assert "adopting existing bucket" in result.stdout
    assert status["total_size"] == sum(map(len, objects.values()))
    assert status["object_count"] == len(objects)


def test_adopted_bucket_keeps_objects_and_foreign_notifications_through_teardown(cli, aws):
    objects, foreign = make_users_bucket()

    cli("setup", "--bucket", BUCKET)
    cli("deploy", "--no-layer")
    merged = notification()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=".s3sizer/plot.png", Body=b"png")
    cli("teardown", "--yes")

    ids = [e["Id"] for e in merged["QueueConfigurations"]]
    assert ids == ["users-entry", "s3sizer-size-tracking"]
    assert contents() == objects
    assert notification() == foreign
    left = inventory()
    assert left["buckets"] == [BUCKET]
    assert not left["tables"] and not left["functions"] and not left["roles"]


def test_setup_refuses_a_second_bucket_for_the_same_stack(cli, aws):
    cli("setup", "--bucket", "first-bucket")

    result = cli("setup", "--bucket", "second-bucket", code=1)

    assert "already tracks bucket 'first-bucket'" in result.stderr


def taken_bucket() -> dict:
    """The user's bucket with its creates already going to the user's own queue."""
    make_users_bucket()
    config = notification()
    config["QueueConfigurations"][0]["Events"] = ["s3:ObjectCreated:Put"]
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration=config
    )
    return config


def test_deploy_routes_a_bucket_whose_events_already_go_elsewhere_through_eventbridge(cli, aws):
    taken_bucket()
    cli("setup", "--bucket", BUCKET)

    plan = cli("deploy", "--no-layer", "--dry-run").stdout

    assert "delivery: eventbridge (entry 'users-entry' already takes s3:ObjectCreated:Put)" in plan


def test_deploy_refuses_a_route_that_would_overlap_before_creating_anything(cli, aws):
    config = taken_bucket()
    cli("setup", "--bucket", BUCKET)

    result = cli("deploy", "--no-layer", "--delivery", "sqs", code=1)

    assert "already sends s3:ObjectCreated:Put" in result.stderr
    assert "--delivery eventbridge" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not boto3.client("lambda").list_functions()["Functions"]
    assert notification() == config


def test_teardown_of_an_adopted_bucket_removes_only_what_s3sizer_wrote(cli, aws):
    objects, _ = make_users_bucket()
    s3 = boto3.client("s3")
    users_near_ours = {".s3sizer/users-notes.txt": b"mine", "s3sizer-driver/keep.csv": b"also mine"}
    for key, body in users_near_ours.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    cli("setup", "--bucket", BUCKET)
    for key in (".s3sizer/plot.png", "s3sizer-driver/assignment2.txt"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"s3sizer's")

    cli("teardown", "--yes")

    assert contents() == {**objects, **users_near_ours}


def test_a_bucket_setup_did_not_create_is_never_deleted(cli, aws, monkeypatch):
    from s3sizer.stack.apply import Executor

    real_create = Executor._create_bucket
    monkeypatch.setattr(Executor, "_create_bucket", lambda self, step: 1 / 0)
    cli("setup", "--bucket", BUCKET, code=1)  # dies after storing its config
    monkeypatch.setattr(Executor, "_create_bucket", real_create)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("s3").put_object(Bucket=BUCKET, Key="precious", Body=b"data")
    cli("setup", "--bucket", BUCKET)

    cli("teardown", "--yes")

    assert contents() == {"precious": b"data"}


def test_adoption_is_refused_when_the_keys_s3sizer_writes_are_taken(cli, aws):
    make_users_bucket()
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="s3sizer-driver/assignment2.txt", Body=b"precious"
    )

    result = cli("setup", "--bucket", BUCKET, code=1)

    assert "already holds s3sizer-driver/assignment2.txt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not boto3.client("dynamodb").list_tables()["TableNames"]
    assert contents()["s3sizer-driver/assignment2.txt"] == b"precious"
