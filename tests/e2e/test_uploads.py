"""Unfinished multipart uploads on the local AWS: the stack's schedule polls them, `status`
shows exactly what ListMultipartUploads and ListParts show, `--refresh-uploads` polls at once,
`--uploads-every 0` removes the rule, and teardown leaves neither rule nor permission."""

from __future__ import annotations

import json
import urllib.request

from s3sizer.costs import prices
from tests.e2e.conftest import poll
from tests.e2e.test_money import aws_cli

MiB, GB = 2**20, 2**30


def start(s3, bucket: str, key: str, parts: int) -> str:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number in range(1, parts + 1):
        s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=b"u" * (5 * MiB)
        )
    return upload


def truth(s3, bucket: str) -> dict:
    """The unfinished uploads as S3 lists them (one page each: there are few)."""
    listed = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    parts = [
        part["Size"]
        for upload in listed
        for part in s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])[
            "Parts"
        ]
    ]
    oldest = min((u["Initiated"] for u in listed), default=None)
    return {
        "bytes": sum(parts),
        "uploads": len(listed),
        "oldest": None if oldest is None else oldest.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }


def shown(cli, *args: str) -> dict:
    storage = json.loads(cli("status", "--json", *args).stdout)["storage"]
    found = storage["incomplete_uploads"]
    return {**found, "cost": storage["monthly_cost_usd"], "billable": storage["billable_bytes"]}


def advance_schedules(cli, minutes: int) -> None:
    url = f"{cli.aws.endpoint_url}/_s3sizer/schedules/advance?minutes={minutes}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30):
        pass


def uploads_rules(cli) -> list[str]:
    rules = aws_cli(cli, "events", "list-rules", "--name-prefix", f"{cli.stack}-uploads")
    return [rule["Name"] for rule in rules.get("Rules", [])]


def metric_samples(cli) -> dict:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from s3sizer import metrics_server
    from s3sizer.aws import Aws
    from s3sizer.context import open_stack
    from s3sizer.settings import Settings

    settings = Settings(stack=cli.stack, region="us-east-1", endpoint_url=cli.aws.endpoint_url)
    ctx = open_stack(Aws(settings, placeholder_credentials=True))
    registry = CollectorRegistry()
    registry.register(metrics_server.StackCollector(ctx, prices.load("us-east-1")))
    text = generate_latest(registry).decode()
    return {
        (s.name, s.labels.get("bucket"), s.labels.get("state")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def tracker_policy(cli) -> str:
    """The tracker's resource policy ("" once its last statement is removed, as on AWS)."""
    functions = cli.aws.client("lambda")
    try:
        return functions.get_policy(FunctionName=f"{cli.stack}-size-tracking")["Policy"]
    except functions.exceptions.ResourceNotFoundException:
        return ""


def test_the_schedule_polls_the_unfinished_uploads_and_status_shows_them(stack_cli):
    cli = stack_cli
    cli("setup", "--uploads-every", "1m")
    plan = cli("deploy", "--no-layer").stdout
    assert f"put event rule: {cli.stack}-uploads-poll (rate(1 minute))" in plan
    s3 = cli.aws.client("s3")
    start(s3, cli.bucket, "videos/two-parts.bin", 2)
    ending = start(s3, cli.bucket, "videos/one-part.bin", 1)
    expected = truth(s3, cli.bucket)
    assert (expected["bytes"], expected["uploads"]) == (15 * MiB, 2)

    # The schedule's clock moves a minute on: the rule invokes the tracker, which polls.
    advance_schedules(cli, 1)
    poll(lambda: shown(cli)["uploads"] == 2, timeout=60)

    got = shown(cli)
    assert {k: got[k] for k in ("bytes", "uploads", "oldest")} == expected
    assert got["checked_at"] is not None
    # Parts are billed as STANDARD: by hand, 15 MiB at the table's first STANDARD tier.
    standard = prices.load("us-east-1").rate("STANDARD")[0].usd
    assert got["billable"] == 15 * MiB
    assert got["cost"] == round(15 * MiB / GB * standard, 4)

    # One ends; --refresh-uploads shows it at once, without waiting for the schedule.
    s3.abort_multipart_upload(Bucket=cli.bucket, Key="videos/one-part.bin", UploadId=ending)
    refreshed = shown(cli, "--refresh-uploads")
    assert {k: refreshed[k] for k in ("bytes", "uploads", "oldest")} == truth(s3, cli.bucket)
    assert (refreshed["bytes"], refreshed["uploads"]) == (10 * MiB, 1)
    assert refreshed["checked_at"] > got["checked_at"]

    # `s3sizer metrics` reads the same item.
    assert metric_samples(cli)["s3sizer_storage_bytes", cli.bucket, "uploads"] == 10 * MiB

    events = cli.aws.client("events")
    assert events.describe_rule(Name=f"{cli.stack}-uploads-poll")["State"] == "ENABLED"
    assert f"{cli.stack}-uploads-poll" in tracker_policy(cli)
    cli("deploy", "--no-layer", "--uploads-every", "0")
    assert uploads_rules(cli) == []
    assert f"{cli.stack}-uploads-poll" not in tracker_policy(cli)
    assert "polled" in cli("status").stdout  # the last figures stay, with their time

    cli("teardown", "--yes")
    assert cli.leftovers() == {}
