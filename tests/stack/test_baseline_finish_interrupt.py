"""Ctrl-C while a quiet baseline sets the totals: the setting ends first, then the command stops.

A quiet run (`setup` before the first deploy) sets the totals and every prefix's to what it
merged, over several transactions, and only its completion says it did. Stopped in between, the
live run that resumes it (the `deploy` after) would add what its ranges moved a second time.
"""

from __future__ import annotations

import os
import signal

import pytest

from s3sizer import interrupts
from s3sizer.lambdas import baseline_finish as ending
from s3sizer.lambdas import layout as lay
from s3sizer.stack import baseline_run
from s3sizer.stack.baseline_ranges import baseline_state, mark_due, stored_ranges
from s3sizer.stack.baseline_run import Interrupted
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_ranges import new_run, put_a_minute_ago
from tests.stack.test_baseline_run import BUCKET, assert_exact

stack, live = base.stack, base.live


@pytest.fixture
def ctrl_c(monkeypatch):
    """s3sizer's own SIGINT handler, as the CLI installs it, and a way to press Ctrl-C."""
    before = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(interrupts, "_pending", [False])
    monkeypatch.setattr(interrupts, "_deferring", [None])
    interrupts.install(terminate=True)
    yield lambda: os.kill(os.getpid(), signal.SIGINT)
    for stop, handler in before.items():
        signal.signal(stop, handler)


def test_ctrl_c_while_a_quiet_run_sets_the_prefixes_stops_it_once_they_are_set(
    stack, live, ctrl_c, monkeypatch, capsys
):
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    mend_prefixes = ending._mend_prefixes

    def pressed_after_the_bucket_s_totals(*args, **kwargs):
        ctrl_c()  # the bucket's totals are set by now; its prefixes are not
        return mend_prefixes(*args, **kwargs)

    monkeypatch.setattr(ending, "_mend_prefixes", pressed_after_the_bucket_s_totals)

    with pytest.raises(KeyboardInterrupt):
        new_run(stack, live_run=False).run()

    assert "Interrupted: setting the totals first (Ctrl-C again to stop now)" in (
        capsys.readouterr().err
    )
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}
    assert_exact(live)
    # ... then the route delivers, and the deploy's live run finds nothing to resume
    monkeypatch.setattr(ending, "_mend_prefixes", mend_prefixes)
    put_a_minute_ago(live, "p1/late", 7)
    assert not new_run(stack, live_run=True).run().resumed
    assert_exact(live)


@pytest.mark.parametrize(
    ("stop", "said"),
    [
        (signal.SIGINT, "Interrupted: keeping the pages being merged first (Ctrl-C again to stop now)"),
        (signal.SIGTERM, "Terminated: keeping the pages being merged first (SIGTERM again to stop now)"),
    ],
)  # fmt: skip
def test_a_stop_while_ranges_list_says_what_it_waits_for_and_the_same_run_resumes(
    stack, live, ctrl_c, capsys, stop, said
):
    # GIVEN a quiet run whose first page is merged when Ctrl-C (or a supervisor's SIGTERM) comes
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    running = new_run(stack, workers=1, live_run=False)
    pressed = []

    def press_once(progress) -> None:
        if progress.listed and not pressed:
            pressed.append(progress.listed)
            os.kill(os.getpid(), stop)

    running.on_progress = press_once
    with pytest.raises(KeyboardInterrupt):
        running.run()

    # THEN the wait for the pages being merged is said at once, in one line, the command's exit
    # code is the signal's, and the lease is given back: the same command, run again, resumes
    assert capsys.readouterr().err == said + "\n"
    assert interrupts.exit_code() == 128 + stop
    interrupts._pending[0] = False
    assert new_run(stack, live_run=False).run().resumed
    assert_exact(live)


class Killed(BaseException):
    """The process gone (kill -9, a lost machine): nothing of it runs after this point."""


# The default run kills it between two prefixes; the heavy tier before them, and after all.
@pytest.mark.parametrize(
    "sets_before_the_kill",
    [pytest.param(1, marks=pytest.mark.heavy), 2, pytest.param(4, marks=pytest.mark.heavy)],
)
def test_a_quiet_run_killed_while_it_sets_the_totals_counts_each_object_once(
    stack, live, monkeypatch, sets_before_the_kill
):
    # GIVEN a bucket of three folders, and a quiet run that sets one figure a transaction: the
    # bucket's totals first, then each folder's
    # WHEN the process is killed after that many of the sets (4: all, but not the completion)
    kill_a_quiet_run_after(stack, live, monkeypatch, sets_before_the_kill)
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"
    # ... the route delivers, the tracker writes, and the deploy's live run resumes the run
    put_a_minute_ago(live, "p1/late", 7)
    put_a_minute_ago(live, "p2/k0002", 11)
    resumed = new_run(stack, live_run=True).run()

    # THEN every object counts once: in the bucket's totals and in each folder's, and in their
    # histories, which draw each step once; the drift reported is the one the killed run found
    assert resumed.resumed
    assert (resumed.drift_bytes, resumed.drift_objects) == (270, 90)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}
    assert_exact(live)
    assert_histories_chain(live)


def kill_a_quiet_run_after(stack, live, monkeypatch, sets_before_the_kill: int):
    """A quiet run of 90 objects in three folders, killed (kill -9) after that many of its
    sets of the totals, one figure each: the bucket's totals first, then each folder's."""
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    monkeypatch.setattr(ending, "PREFIXES_TOGETHER", 1)
    quiet = new_run(stack, live_run=False)
    finish, transact = ending.finish, quiet.h.client.transact_write_items
    sets = []

    def transact_until_killed(**request):
        if len(sets) == sets_before_the_kill:
            raise Killed
        transact(**request)
        sets.append(request)

    def finish_then_killed(*args, **kwargs):
        patch.setattr(quiet.h.client, "transact_write_items", transact_until_killed)
        return finish(*args, **kwargs)

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(ending, "finish", finish_then_killed)
        patch.setattr(baseline_run.ranges_table, "complete", _killed)
        quiet.run()


def _killed(*args, **kwargs):
    raise Killed


@pytest.mark.parametrize("listed_before_the_stop", [pytest.param(10, marks=pytest.mark.heavy), 70])
def test_a_killed_quiet_run_listed_again_then_resumed_live_owes_what_changed_since(
    stack, live, monkeypatch, listed_before_the_stop
):
    # GIVEN a quiet run killed once it had set the bucket's totals and one folder's
    kill_a_quiet_run_after(stack, live, monkeypatch, 2)
    # ... a deploy that marked the route changed, then failed before the route was in place
    mark_due(live.h, BUCKET)
    # ... changes that no route carried, in every folder
    for folder, size in (("p0", 11), ("p1", 13), ("p2", 17)):
        live.s3.put_object(Bucket=BUCKET, Key=f"{folder}/unseen", Body=b"u" * size)
    # ... and `setup` again, still quiet, which lists every range again and is stopped
    again = new_run(stack, live_run=False, workers=1)

    def stop(progress) -> None:
        if progress.listed >= listed_before_the_stop:
            again._stop.set()

    again.on_progress = stop
    with pytest.raises(Interrupted):
        again.run()

    # WHEN the deploy's live run resumes it
    resumed = new_run(stack, live_run=True).run()

    # THEN the changes found after the kill count too, once, and each step is drawn once
    assert resumed.resumed
    assert_exact(live)
    assert_histories_chain(live)


def test_a_quiet_run_that_ends_across_a_change_of_route_draws_its_step_once(stack, live):
    # GIVEN a quiet run, one range at a time, whose route changes once a folder is done: it
    # sets the totals at its end, but stays in progress, to list every range again
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    quiet = new_run(stack, workers=1, live_run=False)

    def route_changes_half_way(progress) -> None:
        done = [r["span"].prefix for r in stored_ranges(live.h, BUCKET) if r["done"]]
        if any(done) and "due" not in vars(quiet):
            mark_due(live.h, BUCKET)
            quiet.due = True

    quiet.on_progress = route_changes_half_way
    quiet.run()
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"

    # WHEN the deploy's live run lists it again
    new_run(stack, live_run=True).run()

    # THEN its totals are exact, and its step is drawn once
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}
    assert_exact(live)
    assert_histories_chain(live)


def assert_histories_chain(live) -> None:
    """Each history's points chain from nothing: a step starts where the one before it ended,
    and the last ends at the figures now. A step drawn twice breaks the chain."""
    now = {lay.bucket_pk(BUCKET): live.h.totals(BUCKET)}
    for p in live.h.prefix_totals(BUCKET):
        now[lay.prefix_points_pk(BUCKET, p.prefix)] = p
    for pk, totals in now.items():
        steps = [
            ((int(i["prev_total_size"]["N"]), int(i["prev_object_count"]["N"])),
             (int(i["total_size"]["N"]), int(i["object_count"]["N"])))
            for i in live.h._query(pk, "begins_with(sk, :p)", {":p": {"S": lay.POINT_PREFIX}})
        ]  # fmt: skip
        ends = [(0, 0)] + [after for _, after in steps]
        assert [before for before, _ in steps] == ends[:-1], pk
        assert ends[-1] == (totals.total_size, totals.object_count), pk


def test_a_second_ctrl_c_stops_a_deferred_block_at_once(ctrl_c, capsys):
    went_on = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferred("saving"):
        ctrl_c()
        went_on.append("after the first")
        ctrl_c()
        went_on.append("after the second")

    assert went_on == ["after the first"]
    assert capsys.readouterr().err == "Interrupted: saving first (Ctrl-C again to stop now)\n"


def test_an_error_in_a_deferred_block_after_a_ctrl_c_is_reported_as_itself(ctrl_c):
    with pytest.raises(RuntimeError), interrupts.deferred("saving"):
        ctrl_c()
        raise RuntimeError("DynamoDB refused the write")

    assert not interrupts.caused(RuntimeError("DynamoDB refused the write"))
