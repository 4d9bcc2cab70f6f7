"""status, history, reconcile, logs and watch against moto."""

from __future__ import annotations

import json
import re
import time

import boto3

from s3sizer.cli import reads
from s3sizer.lambdas.history import History
from s3sizer.stack.baseline_lease import Lease
from tests.cli.conftest import DEFAULT_BUCKET


def ctrl_c(seconds: float) -> None:
    raise KeyboardInterrupt


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

    assert first == {
        "total_size": 123, "object_count": 2, "drift_bytes": 123, "drift_objects": 2,
        "drift_noncurrent_bytes": 0, "drift_noncurrent_versions": 0, "drift_delete_markers": 0,
        "resumed": False,
    }  # fmt: skip
    assert (status["total_size"], status["object_count"], status["max_size"]) == (123, 2, 123)
    assert (second["drift_bytes"], second["drift_objects"]) == (0, 0)


def test_reconcile_reports_the_drift_of_noncurrent_versions_and_delete_markers_too(cli, aws):
    cli("setup")
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=DEFAULT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    put("k", 100)
    put("k", 30)  # the 100 bytes are noncurrent now
    put("g", 5)
    s3.delete_object(Bucket=DEFAULT_BUCKET, Key="g")  # a marker over 5 noncurrent bytes

    first = cli("reconcile", "--json")
    text = cli("reconcile").stdout

    assert json.loads(first.stdout) == {
        "total_size": 30, "object_count": 1, "drift_bytes": 30, "drift_objects": 1,
        "drift_noncurrent_bytes": 105, "drift_noncurrent_versions": 2, "drift_delete_markers": 1,
        "resumed": False,
    }  # fmt: skip
    assert "noncurrent" not in text  # mended by the first: nothing left to report
    storage = json.loads(cli("status", "--json").stdout)["storage"]
    assert storage["noncurrent"]["bytes"] == 105


def test_reconcile_text_names_a_noncurrent_drift():
    from s3sizer.output import reconcile_text

    found = {"total_size": 10, "object_count": 1, "drift_bytes": 0, "drift_objects": 0}
    kept = {"drift_noncurrent_bytes": -1752, "drift_noncurrent_versions": -1}

    assert reconcile_text({**found, **kept, "drift_delete_markers": 0}) == (
        "10 B in 1 object; drift +0 bytes, +0 objects; noncurrent -1752 bytes in -1 version, "
        "+0 delete markers (corrected)"
    )


def test_the_history_table_names_its_bucket_prefix_and_stretch(cli, aws):
    cli("setup", "--prefix-depth", "1")
    put("logs/a", 5)
    cli("reconcile")

    whole = cli("history").stdout
    recent = cli("history", "--prefix", "logs/", "--since", "90m").stdout

    assert f"History of {DEFAULT_BUCKET}" in whole and "5 B" in whole
    assert f"History of {DEFAULT_BUCKET}, prefix logs/, last 90 min" in " ".join(recent.split())


def test_status_and_history_json_keys(cli, aws):
    cli("setup")
    put("a", 5)
    cli("reconcile")

    status = json.loads(cli("status", "--json").stdout)
    history = json.loads(cli("history", "--json").stdout)
    recent = json.loads(cli("history", "--since", "3600", "--json").stdout)
    same = json.loads(cli("history", "--since", "1h", "--json").stdout)

    assert list(status) == [
        "bucket",
        "total_size",
        "object_count",
        "max_size",
        "updated_at",
        "baseline",
        "delivery",
        "queued",
        "dead_letters",
        "stopped_mappings",
        "unfinished_untracks",
        "storage",
        "growth",
        "buckets",
    ]
    assert status["stopped_mappings"] == []  # not deployed: no mapping to stop
    assert status["unfinished_untracks"] == []
    assert status["baseline"] == {"state": "complete"}
    (row,) = status["buckets"]
    assert row == {
        **{k: status[k] for k in ("bucket", "total_size", "object_count", "max_size")},
        "updated_at": status["updated_at"],
        "baseline": {"state": "complete"},
        "delivery": None,
        "prefix_depth": 1,
    }
    assert status["updated_at"].endswith("Z")
    assert [list(p) for p in history] == [["timestamp", "total_size", "object_count"]] * 2
    assert [p["total_size"] for p in history] == [0, 5]
    assert recent == same == history
    assert "total size   5 B (5 bytes)" in cli("status").stdout
    assert history[0]["timestamp"] <= history[1]["timestamp"]


def test_plot_local_writes_a_png(cli, aws, tmp_path):
    cli("setup")
    put("a", 5)
    cli("reconcile")

    cli("plot", "--local", "--out", str(tmp_path / "p.png"), "--window", "60")

    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_local_by_prefix_draws_the_prefixes_under_the_total(cli, aws, tmp_path):
    cli("setup")
    put("logs/a", 5)
    put("data/b", 7)
    cli("reconcile")

    plain, stacked = tmp_path / "plain.png", tmp_path / "stacked.png"
    cli("plot", "--local", "--out", str(plain), "--window", "60")
    cli("plot", "--local", "--by-prefix", "--out", str(stacked), "--window", "60")

    assert stacked.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert stacked.read_bytes() != plain.read_bytes()  # the prefixes' areas are drawn


# The plotting function's group: nothing writes there unless it runs. (moto in-process tries to run
# the tracker in Docker when its queue gets S3's test event, and logs that it cannot.)
GROUP = "/aws/lambda/s3sizer-plotting"


def log(*messages: str, stream: str = "s1") -> None:
    """Events in the tracker's log group, one millisecond apart, the last one now."""
    logs = boto3.client("logs")
    if not logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - len(messages) + 1 + i, "message": text}
        for i, text in enumerate(messages)
    ]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def test_logs_prints_the_functions_events_oldest_first(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    log("first", "second")

    out = cli("logs", "plotting", "--since", "1m").stdout

    assert out.index("first") < out.index("second")
    # Each line starts with its date and time (UTC), as `aws logs tail` prints them.
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z first$", out.splitlines()[0])


def test_logs_shows_lambdas_json_lines_as_text_and_any_other_line_as_it_is(cli, aws):
    """The tracker and the fold log in Lambda's JSON format: a record reads as its level and
    message, a platform record as its type and fields, an EMF document as its metrics; any
    other line stays as it is."""
    cli("setup")
    cli("deploy", "--no-layer")
    directive = {"Namespace": "s3sizer", "Dimensions": [["Bucket"]],
                 "Metrics": [{"Name": "BucketSizeBytes", "Unit": "Bytes"}]}  # fmt: skip
    emf = json.dumps(
        {"_aws": {"CloudWatchMetrics": [directive]}, "Bucket": "b", "BucketSizeBytes": 3}
    )
    plain = "a plain print"
    record = {"timestamp": "2026-12-05T10:00:00.000Z", "level": "INFO", "message": "batch 3",
              "logger": "s3sizer", "requestId": "r-1"}  # fmt: skip
    failure = {"level": "ERROR", "message": "broken", "errorType": "ValueError",
               "errorMessage": "bad", "stackTrace": ['  File "a.py", line 1\n', "    x()\n"]}  # fmt: skip
    report = {"time": "2026-12-05T10:00:00.000Z", "type": "platform.report",
              "record": {"requestId": "r-2", "status": "error", "metrics": {"durationMs": 5.5}}}  # fmt: skip
    unhandled = {"timestamp": "2026-12-05T10:00:00Z", "level": "ERROR", "errorType": "KeyError",
                 "errorMessage": "'pk'", "requestId": "r-2", "stackTrace": []}  # fmt: skip
    log(json.dumps(record), json.dumps(failure), json.dumps(report), emf, plain,
        json.dumps(unhandled))  # fmt: skip

    lines = cli("logs", "plotting", "--since", "1m").stdout.splitlines()

    assert lines[0].endswith(" [INFO] batch 3")
    assert lines[1].endswith(" [ERROR] broken (ValueError: bad)")
    assert lines[2:4] == ['  File "a.py", line 1', "    x()"]
    assert lines[4].endswith(" platform.report requestId=r-2 status=error durationMs=5.5")
    assert lines[5].endswith(" [METRIC] s3sizer BucketSizeBytes=3 Bucket=b")
    assert lines[6].endswith(" " + plain)
    assert lines[7].endswith(" [ERROR] KeyError: 'pk'")


def test_logs_follow_prints_new_events_once_each_until_ctrl_c(cli, aws, monkeypatch):
    cli("setup")
    cli("deploy", "--no-layer")
    log("before")
    pauses = []

    def between_polls(seconds: float) -> None:
        # Each pause, a new event arrives; at the third pause the user presses Ctrl-C.
        pauses.append(seconds)
        if len(pauses) == 3:
            raise KeyboardInterrupt
        log(f"arrived {len(pauses)}", stream=f"s{len(pauses) + 1}")

    monkeypatch.setattr(reads, "_between_polls", between_polls)

    result = cli("logs", "plotting", "--follow", "--since", "1m")

    lines = [line.split(" ", 1)[1] for line in result.stdout.splitlines()]
    assert lines == ["before", "arrived 1", "arrived 2"]
    assert result.stderr == ""


def test_watch_on_a_terminal_shows_size_count_and_a_sparkline_until_ctrl_c(cli, aws, monkeypatch):
    import io

    from rich.console import Console

    from s3sizer import output

    cli("setup")
    put("a", 2048)
    cli("reconcile")
    monkeypatch.setattr(reads, "_between_refreshes", ctrl_c)  # the user stops after one view
    screen = io.StringIO()
    monkeypatch.setattr(
        output, "out", Console(file=screen, force_terminal=True, color_system=None, highlight=False)
    )

    cli("watch", "--interval", "2s", "--window", "1h")

    assert "2 KiB in 1 object " in screen.getvalue()
    assert any(bar in screen.getvalue() for bar in "▁▂▃▄▅▆▇█")


def test_a_reconcile_that_resumed_an_interrupted_run_says_its_drift_counts_that_run_too():
    from s3sizer.output import reconcile_text

    found = {"total_size": 10, "object_count": 1, "drift_bytes": 4, "drift_objects": 1}

    assert "resumed" not in reconcile_text({**found, "resumed": False})
    assert reconcile_text({**found, "resumed": True}).endswith(
        "(corrected); resumed an interrupted run, whose drift this counts too"
    )


def test_reconcile_on_a_fold_stack_names_a_gap_between_totals_and_keys_with_or_without_letters():
    from s3sizer.output import reconcile_text

    found = {"total_size": 10, "object_count": 1, "drift_bytes": 0, "drift_objects": 0}
    gap = {"unfolded_bytes": 7, "unfolded_objects": 1}

    assert reconcile_text({**found, "fold_dead_letters": 0, **dict.fromkeys(gap, 0)}).endswith(
        "drift +0 bytes, +0 objects"
    )
    alone = reconcile_text({**found, "fold_dead_letters": 0, **gap})
    assert "; the totals differ from the keys by -7 bytes, -1 object: changes the fold " in alone
    assert "run `s3sizer reconcile` again once the bucket is quiet, and only if the gap" in alone
    assert alone.endswith(
        "(`s3sizer untrack` and `track`; the first bucket: `teardown` and `setup`)"
    )
    waiting = reconcile_text({**found, "fold_dead_letters": 1, **gap})
    assert waiting.endswith(
        "1 stream batch waits in the stack's fold dead-letter queue: the totals differ from the "
        "keys by -7 bytes, -1 object until `s3sizer redrive` folds them"
    )


def test_status_of_a_bucket_no_baseline_has_counted_says_one_is_owed(cli, aws):
    """A setup stopped before its baseline recorded a range leaves no run to show: the bucket
    is not counted, so its status says so rather than "complete" at 0 objects."""
    boto3.client("s3").create_bucket(Bucket="counted-later")
    boto3.client("s3").put_object(Bucket="counted-later", Key="a", Body=b"12345")
    cli("setup", "--bucket", "counted-later")
    table = boto3.client("dynamodb")
    for sk in ("TOTALS", "BASELINE"):  # as before its baseline...
        table.delete_item(
            TableName="S3-object-size-history",
            Key={"pk": {"S": "B#counted-later"}, "sk": {"S": sk}},
        )
    history = History("S3-object-size-history", table)
    lease = Lease(history, "counted-later")
    lease.acquire()  # ... took the bucket's lease, and stopped before it recorded a range
    lease.release()

    got = json.loads(cli("status", "--json").stdout)

    assert got["buckets"][0]["baseline"] == {"state": "in_progress", "done": 0.0, "owed": True}
    assert "\nbaseline     owed: " in cli("status").stdout
