"""The baseline's ranges: the top level's range names the others as it lists, so that every key
is listed once whatever the bucket's layout, and a prefix whose objects are all gone still gets
its range from its recorded keys."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from s3sizer.lambdas import baseline_keys
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.baseline_keys import Span
from s3sizer.lambdas.history import History
from s3sizer.lambdas.size_tracking import apply_event
from s3sizer.stack import baseline_split, listing
from s3sizer.stack.baseline_ranges import baseline_state, resume_live, stored_ranges
from s3sizer.stack.baseline_run import BaselineRun, Interrupted, listing_client
from tests.lambdas import events
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_run import BUCKET, assert_exact

# The same local AWS and bucket (pages of 7 entries) as the baseline's other tests.
stack, live = base.stack, base.live


def new_run(
    stack, s3=None, *, workers: int = 3, versioned=False, live_run=True, write_path="transaction"
) -> BaselineRun:
    """A baseline of the bucket at prefix depth 2, listing with ``s3`` (a new client: None)."""
    history = History(stack.names.table, stack.client("dynamodb"), prefix_depth=2)
    history.write_path = write_path
    return BaselineRun(
        history,
        s3 or listing_client(stack.aws),
        BUCKET,
        versioned=versioned,
        depth=2,
        workers=workers,
        live=live_run,
    )


def counted_run(stack, *, versioned: bool = False, live_run: bool = True) -> list[int]:
    """Run a baseline; the entries of each listing page S3 answered to its ranges' listings,
    and its common prefixes: not the requests that decide a split (baseline_split.py), nor
    those of one entry that find a gap between stretches empty."""
    read: list[int] = []
    s3 = listing_client(stack.aws)
    asked = threading.local()

    def note(params, **_) -> None:
        asked.max_keys = params.get("MaxKeys")

    def count(parsed, **_) -> None:
        if asked.max_keys == 1 or not threading.current_thread().name.startswith(
            "baseline-listing"
        ):
            return
        read.append(
            sum(len(parsed.get(name, [])) for name in ("Contents", "Versions", "DeleteMarkers"))
            + len(parsed.get("CommonPrefixes", []))
        )

    for name in ("ListObjectsV2", "ListObjectVersions"):
        s3.meta.events.register(f"before-parameter-build.s3.{name}", note)
        s3.meta.events.register(f"after-call.s3.{name}", count)
    new_run(stack, s3, versioned=versioned, live_run=live_run).run()
    return read


LAYOUTS = {
    # Two keys that are beginnings of the others: listed between the stretches a split makes
    "flat": [f"obj-{i:04d}" for i in range(60)] + ["obj-", "obj-0"],
    "folders": [f"{'abcd'[i % 4]}/k{i:03d}" for i in range(60)] + [f"top{i}" for i in range(9)],
    "folders only": [f"{'abcd'[i % 4]}/{i % 3}/k{i:03d}" for i in range(60)],
}


@pytest.mark.parametrize("live_run", [True, False])
@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_key_is_listed_once_whatever_the_layout(
    stack, live, layout, versioned, live_run, monkeypatch
):
    monkeypatch.setattr(baseline_split, "SPLIT_AT_PAGES", 1)  # the flat level of 9 pages splits
    # GIVEN a bucket of keys with no "/", or in folders with or without keys at the top level
    if versioned:
        live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    names = LAYOUTS[layout]
    for i, key in enumerate(names):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"f" * (i % 7 + 1))
    folders = {key.split("/")[0] + "/" for key in names if "/" in key}

    # WHEN a baseline runs
    read = counted_run(stack, versioned=versioned, live_run=live_run)

    # THEN S3 answered each object once, and each top-level folder once: no listing to plan.
    # The flat level's split leaves "obj-" and "obj-0" between stretches: the page that lists
    # them runs on into the next stretch, whose keys are dropped there.
    once = len(names) + len(folders)
    assert once <= sum(read) <= once + (listing.PAGE_SIZE - 2 if layout == "flat" else 0)
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def put_a_minute_ago(live, key: str, size: int) -> None:
    """An object put, and its event applied, as if a minute ago: older than any listing page
    the baseline reads, so that the merge rule takes the listing's word for it."""
    live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"g" * size)
    then = datetime.now(UTC) - timedelta(minutes=1)
    when = then.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    seq = events.sequencer(next(live.seq))
    apply_event(live.h, events.envelope(events.created(BUCKET, key, size, seq, event_time=when)))


@pytest.mark.parametrize("live_run", [True, False])
def test_a_folder_whose_objects_all_went_unseen_is_mended(stack, live, live_run):
    # GIVEN recorded objects in a folder, and in another folder and at the top level
    for i in range(12):
        put_a_minute_ago(live, f"gone/k{i}", i + 1)
        put_a_minute_ago(live, f"kept/k{i}", 2)
    put_a_minute_ago(live, "top", 5)
    # ... and every object of one folder deleted with no event reaching the tracker
    for i in range(12):
        live.s3.delete_object(Bucket=BUCKET, Key=f"gone/k{i}")

    # WHEN a baseline runs, live (reconcile) or quiet
    counted_run(stack, live_run=live_run)

    # THEN the folder S3 no longer lists got its range from its recorded keys: exact again
    assert_exact(live)
    assert "gone/" not in {p.prefix for p in live.h.prefix_totals(BUCKET)}
    # ... and its recorded keys say so too, for the events still to come
    gone = [live.h.key_state(BUCKET, f"gone/k{i}") for i in range(12)]
    assert not [state for state in gone if state is not None and state.exists]


def test_a_reconcile_stopped_half_way_lists_again_only_what_it_had_not_merged(
    stack, live, monkeypatch
):
    """Each range reads its next page while it merges, and reads recorded keys alongside: a
    stop merges the pages already read, and one still in flight, before the range ends, so
    none is listed again (tests/stack/test_baseline_stop.py counts them key by key)."""
    # Key items a few at a time, so that their reading goes on as long as the listing does.
    monkeypatch.setattr(baseline_keys, "PAGE_ITEMS", 3)
    total = 210
    for i in range(total):
        put_a_minute_ago(live, f"p{i % 3}/k{i:04d}", i % 5 + 1)
    counted_run(stack)  # every key recorded: the reconcile below reads key items as it goes
    stopped = new_run(stack)

    def stop_half_way(progress) -> None:
        if progress.listed >= total // 2:
            stopped._stop.set()  # what Ctrl-C in the main thread does to the workers

    stopped.on_progress = stop_half_way
    with pytest.raises(Interrupted):
        stopped.run()
    first = stopped.progress.listed  # the entries its ranges took in to merge
    assert 0 < baseline_state(live.h, BUCKET)["done"] < 1

    read: list[int] = []
    s3 = listing_client(stack.aws)  # its own: the stopped run's pages count nothing here

    def count(parsed, **_) -> None:
        read.append(len(parsed.get("Contents", [])))

    s3.meta.events.register("after-call.s3.ListObjectsV2", count)
    drift = new_run(stack, s3).run()
    second = sum(read)
    assert drift.resumed  # its drift counts the stopped run's too, and says so

    assert_exact(live)
    # At most each range's last key read is listed again (its versions could go on).
    assert second - (total - first) <= 4, (first, second)


def test_ranges_named_before_a_stop_run_when_the_same_command_runs_again(stack, live):
    # GIVEN keys at the top level between folders, so that the top level's listing names
    # folders all along it: "a/…", "a0", "b/…", "b0", …
    names = [f"{c}{i}" for c in "abcdefghij" for i in range(4)]
    names += [f"{c}/k{i}" for c in "abcdefghij" for i in range(3)]
    for i, key in enumerate(names):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"n" * (i % 6 + 1))
    ran: list[str] = []
    # One worker: the top level's range first, the folders it names after it.
    stopped = new_run(stack, workers=1)

    def stop_in_the_top_level(progress) -> None:
        if progress.listed >= 20:  # pages of 7: half the top level's keys and folders
            stopped._stop.set()

    stopped.on_progress = stop_in_the_top_level
    with pytest.raises(Interrupted):
        stopped.run()
    named = {r["span"].prefix for r in stored_ranges(live.h, BUCKET)} - {""}
    cursor = next(r["cursor"] for r in stored_ranges(live.h, BUCKET) if r["span"].direct)
    # ... its cursor had passed folders it named, which it had not listed yet
    assert cursor is not None and {p for p in named if p < cursor}

    again = new_run(stack, workers=2)
    listed = again._run_range

    def remember(r):
        ran.append(r["span"].prefix)
        return listed(r)

    again._run_range = remember
    again.run()

    # THEN every folder, named before the stop or after it, was listed, and once
    assert sorted(p for p in ran if p) == [f"{c}/" for c in "abcdefghij"]
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_key_reads_stay_within_a_sort_keys_size_after_a_long_cursor_or_folder(stack, live):
    # GIVEN recorded keys of S3's longest (1,024 bytes), at the top level and in a folder whose
    # name is nearly that long
    folder = "f" * 1000 + "/"
    names = ["t" * 1000 + f"{i:024d}" for i in range(3)] + [f"{folder}k{i}" for i in range(3)]
    names += ["short", "short/k"]
    for i, key in enumerate(names):
        put_a_minute_ago(live, key, i + 1)
    sent: list[int] = []

    def bounds(params, **_) -> None:
        values = params.get("ExpressionAttributeValues", {})
        sent.extend(len(values[k]["S"].encode()) for k in (":a", ":b") if k in values)

    live.h.client.meta.events.register("before-parameter-build.dynamodb.Query", bounds)

    # WHEN the top level's recorded keys are read on from a cursor of 1,024 bytes, and
    # past the long folder
    after = names[0]
    read = [s.key for s in baseline_keys.stored_keys(live.h, BUCKET, Span("", direct=True), after)]

    # THEN every bound sent is one DynamoDB takes as a sort key, and the keys are those after it
    assert sent and max(sent) <= 1024
    assert read == sorted(k for k in names if "/" not in k and k > after)


def top_level_reads(live, monkeypatch, keys: list[str]) -> tuple[list[str], set, list[int]]:
    """The top level's recorded keys read from one key partition in pages of 10 (a first page
    after a jump at least 2): the keys, the folders met, and the items of each Query."""
    monkeypatch.setattr(lay, "KEY_SHARDS", 1)
    monkeypatch.setattr(baseline_keys, "PAGE_ITEMS", 10)
    monkeypatch.setattr(baseline_keys, "SMALLEST_FIRST_PAGE", 2)
    for i, key in enumerate(keys):
        put_a_minute_ago(live, key, i + 1)
    items_read: list[int] = []
    live.h.client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: items_read.append(parsed["Count"])
    )
    met: set[str] = set()
    span = Span("", direct=True)
    read = [s.key for s in baseline_keys.stored_keys(live.h, BUCKET, span, on_prefix=met.add)]
    return read, met, items_read[1:]  # the first: the run's one read of the long keys' items


def test_the_top_level_passes_big_folders_with_ever_smaller_first_pages(stack, live, monkeypatch):
    # GIVEN three folders of 12 recorded keys each, then two top-level keys
    folders, top = ["a/", "b/", "c/"], ["x", "y"]

    # WHEN the top level's recorded keys are read
    read, met, items = top_level_reads(
        live, monkeypatch, [f"{f}k{n:02d}" for f in folders for n in range(12)] + top
    )

    # THEN it holds the top-level keys and met every folder, and each Query after a page taken
    # whole by one folder began with half the page: 10 + 5 + 2 items passed, not 10 + 10 + 10
    assert read == top
    assert met == set(folders)
    assert items[:3] == [10, 5, 2]


def test_the_top_level_passes_small_folders_within_full_pages(stack, live, monkeypatch):
    # GIVEN ten folders of 3 recorded keys each, then two top-level keys
    folders, top = [f"{c}/" for c in "abcdefghij"], ["x", "y"]

    # WHEN the top level's recorded keys are read
    read, met, items = top_level_reads(
        live, monkeypatch, [f"{f}k{n}" for f in folders for n in range(3)] + top
    )

    # THEN no page was taken whole by a folder, so none was made smaller: four Queries, not
    # one a folder
    assert read == top
    assert met == set(folders)
    assert len(items) <= 4 and all(count >= 8 for count in items[:-1])


def range_writes(params: dict, operation: str) -> list[dict]:
    """The baseline's range items a request writes (each item carries ``run`` and ``direct``)."""
    if operation == "PutItem":
        items = [params["Item"]]
    elif operation == "TransactWriteItems":
        items = [w["Put"]["Item"] for w in params["TransactItems"] if "Put" in w]
    else:
        requests = [r for rs in params["RequestItems"].values() for r in rs]
        items = [r["PutRequest"]["Item"] for r in requests if "PutRequest" in r]
    return [item for item in items if "run" in item and "direct" in item]


@pytest.mark.parametrize("live_run", [True, False])
def test_each_range_s_last_write_marks_it_done_with_no_write_of_its_own(
    stack, live, live_run, monkeypatch
):
    # GIVEN a bucket of small folders, each a range of one chunk (pages of S3's own size)
    monkeypatch.setattr(listing, "PAGE_SIZE", 1000)
    folders = 12
    for f in range(folders):
        for i in range(2):
            live.s3.put_object(Bucket=BUCKET, Key=f"f{f:02d}/k{i}", Body=b"h" * (i + 1))
    written: list[dict] = []
    ddb = stack.client("dynamodb")

    def count(model, params, **_) -> None:
        written.extend(range_writes(params, model.name))

    for operation in ("PutItem", "TransactWriteItems", "BatchWriteItem"):
        ddb.meta.events.register(f"before-parameter-build.dynamodb.{operation}", count)

    # WHEN a baseline runs, live (reconcile) or quiet
    new_run(stack, live_run=live_run).run()

    # THEN each folder's item was written when named, then with its keys (a live run's moves
    # are then settled into the totals), the last of these marking it done: no write repeats
    # it; the top level, which merges no key of its own, is recorded, then marked done
    assert_exact(live)
    assert [w["done"]["BOOL"] for w in written].count(True) == folders + 1
    assert len(written) == (3 if live_run else 2) * folders + 2


def stopped_half_way(stack, live, *, live_run: bool, listed: int, write_path="transaction"):
    """90 objects in three folders, and a run of one worker stopped once it listed ``listed``."""
    for i in range(90):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 5 + 1))
    stopped = new_run(stack, live_run=live_run, workers=1, write_path=write_path)

    def stop_half_way(progress) -> None:
        if progress.listed >= listed:
            stopped._stop.set()

    stopped.on_progress = stop_half_way
    with pytest.raises(Interrupted):
        stopped.run()


@pytest.mark.parametrize("crash", [False, True])
def test_a_quiet_run_stopped_then_resumed_live_adds_what_it_had_merged(stack, live, crash):
    """Ctrl-C during `setup` before the first deploy, then `deploy`: the run resumed is live,
    and a live run moves the totals as it goes, where the quiet one would have set them at its
    end. What the quiet ranges merged reaches the totals all the same, once."""
    stopped_half_way(stack, live, live_run=False, listed=45)
    assert 0 < baseline_state(live.h, BUCKET)["done"] < 1
    # ... then the route delivers: the tracker applies a change before the run resumes
    put_a_minute_ago(live, "p1/late", 7)
    if crash:  # a live run marked the quiet ranges' moves pending, then died settling none
        state = live.h._get(lay.address(lay.bucket_pk(BUCKET), lay.BASELINE_SK))
        resume_live(live.h, BUCKET, state["run"]["S"], stored_ranges(live.h, BUCKET))

    drift = new_run(stack, live_run=True).run()

    assert drift.resumed
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_quiet_run_on_the_fold_path_resumed_live_counts_its_keys_in_the_totals(stack, live):
    """On the fold path the fold counts the key items a live run marks, and the totals count
    the unmarked ones a quiet run wrote: a quiet run stopped, then resumed live, adds what it
    had merged to the totals, as on the transaction path."""
    stopped_half_way(stack, live, live_run=False, listed=45, write_path="fold")

    new_run(stack, live_run=True, write_path="fold").run()

    size, count, _ = live.listing()
    states = {s.key: s.size for s in live.h.keys(BUCKET)}
    assert (sum(states.values()), len(states)) == (size, count)
    unmarked = [k for k in states if live.h._get(lay.key_address(BUCKET, k)).get("f") is None]
    assert 0 < len(unmarked) < count  # the quiet run's keys, and the live run's after them
    totals = live.h.totals(BUCKET)  # no fold has run: the totals count the unmarked keys
    assert (totals.total_size, totals.object_count) == (
        sum(states[k] for k in unmarked), len(unmarked),
    )  # fmt: skip
    by_prefix: dict = {}
    for key in unmarked:
        mine = by_prefix.setdefault(key.split("/")[0] + "/", [0, 0])
        mine[0], mine[1] = mine[0] + states[key], mine[1] + 1
    assert {p.prefix: [p.total_size, p.object_count] for p in live.h.prefix_totals(BUCKET)} == (
        by_prefix
    )
