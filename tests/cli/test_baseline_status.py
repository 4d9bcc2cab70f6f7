"""`status` while a baseline is stopped half-way: its figures are partial, and say so."""

from __future__ import annotations

import json

import boto3
import pytest

from s3sizer import interrupts
from s3sizer.stack import baseline_run
from tests.cli.conftest import DEFAULT_BUCKET


@pytest.fixture
def stops_half_way(monkeypatch):
    """Each baseline run stops (as Ctrl-C would) once it has listed ``at`` objects."""
    # A stopped baseline's command exits at once, without joining its threads: here it must
    # not end pytest's process.
    monkeypatch.setattr(interrupts, "threads_may_run", lambda: False)
    real = baseline_run.BaselineRun.__init__
    at = {"listed": 0}

    def init(self, *args, on_progress=lambda progress: None, **kwargs):
        def watched(progress):
            on_progress(progress)
            if at["listed"] and progress.listed >= at["listed"]:
                raise KeyboardInterrupt

        real(self, *args, on_progress=watched, **kwargs)

    monkeypatch.setattr(baseline_run.BaselineRun, "__init__", init)
    return at


def _objects(bucket: str, count: int) -> int:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"p{i % 3}/k{i:04d}", Body=b"z" * (i % 7 + 1))
    return sum(i % 7 + 1 for i in range(count))


def test_a_stopped_setup_shows_what_its_ranges_merged_and_a_largest_at_least_that(
    cli, aws, stops_half_way
):
    """setup's quiet run writes the totals only at its end: while it is stopped, status shows
    what its ranges merged, not the 0 B of totals it has not written yet."""
    whole = _objects(DEFAULT_BUCKET, 600)
    stops_half_way["listed"] = 400
    cli("setup", "--workers", "1", code=130)

    row = json.loads(cli("status", "--json").stdout)
    assert row["baseline"]["state"] == "in_progress"
    assert 0 < row["total_size"] < whole and 0 < row["object_count"] < 600
    assert row["max_size"] >= row["total_size"]
    text = cli("status").stdout
    assert "monthly cost known once the baseline ends" in text and "billed" not in text

    stops_half_way["listed"] = 0
    cli("setup", "--workers", "1")
    assert "billed" in cli("status").stdout
    row = json.loads(cli("status", "--json").stdout)
    assert (row["total_size"], row["object_count"], row["baseline"]) == (
        whole, 600, {"state": "complete"}
    )  # fmt: skip


def test_a_stopped_quiet_reconcile_leaves_the_totals_a_whole_run_set(cli, aws, stops_half_way):
    """Before the first deploy a reconcile is quiet too, but the totals it runs over are whole:
    they stand until it ends, and status does not trade them for its partial sums."""
    whole = _objects(DEFAULT_BUCKET, 600)
    cli("setup", "--workers", "1")
    stops_half_way["listed"] = 400
    cli("reconcile", "--workers", "1", code=130)

    row = json.loads(cli("status", "--json").stdout)
    assert row["baseline"]["state"] == "in_progress"
    assert (row["total_size"], row["object_count"]) == (whole, 600)


def test_a_stopped_track_shows_a_largest_at_least_its_partial_totals(cli, aws, stops_half_way):
    cli("setup")
    cli("deploy", "--no-layer")
    _objects("more-bucket", 600)
    stops_half_way["listed"] = 400
    cli("track", "more-bucket", "--workers", "1", code=130)

    rows = json.loads(cli("status", "--json").stdout)["buckets"]
    [row] = [r for r in rows if r["bucket"] == "more-bucket"]
    assert row["baseline"]["state"] == "in_progress"
    assert row["total_size"] > 0 and row["max_size"] >= row["total_size"]


def _lease_held_elsewhere(bucket: str):
    """Another command's baseline of ``bucket`` under way: its lease on the BASELINE item."""
    from s3sizer.aws import Aws
    from s3sizer.context import open_stack
    from s3sizer.settings import Settings
    from s3sizer.stack.baseline_lease import Lease

    ctx = open_stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
    lease = Lease(ctx.history.history, bucket)
    lease.acquire()
    return lease


@pytest.mark.parametrize("command", ["setup", "track"])
def test_a_new_depth_refused_while_another_baseline_runs_changes_nothing(cli, aws, command):
    """The baseline a new depth needs cannot run while another command's runs: refused before
    any step, the depth is not stored, and the same command run later does it all."""
    _objects(DEFAULT_BUCKET, 30)
    s3 = boto3.client("s3", region_name="us-east-1")
    for i in range(4):  # a second level, which only the new depth counts
        s3.put_object(Bucket=DEFAULT_BUCKET, Key=f"p0/deep/k{i}", Body=b"d")
    cli("setup")
    other = _lease_held_elsewhere(DEFAULT_BUCKET)
    try:
        args = ["setup"] if command == "setup" else ["track", DEFAULT_BUCKET]
        refused = cli(*args, "--prefix-depth", "2", code=1)
    finally:
        other.release()

    assert "is running in another s3sizer command" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert json.loads(cli("status", "--json").stdout)["buckets"][0]["prefix_depth"] == 1
    assert "record baseline" in cli("setup", "--prefix-depth", "2", "--dry-run").stdout
    cli("setup", "--prefix-depth", "2")
    deep = json.loads(cli("status", "--by-prefix", "--depth", "2", "--json").stdout)
    assert {p["prefix"]: p["object_count"] for p in deep if p["prefix"].count("/") == 2} == {
        "p0/deep/": 4
    }
    assert "Nothing to do" in cli("setup", "--prefix-depth", "2").stdout


def test_a_new_depth_whose_baseline_could_not_start_is_owed_and_run_again(cli, aws, monkeypatch):
    """Another command takes the bucket's baseline after setup planned (past its check): setup
    stores the depth, then its baseline is refused. The baseline was marked owed before the
    depth was stored, so the same command run again takes it, instead of finding nothing to
    do with the prefixes of the new depth never counted."""
    from s3sizer.stack import plan

    _objects(DEFAULT_BUCKET, 30)
    cli("setup")
    monkeypatch.setattr(plan, "refuse_baselines_running", lambda *_: None, raising=False)
    other = _lease_held_elsewhere(DEFAULT_BUCKET)
    try:
        cli("setup", "--prefix-depth", "2", code=1)
    finally:
        other.release()

    assert json.loads(cli("status", "--json").stdout)["baseline"]["state"] == "in_progress"
    assert "run the same setup, track or deploy again" in " ".join(cli("status").stdout.split())
    again = cli("setup", "--prefix-depth", "2")
    assert "Nothing to do" not in again.stdout
    assert json.loads(cli("status", "--json").stdout)["baseline"] == {"state": "complete"}
