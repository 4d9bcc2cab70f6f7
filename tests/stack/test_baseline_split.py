"""A flat top level split into stretches of keys that start alike, listed side by side: every
key still has exactly one range, while clients write, and after an interruption."""

from __future__ import annotations

import random

import pytest

from s3sizer.lambdas.baseline_keys import Span
from s3sizer.stack import baseline_split, listing
from s3sizer.stack.baseline_ranges import baseline_state, stored_ranges
from s3sizer.stack.baseline_run import Interrupted
from tests.stack import test_baseline_ranges as ranges
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_run import BUCKET, assert_exact

# The same local AWS and bucket (pages of 7 entries) as the baseline's other tests.
stack, live = base.stack, base.live


@pytest.fixture
def split_from_one_page(monkeypatch):
    """A top level of more than a page is split (AWS's threshold, 20 pages, is 140 keys here)."""
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 1)


def owners(key: str, stretches: list[str]) -> list[Span]:
    """The spans of a split top level that hold ``key``."""
    spans = [Span(s, direct=True) for s in stretches]
    spans.append(Span("", direct=True, skip=tuple(stretches)))
    return [span for span in spans if span.holds(key)]


@pytest.mark.parametrize(
    "names",
    [
        [f"obj-{i:05d}" for i in range(300)],  # numbered, a long common beginning
        [f"{random.Random(i).getrandbits(32):08x}" for i in range(300)],  # hashed
        # Names that are keys and beginnings of others, folders among the flat keys, and a key
        # with the largest character right after a stretch's name.
        ["a", "ab", "abc", "abd/x", "ab/y", "b", "b\U0010ffffz", "bc", "bd", "c/d/e"]
        + [f"ab{i:03d}" for i in range(40)],
    ],
    ids=["numbered", "hashed", "awkward"],
)
def test_a_split_gives_every_top_level_key_exactly_one_range(stack, live, names):
    for key in names:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")

    stretches = baseline_split.split_level(live.s3, BUCKET, "", 8)

    assert len(stretches) >= 2
    assert stretches == sorted(stretches)
    assert not any(a != b and b.startswith(a) for a in stretches for b in stretches)
    assert not any(s.endswith("/") for s in stretches)
    for key in names:  # a folder's keys are its own range's; every other key has one span
        assert len(owners(key, stretches)) == (0 if "/" in key else 1), key


def test_a_level_of_few_keys_is_not_split(stack, live):
    for i in range(6):  # less than a page (7 here)
        live.s3.put_object(Bucket=BUCKET, Key=f"obj-{i}", Body=b"k")
    for i in range(30):
        live.s3.put_object(Bucket=BUCKET, Key=f"d{i}/k", Body=b"k")  # folders fill the pages

    assert baseline_split.top_level(live.s3, BUCKET, 8) == []


def test_at_the_threshold_as_shipped_a_level_of_twenty_pages_or_more_is_split(stack, live):
    # GIVEN 200 numbered keys: about 29 pages of 7 (the threshold is 20 pages)
    for i in range(200):
        live.s3.put_object(Bucket=BUCKET, Key=f"obj-{i:05d}", Body=b"k")

    # THEN the estimate from the first page reaches it, and the level is split
    assert baseline_split.SPLIT_AT_PAGES == 20
    assert len(baseline_split.top_level(live.s3, BUCKET, 8)) >= 8


AWKWARD = (
    # Keys that start with a stretch's name and go on with the largest character, once or
    # twice, or with characters beyond ASCII, beside keys that are beginnings of others.
    ["a", "a\U0010ffffz", "a\U0010ffff\U0010ffffx", "b\U0010ffff/in-a-folder", "é", "éa"]
    + [f"a{i:02d}" for i in range(30)]
    + [f"b{i:02d}" for i in range(30)]
    + [f"\u00e9{i:02d}" for i in range(10)]
)


@pytest.mark.parametrize("workers", [2, 4])  # 2: stretches `a`, `b` and `é`, no further
@pytest.mark.parametrize("live_run", [True, False])
def test_keys_that_sort_past_a_stretch_s_name_are_listed_once(
    stack, live, live_run, workers, split_from_one_page
):
    # GIVEN a flat level with awkward names, split (AWKWARD)
    for i, key in enumerate(AWKWARD):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"w" * (i % 6 + 1))

    # WHEN its baseline runs, and again over the key items the first recorded (a reconcile)
    # after the key that sorts last went with no event
    for again in (False, True):
        if again:
            live.s3.delete_object(Bucket=BUCKET, Key="a\U0010ffff\U0010ffffx")
        run = ranges.new_run(stack, workers=workers, live_run=live_run)
        seen = []
        run.on_progress = lambda p, seen=seen: seen.append(p.ranges)
        run.run()

        # THEN it was split, and every key counted once
        assert max(seen) >= 3
        assert_exact(live)


def test_a_few_keys_before_a_large_run_of_others_do_not_keep_the_level_whole(stack, live):
    # GIVEN 3 keys `a...` before 200 numbered ones: the first page (7) reaches both first
    # characters, which at one page's worth each put the level at 7 keys
    for key in ["a0", "a1", "a2", *(f"obj-{i:05d}" for i in range(200))]:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")

    # THEN the estimate follows the name the page ends in (about 200 keys, past the threshold
    # of 20 pages of 7), and the numbered keys are split
    stretches = baseline_split.top_level(live.s3, BUCKET, 8)
    assert len([s for s in stretches if s.startswith("obj-")]) >= 8


def test_a_level_its_first_page_puts_under_the_threshold_is_not_split(stack, live, monkeypatch):
    # GIVEN 60 numbered keys, pages of 7: under 20 pages (the threshold is kept)
    for key in flat(60):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")
    assert baseline_split.top_level(live.s3, BUCKET, 8) == []

    # WHEN the threshold is under the estimate: down `obj-00`'s 6 names, and the 5 of
    # `obj-000`'s 10 that the first page's keys reach, about 84 keys in all
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 5)

    # THEN the level is split
    assert len(baseline_split.top_level(live.s3, BUCKET, 8)) >= 8


def flat(n: int) -> list[str]:
    """Numbered keys, and two that are beginnings of the others: the top level's own range
    lists them between the stretches."""
    return [f"obj-{i:04d}" for i in range(n)] + ["obj-", "obj-0"]


# Versioned in the heavy tier (4 s): the default run's other split tests list versions too.
@pytest.mark.parametrize("versioned", [False, pytest.param(True, marks=pytest.mark.heavy)])
def test_a_flat_bucket_is_listed_by_several_workers_and_ends_exact_while_clients_write(
    stack, live, versioned, split_from_one_page
):
    # GIVEN a flat bucket of many pages
    names = flat(200)
    live.fill(names, versioned=versioned)
    rng = random.Random(3)
    ranges_seen = []

    # WHEN clients put, overwrite and delete between pages, in the stretches and outside them
    # (new first characters that no stretch holds), while the baseline lists
    def write(progress) -> None:
        ranges_seen.append(progress.ranges)
        for _ in range(2):
            key = rng.choice([*names, f"zz-{rng.randrange(20)}", f"obj-{rng.randrange(300):04d}"])
            if rng.random() < 0.3:
                live.delete(key)
            else:
                live.put(key, rng.randrange(1, 40))

    base.run(stack, live, versioned=versioned, on_progress=write, workers=4)

    # THEN the top level was several ranges, and the totals equal the listing
    assert max(ranges_seen) >= 4
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def interrupted_after(stack, live, names: list[str], *, listed: int) -> None:
    """The objects put, then a baseline of four workers stopped once it listed ``listed``."""
    for i, key in enumerate(names):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"r" * (i % 5 + 1))
    interrupted = ranges.new_run(stack, workers=4)

    def stop_part_way(progress) -> None:
        if progress.listed >= listed:
            interrupted._stop.set()

    interrupted.on_progress = stop_part_way
    with pytest.raises(Interrupted):
        interrupted.run()


def test_a_split_run_interrupted_resumes_its_stretches_and_ends_exact(
    stack, live, split_from_one_page
):
    # GIVEN a flat bucket whose baseline was split, then interrupted part way
    interrupted_after(stack, live, flat(300), listed=150)
    recorded = stored_ranges(live.h, BUCKET)
    assert len(recorded) >= 5  # the stretches, and the top level's own range skipping them
    top = next(r for r in recorded if r["span"].prefix == "")
    assert len(top["span"].skip) == len(recorded) - 1

    # WHEN objects change meanwhile, and the same command runs again
    live.put("obj-0007", 50)
    live.delete("obj-0290")
    live.put("new-key", 5)
    again = []
    resumed = ranges.new_run(stack, workers=4)
    resumed.on_progress = lambda p: again.append(p.listed)
    resumed.run()

    # THEN it lists about what the first run had not, and the totals equal the listing
    assert again[-1] <= 300 - 150 + 300 // 10
    assert_exact(live)


def test_requests_go_where_keys_lie_not_into_folders(stack, live):
    # GIVEN twenty folders beside many keys at the top level
    for i in range(20):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i:02d}/k", Body=b"k")
    for i in range(60):
        live.s3.put_object(Bucket=BUCKET, Key=f"top-{i:03d}", Body=b"k")

    stretches = baseline_split.split_level(live.s3, BUCKET, "", 8)

    # THEN the folders' first character stays one stretch; the keys are split
    assert "p" in stretches
    assert sum(1 for s in stretches if s.startswith("top-")) >= 6


def folder() -> list[str]:
    """A large folder of numbered keys, with a sub-folder, a key named as the folder, keys that
    are beginnings of others, and a small folder and a key beside it."""
    return [f"big/obj-{i:04d}" for i in range(200)] + [
        "big/",
        "big/obj-",
        "big/obj-0",
        "big/sub/a",
        "big/sub/b",
        "small/x",
        "top",
    ]


# Versioned in the heavy tier (4 s): the default run's other split tests list versions too.
@pytest.mark.parametrize("versioned", [False, pytest.param(True, marks=pytest.mark.heavy)])
def test_a_large_folder_is_listed_by_several_workers_and_ends_exact_while_clients_write(
    stack, live, versioned, split_from_one_page
):
    # GIVEN a bucket whose keys lie mostly in one folder
    names = folder()
    live.fill(names, versioned=versioned)
    rng = random.Random(5)
    ranges_seen = []

    # WHEN clients write in the folder, in and between its stretches, while the baseline lists
    def write(progress) -> None:
        ranges_seen.append(progress.ranges)
        live.change(
            rng,
            rng.choice([*names, f"big/zz-{rng.randrange(9)}", f"big/obj-{rng.randrange(300):04d}"]),
        )

    base.run(stack, live, versioned=versioned, on_progress=write, workers=4)

    # THEN the folder was several ranges, and the totals equal the listing
    assert max(ranges_seen) >= 6  # the top level, two folders, and stretches of the large one
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def recorded_folder_split(live) -> dict:
    """The recorded ranges by prefix, once `big/` skips its stretches, each recorded."""
    recorded = {r["span"].prefix: r for r in stored_ranges(live.h, BUCKET)}
    assert recorded["big/"]["span"].skip  # the folder's range skips its stretches
    assert all(s in recorded for s in recorded["big/"]["span"].skip)
    return recorded


def changed_then_resumed(stack, live, gone: str) -> int:
    """Objects changed in `big/` (``gone`` deleted), then the same command run again: what it
    listed; the totals equal the listing afterwards."""
    live.put("big/obj-0003", 60)
    live.delete(gone)
    live.put("big/new", 4)
    again = [0]
    resumed = ranges.new_run(stack, workers=4)
    resumed.on_progress = lambda p: again.append(p.listed)
    resumed.run()
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}
    return again[-1]


def test_a_folder_split_then_interrupted_resumes_its_stretches_and_ends_exact(
    stack, live, split_from_one_page
):
    interrupted_after(stack, live, folder(), listed=100)
    recorded_folder_split(live)

    changed_then_resumed(stack, live, "big/obj-0150")


def test_a_quiet_baseline_of_a_large_folder_counts_each_key_once(stack, live, split_from_one_page):
    for i, key in enumerate(folder()):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"q" * (i % 7 + 1))
    run = ranges.new_run(stack, workers=4, live_run=False)
    seen = []
    run.on_progress = lambda p: seen.append(p.ranges)

    run.run()  # `setup` before the first deploy: it sets the totals to what it merged

    assert max(seen) >= 6
    assert_exact(live)


@pytest.mark.parametrize("versioned", [False, True])
def test_a_key_named_as_the_first_name_after_a_stretch_is_listed(stack, live, versioned):
    """What follows the stretch `big/obj-02` starts at `big/obj-03`, itself a key: a listing
    that started after that name would leave it out, and the merge would take it as deleted."""
    if versioned:
        live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for key in [
        "big/obj-0100",
        "big/obj-0200",
        "big/obj-02\U0010ffff",
        "big/obj-03",
        "big/obj-0300",
    ]:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")
    span = Span("big/", skip=("big/obj-02",))

    listed = listing.list_span(live.s3, BUCKET, versioned, span, None)

    assert [entry.key for entry in listed] == ["big/obj-0100", "big/obj-03", "big/obj-0300"]


def test_a_stretch_between_two_adjacent_skipped_ones_costs_no_request(stack, live):
    """`obj-01` begins right where every name under `obj-00` ends: between them no name can lie,
    so neither its listing nor its 16 Queries of recorded keys are asked for."""
    from s3sizer.lambdas.baseline_keys import holds_none, stored_keys, stretches

    keys = ["a", *(f"obj-0{d}{i}" for d in range(3) for i in range(3)), "z"]
    for key in keys:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"k")
        live.put(key, 1)
    span = Span("", direct=True, skip=("obj-00", "obj-01", "obj-02"))
    asked = []
    for client in (live.s3, live.h.client):
        client.meta.events.register("before-call.*.*", lambda model, **_: asked.append(model.name))

    listed = [entry.key for entry in listing.list_span(live.s3, BUCKET, False, span, None)]
    recorded = [state.key for state in stored_keys(live.h, BUCKET, span, long_items=[])]

    assert listed == recorded == ["a", "z"]
    gaps = [holds_none(low, high) for low, high in stretches(span)]
    assert gaps == [False, True, True, False]  # before obj-00, two between, after obj-02
    # Two stretches asked for: a one-key request and a page each, and 16 Queries each
    assert asked.count("ListObjectsV2") == 4
    assert asked.count("Query") == 2 * 16


class _SortedS3:
    """ListObjectsV2 over an in-memory sorted list of keys (no delimiter), counting requests."""

    def __init__(self, keys: list[str]):
        self.keys, self.requests = sorted(keys), 0

    def list_objects_v2(self, Bucket, Prefix="", MaxKeys=1000, StartAfter=None, **_):
        import bisect

        self.requests += 1
        at = bisect.bisect_left(self.keys, Prefix)
        if StartAfter:
            at = max(at, bisect.bisect_right(self.keys, StartAfter))
        page = []
        while at < len(self.keys) and self.keys[at].startswith(Prefix) and len(page) <= MaxKeys:
            page.append(self.keys[at])
            at += 1
        return {
            "Contents": [{"Key": k} for k in page[:MaxKeys]],
            "IsTruncated": len(page) > MaxKeys,
        }


def test_a_level_whose_estimate_spends_every_probe_is_still_split():
    # GIVEN a folder whose keys start with 250 different characters (more than PROBES)
    s3 = _SortedS3([f"f/{chr(0x4E00 + i)}{j:03d}" for i in range(250) for j in range(600)])

    # WHEN its size is estimated and found worth a split
    stretches = baseline_split.level(s3, BUCKET, "f/", 16, direct=False)

    # THEN the split has requests of its own to find its stretches
    assert len(stretches) >= 16
    assert s3.requests <= 2 * baseline_split.PROBES + 1
