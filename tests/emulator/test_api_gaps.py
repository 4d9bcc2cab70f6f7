"""What moto leaves out, filled in as AWS does it: LoggingConfig, architectures, the TTL rule,
versionId=null, and metrics from Embedded Metric Format log lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from .helpers import create_function, invoke, poll, zip_bytes

pytestmark = pytest.mark.emulator

LOGGING_HANDLER = """
import logging

def handler(event, context):
    logging.getLogger("app").info("applied %d", 3)
    logging.getLogger("app").debug("hidden")
"""


def test_logging_config_is_stored_returned_and_applied(emulator):
    lambda_client = emulator.client("lambda")
    create_function(emulator, "logging-config", LOGGING_HANDLER)
    assert lambda_client.get_function_configuration(FunctionName="logging-config")[
        "LoggingConfig"
    ] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/logging-config"}
    lambda_client.update_function_configuration(
        FunctionName="logging-config",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )
    config = lambda_client.get_function(FunctionName="logging-config")["Configuration"]
    assert config["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/logging-config",
    }  # fmt: skip
    invoke(emulator, "logging-config")
    logs = emulator.client("logs")

    def json_lines():
        events = logs.filter_log_events(logGroupName="/aws/lambda/logging-config")["events"]
        return [json.loads(e["message"]) for e in events if e["message"].startswith("{")]

    lines = poll(lambda: len(json_lines()) == 4 and json_lines())
    [line] = [line for line in lines if "level" in line]
    assert (line["level"], line["message"], line["logger"]) == ("INFO", "applied 3", "app")
    assert line["requestId"] and line["timestamp"].endswith("Z")
    # At the default system level the platform's lines come too, as JSON records.
    platform = [line for line in lines if "type" in line]
    assert [p["type"] for p in platform] == [
        "platform.start", "platform.runtimeDone", "platform.report"
    ]  # fmt: skip
    report = platform[-1]["record"]
    assert report["requestId"] == line["requestId"] and report["status"] == "success"
    assert set(report["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB"}


SYSTEM_LEVEL_HANDLER = """
import json, logging

def handler(event, context):
    print(json.dumps({"_aws": {"CloudWatchMetrics": []}, "plain": 1}))
    print(json.dumps({"level": "debug", "msg": "filtered by the application level"}))
    logging.getLogger("app").warning("kept")
    if event.get("fail"):
        raise ValueError("broken")
"""


def test_a_system_log_level_of_warn_leaves_out_a_good_invocations_platform_lines(emulator):
    """What the tracker and the fold run with: only the function's own lines of a successful
    invocation; a failed one keeps its platform lines, whose status says how it ended."""
    create_function(emulator, "system-warn", SYSTEM_LEVEL_HANDLER)
    emulator.client("lambda").update_function_configuration(
        FunctionName="system-warn",
        LoggingConfig={
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "WARN",
        },
    )
    logs = emulator.client("logs")

    def messages():
        events = logs.filter_log_events(logGroupName="/aws/lambda/system-warn")["events"]
        return [e["message"] for e in events]

    invoke(emulator, "system-warn")
    lines = poll(lambda: len(messages()) >= 2 and messages())
    assert len(lines) == 2, lines  # the EMF document (no level: INFO) and the warning
    assert json.loads(lines[0])["plain"] == 1
    assert json.loads(lines[1])["message"] == "kept"
    assert not any("START" in m or "REPORT" in m or "platform." in m for m in lines)

    invoke(emulator, "system-warn", {"fail": True})
    failed = poll(lambda: [m for m in messages() if "platform.report" in m])
    assert json.loads(failed[0])["record"]["status"] == "error"
    # The runtime writes the unhandled error as one JSON record too, before the report line.
    lines = messages()
    [error] = [json.loads(m) for m in lines if '"errorType"' in m]
    assert (error["level"], error["errorType"], error["errorMessage"]) == (
        "ERROR", "ValueError", "broken"
    )  # fmt: skip
    assert error["requestId"] and error["stackTrace"] and error["timestamp"].endswith("Z")
    assert lines.index(json.dumps(error)) < lines.index(failed[0])


def test_update_function_code_with_architectures_changes_them(emulator):
    lambda_client = emulator.client("lambda")
    create_function(emulator, "arch-switch", "def handler(e, c): return 1")
    assert lambda_client.get_function_configuration(FunctionName="arch-switch")[
        "Architectures"
    ] == ["x86_64"]
    lambda_client.update_function_code(
        FunctionName="arch-switch",
        ZipFile=zip_bytes({"app.py": "def handler(e, c): return 2"}),
        Architectures=["arm64"],
    )
    assert lambda_client.get_function_configuration(FunctionName="arch-switch")[
        "Architectures"
    ] == ["arm64"]
    assert invoke(emulator, "arch-switch")["Body"] == 2


def test_a_second_ttl_change_within_an_hour_is_refused(emulator):
    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName="ttl-twice", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    spec = {"AttributeName": "expires", "Enabled": True}
    ddb.update_time_to_live(TableName="ttl-twice", TimeToLiveSpecification=spec)
    with pytest.raises(ClientError) as refused:
        ddb.update_time_to_live(
            TableName="ttl-twice", TimeToLiveSpecification={**spec, "Enabled": False}
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        "Time to live has been modified multiple times within a fixed interval"
    )
    status = ddb.describe_time_to_live(TableName="ttl-twice")["TimeToLiveDescription"]
    assert status["TimeToLiveStatus"] == "ENABLED"


def test_version_id_null_reads_an_unversioned_bucket_object(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="null-version")
    s3.put_object(Bucket="null-version", Key="k", Body=b"abc")
    assert s3.head_object(Bucket="null-version", Key="k", VersionId="null")["ContentLength"] == 3
    body = s3.get_object(Bucket="null-version", Key="k", VersionId="null")["Body"].read()
    assert body == b"abc"


EMF_HANDLER = """
import json, time

def handler(event, context):
    print(json.dumps({
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": "emf-test", "Dimensions": [["Bucket"]],
            "Metrics": [{"Name": "BucketSizeBytes", "Unit": "Bytes", "StorageResolution": 1}],
        }]},
        "Bucket": "b1", "BucketSizeBytes": event["size"],
    }))
"""


def test_embedded_metric_format_lines_become_cloudwatch_metrics(emulator):
    create_function(emulator, "emf", EMF_HANDLER)
    invoke(emulator, "emf", {"size": 1234})
    cloudwatch = emulator.client("cloudwatch")
    now = datetime.now(UTC)

    def values():
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "size", "MetricStat": {
                "Metric": {"Namespace": "emf-test", "MetricName": "BucketSizeBytes",
                           "Dimensions": [{"Name": "Bucket", "Value": "b1"}]},
                "Period": 1, "Stat": "Maximum"}}],
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5),
        )  # fmt: skip
        return result["MetricDataResults"][0]["Values"]

    assert poll(values) == [1234.0]
    statistics = cloudwatch.get_metric_statistics(
        Namespace="emf-test", MetricName="BucketSizeBytes",
        Dimensions=[{"Name": "Bucket", "Value": "b1"}], Period=1, Statistics=["Maximum"],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5),
    )  # fmt: skip
    assert [p["Maximum"] for p in statistics["Datapoints"]] == [1234.0]
