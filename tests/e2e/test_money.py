"""The breakdown's reach on the local AWS: `s3sizer metrics` scraped and parsed against
`status --json`, the growth alarm and the dashboard checked with the AWS CLI, all gone after
teardown."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from s3sizer import metrics_server
from s3sizer.aws import Aws
from s3sizer.context import open_stack
from s3sizer.costs import prices
from s3sizer.settings import Settings
from tests.e2e.conftest import poll


def aws_cli(cli, *args: str) -> dict:
    env = os.environ | {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run(
        ["aws", "--endpoint-url", cli.aws.endpoint_url, "--region", "us-east-1", "--output",
         "json", *args],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout or "{}")


def test_metrics_alarm_and_dashboard_on_the_local_aws(stack_cli):
    cli = stack_cli
    cli("setup", "--alarm-growth", "1GB/h")
    cli("deploy", "--no-layer")
    s3 = cli.aws.client("s3")
    s3.put_object(Bucket=cli.bucket, Key="logs/a", Body=b"x" * 300)
    s3.put_object(Bucket=cli.bucket, Key="top", Body=b"y" * 20)
    poll(lambda: json.loads(cli("status", "--json").stdout)["object_count"] == 2, timeout=60)
    status = json.loads(cli("status", "--json").stdout)

    settings = Settings(stack=cli.stack, region="us-east-1", endpoint_url=cli.aws.endpoint_url)
    ctx = open_stack(Aws(settings, placeholder_credentials=True))
    server = metrics_server.make(ctx, prices.load("us-east-1"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    bucket = (("bucket", cli.bucket),)
    assert samples["s3sizer_bucket_size_bytes", bucket] == status["total_size"] == 320
    assert samples["s3sizer_bucket_objects", bucket] == status["object_count"]
    assert samples["s3sizer_prefix_size_bytes", (*bucket, ("prefix", "logs/"))] == 300
    assert samples["s3sizer_queued", ()] == status["queued"]
    assert (
        round(samples["s3sizer_monthly_cost_usd", bucket], 4)
        == (status["storage"]["monthly_cost_usd"])
    )

    alarms = aws_cli(
        cli, "cloudwatch", "describe-alarms", "--alarm-names", f"{cli.stack}-bucket-growth"
    )
    board = aws_cli(cli, "cloudwatch", "get-dashboard", "--dashboard-name", cli.stack)
    assert alarms["MetricAlarms"][0]["Threshold"] == 1e9
    assert cli.bucket in board["DashboardBody"]

    cli("teardown", "--yes")

    assert cli.leftovers() == {}


def test_a_prefix_holding_only_older_versions_stays_in_by_prefix_with_what_it_bills(stack_cli):
    # GIVEN a versioned bucket whose "old/" objects were all deleted: S3 still bills their
    # older versions
    cli = stack_cli
    cli("setup")
    s3 = cli.aws.client("s3")
    s3.put_bucket_versioning(Bucket=cli.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=cli.bucket, Key="old/a", Body=b"x" * 40)
    s3.put_object(Bucket=cli.bucket, Key="new/b", Body=b"y" * 5)
    s3.delete_object(Bucket=cli.bucket, Key="old/a")  # a delete marker on top
    cli("reconcile")

    found = {p["prefix"]: p for p in json.loads(cli("status", "--by-prefix", "--json").stdout)}

    # THEN it is listed, with no current bytes and its 40 older ones
    assert (found["old/"]["total_size"], found["old/"]["object_count"]) == (0, 0)
    assert found["old/"]["noncurrent_bytes"] == 40
    assert (found["new/"]["total_size"], found["new/"]["noncurrent_bytes"]) == (5, 0)
    cli("teardown", "--yes")
