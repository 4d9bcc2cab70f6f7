"""--alarm-growth SIZE/PERIOD: parsed on the command line, stored in the config, removed by
`off` and by teardown."""

from __future__ import annotations

import boto3
import pytest
import typer

from s3sizer.cli.inputs import GrowthRate
from tests.checks import one_clean_error_line


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("10GB/h", (10 * 10**9, 3600)),
        ("500MiB/d", (500 * 2**20, 86400)),
        ("1GB/15m", (10**9, 900)),
        ("2 GiB/6h", (2 * 2**30, 6 * 3600)),
        ("off", (0, 0)),
    ],
)
def test_a_growth_is_a_size_per_period(text, parsed):
    assert GrowthRate()(text) == parsed


@pytest.mark.parametrize(
    "text, words",
    [
        ("10GB", "is not SIZE/PERIOD"),
        ("10GB/w", "PERIOD is minutes, hours or a day"),
        ("10GB/0h", "PERIOD is minutes, hours or a day"),
        ("10GB/2d", "from 1 minute to 1 day"),
        ("ten/h", "is not a size"),
        ("0GB/h", "must be more than 0 bytes"),
    ],
)
def test_what_is_not_a_growth_is_refused(text, words):
    with pytest.raises(typer.BadParameter, match=words):
        GrowthRate()(text)


def growth_alarms() -> list[dict]:
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return [a for a in alarms if a["AlarmName"] == "s3sizer-bucket-growth"]


def test_setup_makes_the_alarm_off_removes_it_and_a_rerun_keeps_it(cli, aws):
    cli("setup", "--alarm-growth", "10GB/h", "--alarm-above", "500GB")
    assert "Nothing to do" in cli("setup").stdout  # a plain re-run keeps both, as they are

    (alarm,) = growth_alarms()
    expression = next(m for m in alarm["Metrics"] if m["Id"] == "growth")
    stat = next(m for m in alarm["Metrics"] if m["Id"] == "m1")["MetricStat"]
    assert alarm["Threshold"] == 10e9
    assert expression["Expression"] == "DIFF(FILL(m1, REPEAT))"
    assert (stat["Period"], stat["Stat"]) == (3600, "Maximum")
    assert stat["Metric"]["MetricName"] == "BucketSizeBytes"

    cli("setup", "--alarm-growth", "off")
    assert growth_alarms() == []
    changed = cli("setup", "--alarm-above", "600GB", "--dry-run").stdout
    assert "put metric alarm: s3sizer-bucket-size" in changed


def size_alarms(name: str = "s3sizer-bucket-size") -> list[dict]:
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return [a for a in alarms if a["AlarmName"] == name]


def test_alarm_above_off_removes_the_size_alarm_of_the_first_bucket_and_of_another(cli, aws):
    cli("setup", "--alarm-above", "500GB")
    boto3.client("s3").create_bucket(Bucket="media-bucket")
    cli("track", "media-bucket", "--alarm-above", "1TB")
    (tracked,) = [
        a for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if a["Threshold"] == 1e12
    ]  # fmt: skip
    assert [a["Threshold"] for a in size_alarms()] == [500e9]

    cli("setup", "--alarm-above", "off")
    cli("track", "media-bucket", "--alarm-above", "off")

    assert size_alarms() == [] and size_alarms(tracked["AlarmName"]) == []
    cli("setup")  # a plain re-run does not bring it back
    assert size_alarms() == []


def test_teardown_removes_the_growth_alarm(cli, aws):
    cli("setup", "--alarm-growth", "500MiB/d")
    assert growth_alarms()

    cli("teardown", "--yes")

    assert growth_alarms() == []


def test_a_bad_growth_is_a_usage_error_before_anything_is_made(cli, aws):
    result = cli("setup", "--alarm-growth", "10GB/week", code=2)

    assert "--alarm-growth" in one_clean_error_line(result)
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
