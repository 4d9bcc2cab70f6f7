"""The stack's CloudWatch dashboard: deploy makes it, a second deploy leaves it, teardown
removes it."""

from __future__ import annotations

import json

import boto3

from tests.cli.conftest import DEFAULT_BUCKET


def dashboards() -> list[str]:
    entries = boto3.client("cloudwatch").list_dashboards()["DashboardEntries"]
    return [d["DashboardName"] for d in entries]


def test_deploy_makes_the_dashboard_and_teardown_removes_it(cli, aws):
    cli("setup")
    first = cli("deploy", "--no-layer")
    second = cli("deploy", "--no-layer")

    body = json.loads(
        boto3.client("cloudwatch").get_dashboard(DashboardName="s3sizer")["DashboardBody"]
    )
    metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    markdown = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert "put dashboard: s3sizer" in first.stdout
    assert "dashboard" not in second.stdout  # the same body: nothing to change
    assert ["s3sizer", "BucketSizeBytes", "Bucket", DEFAULT_BUCKET] in metrics
    assert ["s3sizer", "NumberOfObjects", "Bucket", DEFAULT_BUCKET] in metrics
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "s3sizer-events-dlq"] in (
        metrics
    )
    assert any(m[:2] == ["AWS/S3", "BucketSizeBytes"] and "StandardIAStorage" in m for m in metrics)
    assert "status --by-prefix" in markdown[0]

    result = cli("teardown", "--yes")

    assert "delete dashboard: s3sizer" in result.stdout
    assert dashboards() == []


def test_a_transaction_stack_charts_no_fold_queue(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")

    body = boto3.client("cloudwatch").get_dashboard(DashboardName="s3sizer")["DashboardBody"]

    assert "s3sizer-events-dlq" in body
    assert "fold-dlq" not in body
    assert "IteratorAge" not in body and "AsyncEventAge" not in body  # the queue counts its wait


def test_the_direct_route_charts_how_long_events_waited_in_lambda_s_queue(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer", "--delivery", "direct")

    body = json.loads(
        boto3.client("cloudwatch").get_dashboard(DashboardName="s3sizer")["DashboardBody"]
    )
    metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    assert ["AWS/Lambda", "AsyncEventAge", "FunctionName", "s3sizer-size-tracking"] in metrics
    assert not any("IteratorAge" in m for m in metrics)
