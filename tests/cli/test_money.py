"""`status` with the breakdown, the dollars and the growth, against moto in-process.

The breakdown counters and the uploads' item are put into the table here, as the tracker and
the uploads poll write them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from s3sizer.lambdas.layout import iso_ms
from tests.cli.conftest import DEFAULT_BUCKET

TABLE = "S3-object-size-history"
GB = 2**30


def n(value: int) -> dict:
    return {"N": str(value)}


def put_item(item: dict) -> None:
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


def put_totals(size: int, count: int, **counters: int) -> None:
    put_item(
        {
            "pk": {"S": f"B#{DEFAULT_BUCKET}"},
            "sk": {"S": "TOTALS"},
            "total_size": n(size),
            "object_count": n(count),
            "max_size": n(size),
            "version": n(1),
            "updated_at": {"S": iso_ms(datetime.now(UTC))},
            **{name: n(value) for name, value in counters.items()},
        }
    )


def put_point(
    when: datetime, before: int, after: int, pk: str | None = None, event="ObjectCreated:Put"
) -> None:
    ts = iso_ms(when)
    put_item(
        {
            "pk": {"S": pk or f"B#{DEFAULT_BUCKET}"},
            "sk": {"S": f"H#{ts}#{1:012d}"},
            "ts": {"S": ts},
            "total_size": n(after),
            "object_count": n(1),
            "prev_total_size": n(before),
            "prev_object_count": n(1),
            "event": {"S": event},
        }
    )


def status(cli, *args: str) -> dict:
    return json.loads(cli("status", "--json", *args).stdout)


def test_storage_holds_the_breakdown_and_the_dollars_by_standard_rates(cli, aws):
    cli("setup")
    put_totals(3 * GB, 10, noncurrent_bytes=GB, noncurrent_versions=4, delete_markers=2)
    put_item(
        {
            "pk": {"S": f"B#{DEFAULT_BUCKET}"},
            "sk": {"S": "UPLOADS"},
            "bytes": n(15 * 2**20),
            "uploads": n(2),
            "oldest": {"S": "2026-12-01T00:00:00.000Z"},
            "checked_at": {"S": "2026-12-03T00:00:00.000Z"},
        }
    )

    got = status(cli)

    storage = got["storage"]
    billable = 4 * GB + 15 * 2**20
    assert storage == {
        "current": {"bytes": 3 * GB, "objects": 10},
        "noncurrent": {"bytes": GB, "versions": 4},
        "delete_markers": 2,
        "incomplete_uploads": {
            "bytes": 15 * 2**20,
            "uploads": 2,
            "oldest": "2026-12-01T00:00:00.000Z",
            "checked_at": "2026-12-03T00:00:00.000Z",
        },
        "by_class": None,
        "billable_bytes": billable,
        "monthly_cost_usd": round(billable / GB * 0.023, 4),
        "prices": {"region": "us-east-1", "as_of": storage["prices"]["as_of"], "basis": "standard"},
    }
    assert storage["current"]["bytes"] == got["total_size"]


def test_a_stack_before_the_counters_shows_zeros_and_no_growth(cli, aws):
    cli("setup")

    got = status(cli)

    assert got["storage"]["noncurrent"] == {"bytes": 0, "versions": 0}
    assert got["storage"]["incomplete_uploads"] == {
        "bytes": 0,
        "uploads": 0,
        "oldest": None,
        "checked_at": None,
    }
    assert got["growth"] == {
        "bytes_per_day_1d": None,
        "bytes_per_day_7d": None,
        "projected_size_30d": None,
        "projected_monthly_cost_usd_30d": None,
    }


def test_growth_is_the_change_over_each_period_per_day(cli, aws):
    cli("setup")
    now = datetime.now(UTC)
    # 10 days ago the bucket held 1 GB; 3 days ago 2 GB; 12 hours ago 4 GB; now 4 GB.
    put_point(now - timedelta(days=10), 0, GB)
    put_point(now - timedelta(days=3), GB, 2 * GB)
    put_point(now - timedelta(hours=12), 2 * GB, 4 * GB)
    put_totals(4 * GB, 3)

    growth = status(cli)["growth"]

    assert growth["bytes_per_day_1d"] == 2 * GB  # from 2 GB a day ago
    assert growth["bytes_per_day_7d"] == round(3 * GB / 7, 1)  # from 1 GB a week ago
    assert growth["projected_size_30d"] == round(4 * GB + 30 * growth["bytes_per_day_7d"])
    projected = growth["projected_size_30d"] / GB * 0.023
    assert abs(growth["projected_monthly_cost_usd_30d"] - projected) < 0.0002


def test_a_history_shorter_than_the_period_gives_the_rate_over_what_there_is(cli, aws):
    cli("setup")
    now = datetime.now(UTC)
    put_point(now - timedelta(hours=2), 0, 1000)
    put_totals(1000, 1)

    growth = status(cli)["growth"]

    # 1,000 bytes in about two hours: about 12,000 a day over both periods.
    assert 11_900 < growth["bytes_per_day_1d"] <= 12_000
    assert growth["bytes_per_day_7d"] == growth["bytes_per_day_1d"]


def test_the_bytes_an_adopted_bucket_held_when_first_listed_are_not_growth(cli, aws):
    """The first baseline's point goes from nothing to what the listing found: the bucket held
    it before tracking began. Counted as growth, 5 GB adopted two hours ago made 60 GB a day."""
    cli("setup")
    now = datetime.now(UTC)
    put_point(now - timedelta(hours=2), 0, 5 * GB, event="s3sizer:Baseline")
    put_point(now - timedelta(hours=1), 5 * GB, 5 * GB + 1000)
    put_totals(5 * GB + 1000, 2)

    growth = status(cli)["growth"]

    assert 11_900 < growth["bytes_per_day_1d"] <= 12_000  # the 1,000 bytes put since, only
    assert growth["bytes_per_day_7d"] == growth["bytes_per_day_1d"]


def test_under_an_hour_of_history_gives_no_rate(cli, aws):
    cli("setup")
    put_point(datetime.now(UTC) - timedelta(minutes=30), 0, 1000)
    put_totals(1000, 1)

    assert status(cli)["growth"]["bytes_per_day_1d"] is None


def test_text_status_shows_the_cost_and_the_growth(cli, aws):
    cli("setup")
    put_totals(3 * GB, 10, noncurrent_bytes=GB, noncurrent_versions=4)

    text = cli("status").stdout

    assert "monthly cost $0.0920 at us-east-1's prices of" in text
    assert "noncurrent 1.0 GiB in 4 versions" in text or "noncurrent 1 GiB in 4 versions" in text
    assert "growth       not known yet: under an hour of history" in text


def test_prices_file_takes_the_users_own_rates(cli, aws, tmp_path):
    cli("setup")
    put_totals(GB, 1)
    mine = tmp_path / "mine.json"
    mine.write_text(
        json.dumps({"as_of": "2026-11-01", "regions": {"us-east-1": {"STANDARD": 0.01}}})
    )

    storage = status(cli, "--prices", str(mine))["storage"]

    assert storage["monthly_cost_usd"] == 0.01
    assert storage["prices"] == {"region": "us-east-1", "as_of": "2026-11-01", "basis": "standard"}


def test_a_malformed_prices_file_is_one_line_and_exit_2(cli, aws, tmp_path):
    cli("setup")
    mine = tmp_path / "mine.json"
    mine.write_text('{"as_of": "2026-11-01", "regions": {"us-east-1": {"STANDARD": "cheap"}}}')

    result = cli("status", "--prices", str(mine), code=2)
    missing = cli("status", "--prices", str(tmp_path / "none.json"), code=2)

    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "is malformed: us-east-1 STANDARD" in result.stderr
    assert "Traceback" not in result.stderr + missing.stderr


def test_by_prefix_entries_gain_noncurrent_bytes_and_growth(cli, aws):
    cli("setup")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="logs/a", Body=b"x" * 50)
    cli("reconcile")
    client = boto3.client("dynamodb")
    client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"B#{DEFAULT_BUCKET}#P"}, "sk": {"S": "P#logs/"}},
        UpdateExpression="SET noncurrent_bytes = :b",
        ExpressionAttributeValues={":b": n(70)},
    )

    found = json.loads(cli("status", "--by-prefix", "--json").stdout)

    assert found == [
        {
            "prefix": "logs/",
            "total_size": 50,
            "object_count": 1,
            "noncurrent_bytes": 70,
            "bytes_per_day_7d": None,
        }
    ]


def test_text_by_prefix_shows_noncurrent_bytes_and_growth_columns(cli, aws):
    cli("setup")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="logs/a", Body=b"x" * 50)
    cli("reconcile")

    text = cli("status", "--by-prefix").stdout

    assert "noncurrent" in text and "per day (7 d)" in text
    assert "Largest prefixes of s3sizer-" in " ".join(text.split())  # whose prefixes


def test_the_totals_and_the_bill_come_from_one_read_of_a_busy_bucket(cli, aws, monkeypatch):
    from s3sizer.lambdas import usage

    cli("setup")
    put_totals(3 * GB, 10)
    read = usage.usage_items

    def a_batch_commits_first(history, buckets):
        put_totals(3 * GB + 512, 11)  # the tracker, between status's reads
        return read(history, buckets)

    monkeypatch.setattr(usage, "usage_items", a_batch_commits_first)
    got = status(cli)
    text = cli("status").stdout

    current = got["storage"]["current"]
    assert (current["bytes"], current["objects"]) == (got["total_size"], got["object_count"])
    assert "monthly cost known once the baseline ends" not in text  # none is running
