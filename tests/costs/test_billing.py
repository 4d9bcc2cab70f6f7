"""The price table and S3's billing rules, as pure functions, checked against sums by hand."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from s3sizer.costs import billing, prices
from s3sizer.costs.storage import storage
from s3sizer.errors import UsageError

GB = 2**30
US = prices.load("us-east-1")


def n(value: int) -> dict:
    return {"N": str(value)}


def test_the_packaged_table_loads_from_the_installed_package_with_its_source_and_date():
    text = resources.files("s3sizer.costs").joinpath("prices.json").read_text(encoding="utf-8")
    table = json.loads(text)

    regions = prices.check_table(table, "packaged")

    assert table["source"].startswith("https://aws.amazon.com/s3/pricing")
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} <= set(regions)
    assert (US.region, US.as_of) == ("us-east-1", table["as_of"])
    assert US.rate("STANDARD")[0].usd == 0.023


def test_a_region_the_table_lacks_is_priced_as_us_east_1_and_says_so():
    assert prices.load("xx-nowhere-1").region == "us-east-1"


def test_standard_is_tiered_by_the_bytes_up_to_each_bound():
    tiers = US.rate("STANDARD")

    cost = billing.tiered_cost(60_000 * GB, tiers)

    assert cost == pytest.approx(51_200 * 0.023 + 8_800 * 0.022)


def test_each_rule_on_one_object():
    small = 1000
    assert billing.billable_object("STANDARD", small) == {"STANDARD": small}
    for cls in ("STANDARD_IA", "ONEZONE_IA", "GLACIER_IR"):
        assert billing.billable_object(cls, small) == {cls: 128 * 1024}
        assert billing.billable_object(cls, 200_000) == {cls: 200_000}
    for cls in ("GLACIER", "DEEP_ARCHIVE"):
        assert billing.billable_object(cls, small) == {cls: small + 32 * 1024, "STANDARD": 8 * 1024}


def test_the_breakdown_without_classes_prices_everything_as_standard():
    totals = {
        "total_size": n(3 * GB),
        "object_count": n(10),
        "noncurrent_bytes": n(GB),
        "noncurrent_versions": n(4),
        "delete_markers": n(2),
    }
    uploads = {"bytes": n(15 * 2**20), "uploads": n(2), "oldest": {"S": "2026-12-01T00:00:00Z"}}

    got = storage(totals, uploads, US)

    billable = 4 * GB + 15 * 2**20
    assert got["billable_bytes"] == billable
    assert got["monthly_cost_usd"] == round(billable / GB * 0.023, 4)
    assert got["by_class"] is None
    assert got["prices"] == {"region": "us-east-1", "as_of": US.as_of, "basis": "standard"}
    assert got["incomplete_uploads"] == {
        "bytes": 15 * 2**20,
        "uploads": 2,
        "oldest": "2026-12-01T00:00:00Z",
        "checked_at": None,
    }
    assert (got["noncurrent"], got["delete_markers"]) == ({"bytes": GB, "versions": 4}, 2)


def test_items_written_before_the_counters_read_as_zeros():
    got = storage({"total_size": n(5), "object_count": n(1)}, None, US)

    assert got["noncurrent"] == {"bytes": 0, "versions": 0}
    assert got["delete_markers"] == 0
    assert got["incomplete_uploads"]["uploads"] == 0
    assert got["billable_bytes"] == 5


def test_with_classes_each_class_pays_its_rate_and_its_rules():
    # One small IA object (1,000 bytes, padded to 128 KB) and two DEEP_ARCHIVE objects; the
    # TOTALS item holds the classes other than STANDARD flat (ADD creates them), and STANDARD
    # is what they leave of the totals.
    totals = {
        "total_size": n(3 * GB + 1000),
        "object_count": n(4),
        "storage_classes": {"BOOL": True},
        "c#STANDARD_IA#current_bytes": n(1000),
        "c#STANDARD_IA#objects": n(1),
        "c#STANDARD_IA#padding_bytes": n(128 * 1024 - 1000),
        "c#DEEP_ARCHIVE#current_bytes": n(2 * GB),
        "c#DEEP_ARCHIVE#objects": n(2),
    }

    got = storage(totals, None, US)

    by_hand = (
        (GB + 2 * 8 * 1024) / GB * 0.023
        + 128 * 1024 / GB * 0.0125
        + (2 * GB + 2 * 32 * 1024) / GB * 0.00099
    )
    assert got["monthly_cost_usd"] == round(by_hand, 4)
    assert got["prices"]["basis"] == "classes"
    assert got["by_class"]["DEEP_ARCHIVE"] == {
        "current_bytes": 2 * GB,
        "noncurrent_bytes": 0,
        "objects": 2,
    }
    assert got["by_class"]["STANDARD"] == {"current_bytes": GB, "noncurrent_bytes": 0, "objects": 1}
    # Counters without the switch (classes tracked once, then turned off) show nothing.
    del totals["storage_classes"]
    off = storage(totals, None, US)
    assert off["by_class"] is None and off["prices"]["basis"] == "standard"


@pytest.mark.parametrize(
    "table, words",
    [
        ([], "must be a JSON object"),
        ({"regions": {"us-east-1": {"STANDARD": 0.02}}}, '"as_of"'),
        ({"as_of": "2026-13-01", "regions": {"us-east-1": {"STANDARD": 0.02}}}, '"as_of"'),
        ({"as_of": "2026-01-01", "regions": {}}, '"regions"'),
        ({"as_of": "2026-01-01", "regions": {"us-east-1": {"GLACIER": 0.01}}}, "STANDARD"),
        ({"as_of": "2026-01-01", "regions": {"r": {"STANDARD": -1}}}, "a rate is"),
        ({"as_of": "2026-01-01", "regions": {"r": {"STANDARD": 1, "COLD": 1}}}, "'COLD'"),
        (
            {"as_of": "2026-01-01", "regions": {"r": {"STANDARD": [{"up_to_gb": 5, "usd": 1}]}}},
            "the last tier",
        ),
    ],
)
def test_a_malformed_table_is_one_usage_error_naming_the_problem(table, words):
    with pytest.raises(UsageError) as raised:
        prices.check_table(table, "mine.json")

    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_built_package_ships_the_price_table_and_reads_it_from_there(tmp_path):
    """setuptools' build (what a wheel holds) takes the table as package data."""
    pytest.importorskip("setuptools")  # a fresh venv may have none: pip builds in isolation
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    # A copy of the sources, so that the build's own files stay out of the working tree.
    source = tmp_path / "src"
    shutil.copytree(
        root / "s3sizer", source / "s3sizer", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    built = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
         "--build-lib", str(built)],
        cwd=source, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    read = (
        "from importlib import resources; import s3sizer.costs as c; "
        "print(c.__file__); print(resources.files(c).joinpath('prices.json').read_text()[:1])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", read], cwd=tmp_path, env={"PYTHONPATH": str(built)},
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split("\n")  # fmt: skip

    assert shown[0].startswith(str(built))
    assert shown[1] == "{"


def test_the_grafana_dashboard_charts_every_family_the_endpoint_serves():
    from pathlib import Path

    board = json.loads((Path(__file__).parents[2] / "docs" / "grafana-s3sizer.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])

    for family in (
        "s3sizer_bucket_size_bytes",
        "s3sizer_bucket_objects",
        "s3sizer_prefix_size_bytes",
        "s3sizer_storage_bytes",
        "s3sizer_monthly_cost_usd",
        "s3sizer_dead_letters",
        "s3sizer_queued",
        "s3sizer_fold_dead_letters",
        "s3sizer_fold_lag_seconds",
        "s3sizer_delivery_lag_seconds",
        "s3sizer_bucket_routed",
        "s3sizer_up",
    ):
        assert family in exprs
