"""status, history, reconcile, logs and watch against moto."""

from __future__ import annotations

import json
import time

import boto3

from tests.cli.conftest import DEFAULT_BUCKET


def put(key: str, size: int) -> None:
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=b"x" * size)


def test_reconcile_reports_the_drift_and_corrects_it(cli, aws):
    cli("setup")
    put("a", 100)
    put("b b+", 23)
    put(".s3sizer/plot.png", 999)  # s3sizer's own artifact never counts

    first = json.loads(cli("reconcile", "--json").stdout)
    status = json.loads(cli("status", "--json").stdout)
    second = json.loads(cli("reconcile", "--json").stdout)

    assert first == {"total_size": 123, "object_count": 2, "drift_bytes": 123, "drift_objects": 2}
    assert (status["total_size"], status["object_count"], status["max_size"]) == (123, 2, 123)
    assert (second["drift_bytes"], second["drift_objects"]) == (0, 0)


def test_status_and_history_json_keys(cli, aws):
    cli("setup")
    put("a", 5)
    cli("reconcile")

    status = json.loads(cli("status", "--json").stdout)
    history = json.loads(cli("history", "--json").stdout)
    recent = json.loads(cli("history", "--since", "3600", "--json").stdout)

    assert list(status) == ["bucket", "total_size", "object_count", "max_size", "updated_at"]
    assert status["updated_at"].endswith("Z")
    assert [list(p) for p in history] == [["timestamp", "total_size", "object_count"]] * 2
    assert [p["total_size"] for p in history] == [0, 5]
    assert recent == history
    assert "total size   5 B (5 bytes)" in cli("status").stdout
    assert history[0]["timestamp"] <= history[1]["timestamp"]


def test_plot_local_writes_a_png(cli, aws, tmp_path):
    cli("setup")
    put("a", 5)
    cli("reconcile")

    cli("plot", "--local", "--out", str(tmp_path / "p.png"), "--window", "60")

    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_logs_prints_the_functions_events_oldest_first(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    logs = boto3.client("logs")
    group = "/aws/lambda/s3sizer-size-tracking"
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now - 2000, "message": "first"},
            {"timestamp": now, "message": "second"},
        ],
    )

    out = cli("logs", "size-tracking", "--since", "1m").stdout

    assert out.index("first") < out.index("second")


def test_watch_shows_size_count_and_a_sparkline(cli, aws):
    cli("setup")
    put("a", 2048)
    cli("reconcile")

    out = cli("watch", "--iterations", "1").stdout

    assert "2 KiB in 1 objects" in out
    assert any(bar in out for bar in "▁▂▃▄▅▆▇█")
