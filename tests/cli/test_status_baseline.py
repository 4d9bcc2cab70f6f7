"""What `status` says of a bucket's baseline: running (how far), or owed by a change of route
that stopped before it began."""

from __future__ import annotations

from s3sizer.status_view import status_text


def status(baseline: dict, rows: list[dict] | None = None) -> dict:
    return {
        "bucket": "first",
        "total_size": 10,
        "object_count": 1,
        "max_size": 10,
        "updated_at": None,
        "delivery": "sqs",
        "dead_letters": 0,
        "baseline": baseline,
        "buckets": rows or [],
    }


def row(bucket: str, baseline: dict) -> dict:
    return {"bucket": bucket, "total_size": 0, "object_count": 0, "max_size": 0,
            "updated_at": None, "delivery": "sqs", "baseline": baseline}  # fmt: skip


def test_a_running_baseline_says_how_far_it_got():
    text = status_text(status({"state": "in_progress", "done": 0.4}))
    assert "baseline     in progress, 40% merged" in text


def test_an_owed_baseline_says_what_to_run():
    owed = {"state": "in_progress", "done": 0.0, "owed": True}
    text = status_text(
        status(owed, [row("first", owed), row("second", {"state": "in_progress", "done": 0.5})])
    )
    assert "baseline     owed" in text
    assert "run the same setup, track or deploy again" in text
    assert "0% of the bucket's ranges" not in text
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("first ")).endswith("(baseline owed)")
    assert next(line for line in lines if line.startswith("second")).endswith(
        "(baseline 50% merged)"
    )


def test_a_complete_baseline_says_nothing():
    assert "baseline" not in status_text(status({"state": "complete"}))


def test_the_buckets_table_lines_up_under_its_header_when_every_name_is_short():
    done = {"state": "complete"}
    lines = status_text(status(done, [row("b1", done), row("media", done)])).splitlines()
    header = next(i for i, line in enumerate(lines) if line.endswith("route        last change"))
    for line in lines[header + 1 : header + 3]:
        assert line.index("sqs") == lines[header].index("route")
        assert len(line.split("  ")[0].rstrip()) <= len("bucket")
