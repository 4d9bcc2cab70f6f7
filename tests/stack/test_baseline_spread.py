"""A range that turns out long, while workers have nothing to do, hands what it has not listed
yet to them: every key still has exactly one range, while clients write, and after a stop."""

from __future__ import annotations

import random
import threading

import pytest

from s3sizer.lambdas.baseline import ListingStopped
from s3sizer.lambdas.baseline_keys import Span
from s3sizer.stack import baseline_split, baseline_spread
from s3sizer.stack.baseline_ranges import baseline_state
from s3sizer.stack.baseline_run import BaselineRun
from tests.stack import test_baseline_ranges as ranges
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_run import BUCKET, assert_exact
from tests.stack.test_baseline_split import (
    changed_then_resumed,
    interrupted_after,
    recorded_folder_split,
)

# The same local AWS and bucket (pages of 7 entries) as the baseline's other tests.
stack, live = base.stack, base.live


@pytest.fixture
def long_after_five_pages(monkeypatch):
    """A range hands over after 5 pages (AWS's 100 would be 700 keys here), and no folder is
    split when it starts, so that only a handover can spread it."""
    monkeypatch.setattr(baseline_spread, "AFTER_PAGES", 5)
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 10**9)


@pytest.fixture
def handed(monkeypatch) -> list[str]:
    """The prefixes of the ranges that hand over, in order."""
    seen: list[str] = []
    hand_over = baseline_spread.Spread.hand_over

    def spied(self, span):
        seen.append(span.prefix)
        return hand_over(self, span)

    monkeypatch.setattr(baseline_spread.Spread, "hand_over", spied)
    return seen


def bucket_of_one_big_folder() -> list[str]:
    """Small folders first, then a large one of numbered keys with awkward names among them."""
    return (
        [f"a{i}/k" for i in range(4)]
        + [f"big/obj-{i:04d}" for i in range(300)]
        + ["big/", "big/obj-", "big/obj-0", "big/obj-01\U0010ffff", "big/sub/a", "big/é", "top"]
    )


@pytest.mark.parametrize(
    "cursor", ["big/obj-0123", "big/obj-0", "big/", "big/obj-01\U0010ffff", "big/obj-0299"]
)
def test_what_lies_after_a_cursor_is_split_and_each_key_has_one_owner(stack, live, cursor):
    names = bucket_of_one_big_folder()
    for key in names:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")

    stretches = baseline_split.split_after(live.s3, BUCKET, "big/", cursor, 8)

    assert stretches == sorted(stretches)
    assert not any(a != b and b.startswith(a) for a in stretches for b in stretches)
    if cursor < "big/obj-02":
        assert len(stretches) >= 2
    rest = Span("big/", skip=tuple(stretches))
    for key in (k for k in names if k.startswith("big/")):
        held = [s for s in stretches if key.startswith(s)]
        if key <= cursor:  # listed already by the range: no stretch may take it
            assert held == [], key
        else:  # the range's own span (between the stretches) or exactly one stretch
            assert len(held) + rest.holds(key) == 1, key


def flat_bucket() -> list[str]:
    """Numbered keys at the top level, folders among them, and keys that begin others."""
    return [f"obj-{i:04d}" for i in range(300)] + ["obj-", "obj-0", "obj-01/x", "d/k", "zz"]


@pytest.mark.parametrize(
    ("layout", "long_range"),
    [pytest.param(bucket_of_one_big_folder, "big/", marks=pytest.mark.heavy), (flat_bucket, "")],
)
# The default run keeps a live run of an unversioned flat bucket; the heavy tier the others (5 s
# each: the folder's range hands over as the top level's does, from the same code).
@pytest.mark.parametrize(
    ("versioned", "live_run"),
    [
        (False, True),
        pytest.param(True, True, marks=pytest.mark.heavy),
        pytest.param(False, False, marks=pytest.mark.heavy),
        pytest.param(True, False, marks=pytest.mark.heavy),
    ],
)
def test_a_long_range_hands_its_rest_to_idle_workers_and_ends_exact_while_clients_write(
    stack, live, layout, long_range, versioned, live_run, long_after_five_pages, handed
):
    # GIVEN a bucket whose keys lie mostly in one folder (or at the top level, not split as the
    # run starts), listed from the start by one worker
    names = layout()
    live.fill(names, versioned=versioned)
    rng = random.Random(11)
    seen = []

    # WHEN clients write in the folder, before and after where it hands over, as it lists
    # (a quiet run, `setup` before the first deploy, has no clients)
    def write(progress) -> None:
        seen.append(progress.ranges)
        if not live_run:
            return
        home = "big/" if long_range else ""
        live.change(
            rng,
            rng.choice(
                [*names, f"{home}obj-{rng.randrange(400):04d}", f"{home}z{rng.randrange(9)}"]
            ),
        )

    run = ranges.new_run(stack, workers=4, versioned=versioned, live_run=live_run)
    run.on_progress = write
    run.run()

    # THEN the long range handed over (and maybe a long stretch of it after), its stretches ran
    # as ranges, and the totals are exact
    assert handed[0] == long_range and all(h.startswith(long_range) for h in handed)
    folders = len({k.split("/")[0] for k in names if "/" in k})
    assert max(seen) >= 1 + folders + 4  # the top level, its folders, and four stretches or more
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_run_stopped_after_a_handover_resumes_its_stretches_and_ends_exact(
    stack, live, long_after_five_pages
):
    # GIVEN a run whose large folder handed over, then stopped part way
    interrupted_after(stack, live, bucket_of_one_big_folder(), listed=200)
    recorded = recorded_folder_split(live)
    assert recorded["big/"]["cursor"] < min(recorded["big/"]["span"].skip)

    # WHEN objects change meanwhile, and the same command runs again, it lists about what the
    # first run had not, and the totals equal the listing
    assert changed_then_resumed(stack, live, "big/obj-0250") <= 311 - 200 + 311 // 10


def test_a_folder_split_as_it_starts_does_not_hand_over_and_lists_each_key_once(
    stack, live, monkeypatch, handed
):
    """A folder split as it starts keeps the keys no stretch holds, here deleted keys (versions
    and markers only, which the one-key requests do not see): long as that part may be, it
    does not hand over, as a split of its rest would overlap its stretches."""
    monkeypatch.setattr(baseline_spread, "AFTER_PAGES", 5)
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 5)
    live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for i in range(150):
        live.s3.put_object(Bucket=BUCKET, Key=f"big/a{i:03d}", Body=b"x")
        live.s3.delete_object(Bucket=BUCKET, Key=f"big/a{i:03d}")
    for i in range(300):
        live.s3.put_object(Bucket=BUCKET, Key=f"big/obj-{i:04d}", Body=b"h" * (i % 9 + 1))
    run = ranges.new_run(stack, workers=4, versioned=True, live_run=False)
    listed = []
    run.on_progress = lambda p: listed.append(p.listed)

    run.run()

    assert "big/" not in handed  # its stretches may, having no stretches of their own
    assert listed[-1] <= 150 * 2 + 300 + 7  # each version and marker once, and a page's slack
    assert_exact(live)


def test_a_stopped_run_spends_no_more_requests_on_a_split(stack, live):
    for key in bucket_of_one_big_folder():
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")
    asked = []

    def stopped() -> bool:
        asked.append(1)
        return len(asked) > 3  # Ctrl-C after three requests

    with pytest.raises(ListingStopped):
        baseline_split.split_after(live.s3, BUCKET, "big/", "big/obj-0123", 8, stop=stopped)
    assert len(asked) == 4


def test_folders_named_by_one_page_start_together_and_none_finds_a_worker_idle(
    stack, live, monkeypatch
):
    """The top level's page names its folders together: each range that starts sees the others
    waiting, so the first ones do not take the pool for idle and spend a split's probes on
    folders that every worker is about to be busy with."""
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 1)  # any folder past a page splits
    for folder in range(6):
        for i in range(20):
            live.s3.put_object(Bucket=BUCKET, Key=f"f{folder}/obj-{i:02d}", Body=b"x" * (i + 1))
    started: list[str] = []
    split: set[str] = set()
    at_start = baseline_spread.Spread.at_start

    def spied(self, span):
        started.append(span.prefix)
        out = at_start(self, span)
        if out[0].skip:
            split.add(span.prefix)
        return out

    monkeypatch.setattr(baseline_spread.Spread, "at_start", spied)
    submit = BaselineRun._submit

    def submit_then_yield(self, r):
        submit(self, r)
        threading.Event().wait(0.05)  # a busy process may switch threads between two submits

    monkeypatch.setattr(BaselineRun, "_submit", submit_then_yield)

    ranges.new_run(stack, workers=4).run()

    # The top level's range and three folders fill the 4 workers, three folders wait
    assert not split.intersection(started[:3])
    assert_exact(live)
