"""One baseline of a bucket at a time: a second command refuses while the first holds the
bucket's lease, resumes once a killed command's lease has run out, and stops if it lost it."""

from __future__ import annotations

import time

import pytest

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History
from s3sizer.stack import baseline_lease, listing
from s3sizer.stack.baseline_lease import Lease
from s3sizer.stack.baseline_run import BaselineRun, Interrupted, listing_client

BUCKET = "leased-bucket"


@pytest.fixture
def h(stack, monkeypatch):
    ddb = stack.client("dynamodb")
    ddb.create_table(**lay.table_definition(stack.names.table))
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for i in range(12):
        s3.put_object(Bucket=BUCKET, Key=f"{'ab'[i % 2]}/k{i}", Body=b"x" * (i + 1))
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    return History(stack.names.table, ddb, prefix_depth=1)


def baseline(stack, h, on_progress=lambda progress: None) -> BaselineRun:
    return BaselineRun(
        h, listing_client(stack.aws), BUCKET, versioned=False, depth=1, live=False,
        on_progress=on_progress,
    )  # fmt: skip


def state_item(h) -> dict:
    return h._get(lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK)) or {}


def test_a_second_baseline_of_the_bucket_refuses_while_the_first_holds_it(stack, h):
    # GIVEN another command's baseline of the bucket under way
    other = Lease(h, BUCKET)
    other.acquire()
    try:
        before = state_item(h)

        # WHEN this command baselines the same bucket
        with pytest.raises(StackError) as refused:
            baseline(stack, h).run()

        # THEN it says so in one line, and has changed nothing
        assert "is running in another s3sizer command" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert state_item(h) == before
        assert list(h._query(lay.range_pk(BUCKET))) == []
        assert h.totals(BUCKET).object_count == 0
    finally:
        other.release()


def test_a_killed_commands_lease_runs_out_and_the_same_command_resumes(stack, h):
    # GIVEN a baseline stopped half-way by an interruption, its lease left as a kill leaves it
    def stop_half_way(progress) -> None:
        if progress.ranges_done >= 1:
            raise KeyboardInterrupt

    first = baseline(stack, h, stop_half_way)
    with pytest.raises((KeyboardInterrupt, Interrupted)):
        first.run()
    h.client.update_item(
        TableName=h.table_name,
        Key=lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK),
        UpdateExpression="SET #o = :other, lease_until = :past",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":other": {"S": "killed"}, ":past": lay.n(int(time.time()) - 1)},
    )
    assert state_item(h)["state"]["S"] == lay.BASELINE_RUNNING

    # WHEN the command runs again
    baseline(stack, h).run()

    # THEN it completes, exact, and gives the bucket up
    totals = h.totals(BUCKET)
    assert (totals.total_size, totals.object_count) == (sum(range(1, 13)), 12)
    item = state_item(h)
    assert item["state"]["S"] == lay.BASELINE_COMPLETE
    assert "owner" not in item and "lease_until" not in item


def test_a_command_paused_past_its_lease_stops_when_another_took_over(stack, h, monkeypatch):
    # GIVEN a baseline whose lease another command takes while it is paused between pages
    monkeypatch.setattr(baseline_lease, "RENEW_SECONDS", 0.05)
    run = None

    def taken_over(progress) -> None:
        if progress.ranges_done == 0 or run.lease.lost:
            return
        h.client.update_item(
            TableName=h.table_name,
            Key=lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK),
            UpdateExpression="SET #o = :other",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":other": {"S": "the other command"}},
        )
        deadline = time.monotonic() + 10
        while not run.lease.lost and time.monotonic() < deadline:
            time.sleep(0.01)

    run = baseline(stack, h, taken_over)

    # WHEN its next renewal finds the lease taken
    with pytest.raises(StackError) as stopped:
        run.run()

    # THEN it stops at its next page, says so, and leaves the lease to the other command
    assert "took over the baseline" in str(stopped.value)
    assert state_item(h)["owner"]["S"] == "the other command"


def test_ctrl_c_just_as_the_lease_is_taken_gives_it_back(stack, h, monkeypatch):
    """Ctrl-C while the lease's write is answered (it landed, the answer was not read): the
    command gives the bucket back, so running it again resumes at once instead of refusing
    for a minute."""
    real = Lease._write

    def write_then_ctrl_c(self, now, condition):
        real(self, now, condition)
        raise KeyboardInterrupt

    monkeypatch.setattr(Lease, "_write", write_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        baseline(stack, h).run()
    monkeypatch.setattr(Lease, "_write", real)

    assert not baseline_lease.held_now(h, BUCKET)
    baseline(stack, h).run()
    assert h.totals(BUCKET).object_count == 12
