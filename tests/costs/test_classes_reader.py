"""What `status` and `s3sizer metrics` read of the storage classes on a TOTALS item: the switch,
the flat counters of the classes other than STANDARD, and STANDARD as what they leave."""

from __future__ import annotations

from s3sizer.costs import prices
from s3sizer.costs.storage import classes_of, storage
from s3sizer.metrics_server import storage_samples


def n(value: int) -> dict:
    return {"N": str(value)}


TOTALS = {
    "total_size": n(1000),
    "object_count": n(3),
    "noncurrent_bytes": n(500),
    "noncurrent_versions": n(2),
    "storage_classes": {"BOOL": True},
    "c#GLACIER#current_bytes": n(300),
    "c#GLACIER#objects": n(1),
    "c#GLACIER#noncurrent_bytes": n(200),
    "c#GLACIER#noncurrent_versions": n(1),
    "c#ONEZONE_IA#current_bytes": n(0),  # a class that held something once: shown no more
}


def test_standard_is_what_the_other_classes_leave():
    got = classes_of(TOTALS)
    assert sorted(got) == ["GLACIER", "STANDARD"]
    standard = {name: int(value["N"]) for name, value in got["STANDARD"].items()}
    assert standard == {
        "current_bytes": 700,
        "noncurrent_bytes": 300,
        "objects": 2,
        "noncurrent_versions": 1,
        "padding_bytes": 0,
    }
    shown = storage(TOTALS, None, prices.load("us-east-1"))["by_class"]
    assert shown["GLACIER"] == {"current_bytes": 300, "noncurrent_bytes": 200, "objects": 1}


def test_metrics_report_each_class_current_and_noncurrent():
    samples = storage_samples(TOTALS, {"bytes": n(5)})
    assert samples == [
        ("GLACIER", "current", 300),
        ("GLACIER", "noncurrent", 200),
        ("STANDARD", "current", 700),
        ("STANDARD", "noncurrent", 300),
        ("STANDARD", "uploads", 5),
    ]
    without = {k: v for k, v in TOTALS.items() if k != "storage_classes"}
    assert classes_of(without) is None
    assert storage_samples(without, None)[0] == ("STANDARD", "current", 1000)
