"""The baseline against moto's S3 and DynamoDB, while a live tracker applies what clients do.

Against the emulator in this process. Clients write between the baseline's listing pages (its progress callback runs after each page),
and each change's record is applied at once, as a tracker fed by the queue would. Afterwards the
totals and the prefix totals equal the bucket's listing, with no second baseline.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import UTC, datetime

import pytest

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.history import History
from s3sizer.lambdas.size_tracking import apply_event
from s3sizer.stack import listing
from s3sizer.stack.baseline_ranges import baseline_state
from s3sizer.stack.baseline_run import BaselineRun, Interrupted, listing_client
from tests.lambdas import events

BUCKET = "busy-bucket"


class LiveBucket:
    """A bucket whose every change reaches the tracker at once, with S3's event shapes."""

    def __init__(self, stack, history: History):
        self.s3, self.h = stack.client("s3"), history
        self.seq = itertools.count(1)
        # A change and its sequencer together: ranges on several threads write as they list, and
        # S3's sequencers of a key rise in the order its changes were made.
        self._order = threading.Lock()

    def _apply(self, record: dict) -> None:
        apply_event(self.h, events.envelope(record))

    def _record(self, make, *args, **kw) -> dict:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return make(BUCKET, *args, event_time=now, **kw)

    def put(self, key: str, size: int) -> None:
        with self._order:
            answer = self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * size)
            seq = events.sequencer(next(self.seq))
        vid = answer.get("VersionId")
        self._apply(self._record(events.created, key, size, seq, version_id=vid))

    def delete(self, key: str, version_id: str | None = None) -> None:
        args = {"VersionId": version_id} if version_id else {}
        with self._order:
            answer = self.s3.delete_object(Bucket=BUCKET, Key=key, **args)
            seq = events.sequencer(next(self.seq))
        if answer.get("DeleteMarker") and not version_id:
            record = self._record(
                events.removed, key, seq, kind="DeleteMarkerCreated",
                version_id=answer["VersionId"],
            )  # fmt: skip
        else:
            record = self._record(events.removed, key, seq, version_id=answer.get("VersionId"))
        self._apply(record)

    def fill(self, names: list[str], *, versioned: bool = False) -> None:
        """The bucket, versioned or not, with an object of 1 to 9 bytes at each name, before any
        route: no event of them reaches the tracker."""
        if versioned:
            self.s3.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
            )
        for i, key in enumerate(names):
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"f" * (i % 9 + 1))

    def change(self, rng, key: str) -> None:
        """What a client does to ``key`` now and then: deletes it, or puts it anew."""
        if rng.random() < 0.3:
            self.delete(key)
        else:
            self.put(key, rng.randrange(1, 40))

    def listing(self) -> tuple[int, int, dict]:
        size = count = 0
        prefixes: dict = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                size, count = size + item["Size"], count + 1
                for p in lay.prefixes(item["Key"], self.h.prefix_depth):
                    mine = prefixes.setdefault(p, [0, 0])
                    mine[0], mine[1] = mine[0] + item["Size"], mine[1] + 1
        return size, count, prefixes


@pytest.fixture
def stack():
    """A local AWS in this process: S3 lists versions and delete markers interleaved, newest
    first, as S3 does (plain moto lists every version of a key before its markers)."""
    from s3sizer.aws import Aws
    from s3sizer.emulator import Emulator
    from s3sizer.settings import Settings
    from s3sizer.stack.state import Stack

    with Emulator(port=0) as aws:
        yield Stack(
            Aws(Settings(stack="s3sizer", region="us-east-1", endpoint_url=aws.endpoint_url))
        )


@pytest.fixture
def live(stack, monkeypatch):
    from s3sizer.lambdas.history import History as H

    ddb = stack.client("dynamodb")
    ddb.create_table(**lay.table_definition(stack.names.table))
    stack.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(listing, "PAGE_SIZE", 7)
    return LiveBucket(stack, H(stack.names.table, ddb, prefix_depth=2))


def run(stack, live, *, versioned=False, depth=2, on_progress=lambda p: None, workers=4):
    return BaselineRun(
        History(stack.names.table, stack.client("dynamodb"), prefix_depth=depth),
        listing_client(stack.aws),
        BUCKET,
        versioned=versioned,
        depth=depth,
        workers=workers,
        on_progress=on_progress,
    ).run()


def assert_exact(live: LiveBucket) -> None:
    size, count, prefixes = live.listing()
    totals = live.h.totals(BUCKET)
    assert (totals.total_size, totals.object_count) == (size, count)
    tracked = {p.prefix: [p.total_size, p.object_count] for p in live.h.prefix_totals(BUCKET)}
    assert tracked == {p: v for p, v in prefixes.items() if v[1]}


def keys(n: int) -> list[str]:
    return [f"{d}/{s}/k{i}" for i, (d, s) in zip(range(n), itertools.cycle(
        [("a", "x"), ("b", "y"), ("a", "z"), ("c", "w")]), strict=False)] + [f"top{i}" for i in range(5)]  # fmt: skip


@pytest.mark.parametrize("versioned", [False, True])
def test_a_baseline_while_clients_write_ends_exact(stack, live, versioned):
    # GIVEN a bucket with objects, some written before the tracker saw anything
    if versioned:
        live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    names = keys(60)
    for i, key in enumerate(names):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"y" * (i % 9 + 1))
    rng = random.Random(7)

    # WHEN clients put, overwrite and delete, ahead of the listing and behind it, between pages
    def write(progress) -> None:
        for _ in range(3):
            key = rng.choice([*names, f"new/{rng.randrange(50)}"])
            if rng.random() < 0.3:
                live.delete(key)
            else:
                live.put(key, rng.randrange(1, 40))

    run(stack, live, versioned=versioned, on_progress=write, workers=1)

    # THEN the totals equal the listing, without a second baseline
    assert_exact(live)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_versions_are_ordered_by_their_sequencers_over_the_listing(stack, live):
    live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    live.put("k", 10)
    live.delete("k")  # a delete marker on top
    live.put("k", 3)
    v3 = live.s3.list_object_versions(Bucket=BUCKET)["Versions"]
    newest = next(v["VersionId"] for v in v3 if v["IsLatest"])
    drift = run(stack, live, versioned=True)
    assert (drift.drift_bytes, drift.drift_objects) == (0, 0)

    live.delete("k", newest)  # the marker is current again

    assert_exact(live)
    assert live.h.totals(BUCKET).object_count == 0


def test_an_interrupted_baseline_resumes_where_it_stopped(stack, live):
    for i in range(150):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:03d}", Body=b"z" * (i % 5 + 1))
    listed = []

    def stop_half_way(progress) -> None:
        listed.append(progress.listed)
        if progress.listed >= 75:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stack, live, on_progress=stop_half_way, workers=1)
    first = listed[-1]
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"
    assert 0 < baseline_state(live.h, BUCKET)["done"] < 1

    again = []
    run(stack, live, on_progress=lambda p: again.append(p.listed), workers=1)

    assert_exact(live)
    assert again[-1] <= 150 - first + 150 // 10
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


@pytest.mark.parametrize("versioned", [False, True])
def test_a_run_interrupted_from_outside_keeps_what_it_listed(stack, live, versioned):
    """Ctrl-C reaches the main thread while the workers list: each keeps what it merged from
    the pages it read, and reads no page after, so the same command relists almost nothing."""
    if versioned:
        live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    total = 400
    for i in range(total):
        live.s3.put_object(Bucket=BUCKET, Key=f"p{i % 2}/k{i:04d}", Body=b"q" * (i % 4 + 1))
    read = []  # what S3 answered to the ranges' listings, page by page
    s3 = listing_client(stack.aws)

    def count(parsed, **_) -> None:
        # The ranges' pages are read by their listing threads (listing.py); the requests that
        # decide a split come from the workers themselves (baseline_split.py).
        if threading.current_thread().name.startswith("baseline-listing"):
            read.append(len(parsed.get("Versions", [])) + len(parsed.get("Contents", [])))

    for name in ("ListObjectsV2", "ListObjectVersions"):
        s3.meta.events.register(f"after-call.s3.{name}", count)
    interrupted = BaselineRun(
        History(stack.names.table, stack.client("dynamodb"), prefix_depth=2),
        s3,
        BUCKET,
        versioned=versioned,
        depth=2,
        workers=2,
    )

    def interrupt_half_way(progress) -> None:
        if progress.listed >= total // 2:
            interrupted._stop.set()  # what Ctrl-C in the main thread does to the workers

    interrupted.on_progress = interrupt_half_way
    with pytest.raises(Interrupted):
        interrupted.run()
    first, read[:] = sum(read), []
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"

    run(stack, live, versioned=versioned)
    second = sum(read)

    assert_exact(live)
    relisted = second - (total - first)
    assert relisted <= first // 10, (first, second)
    # Only a range's last key of its last page read can be listed again: its versions might
    # have gone on in the next page. Two ranges of keys, and the top level.
    assert relisted <= 3, (first, second)


def test_a_deeper_prefix_depth_fills_its_new_prefixes_while_clients_write(stack, live):
    # GIVEN keys tracked at depth 1 by a live tracker
    shallow = History(stack.names.table, stack.client("dynamodb"), prefix_depth=1)
    tracker_at_depth_1 = LiveBucket(stack, shallow)
    # one bucket: one sequence of sequencers
    tracker_at_depth_1.seq, tracker_at_depth_1._order = live.seq, live._order
    names = keys(40)
    for i, key in enumerate(names):
        tracker_at_depth_1.put(key, i % 7 + 1)
    run(stack, live, depth=1)
    rng = random.Random(3)

    # WHEN the tracker counts at depth 2 and a depth-2 baseline runs while clients write
    def write(progress) -> None:
        for _ in range(3):
            key = rng.choice(names)
            if rng.random() < 0.3:
                live.delete(key)
            else:
                live.put(key, rng.randrange(1, 30))

    run(stack, live, depth=2, on_progress=write, workers=1)

    # THEN every prefix, old and new, equals the listing
    assert_exact(live)
    assert {p.prefix for p in live.h.prefix_totals(BUCKET)} >= {"a/x/", "b/y/", "c/w/"}


def test_a_deeper_depth_counts_an_earlier_releases_key_items_at_the_depth_they_had(stack, live):
    """Key items written before key items recorded their depth (``pd``) count at the depth
    the stack had then, which the bucket's settings item keeps (``unmarked_depth``): the
    tracker at the new depth and the baseline both take them so, including keys the tracker
    writes before the baseline reaches them."""
    from s3sizer.lambdas import size_tracking
    from s3sizer.stack.estate import settings_writes
    from s3sizer.stack.model import BucketSettings

    # GIVEN keys recorded at depth 1 whose items carry no depth, as an earlier release wrote them
    ddb = stack.client("dynamodb")
    shallow = LiveBucket(stack, History(stack.names.table, ddb, prefix_depth=1))
    names = keys(40)
    for i, key in enumerate(names):
        shallow.put(key, i % 7 + 1)
    run(stack, live, depth=1)
    for item in ddb.scan(TableName=stack.names.table)["Items"]:
        if "pd" in item:
            key = {"pk": item["pk"], "sk": item["sk"]}
            ddb.update_item(TableName=stack.names.table, Key=key, UpdateExpression="REMOVE pd")
    # its settings items written at the upgrade, then the depth changed to 2
    for depth in (1, 2):
        writes = settings_writes(stack.names.table, BucketSettings(BUCKET, depth), "s3sizer")
        ddb.transact_write_items(TransactItems=writes)
    deployed = History(stack.names.table, ddb, prefix_depth=2)
    deployed.settings_required = True
    tracker = LiveBucket(stack, deployed)
    tracker.seq = shallow.seq  # one bucket: one sequence of sequencers
    size_tracking.BUCKET_DEPTHS.clear()
    rng = random.Random(5)

    def write(progress=None) -> None:
        for _ in range(3):
            key = rng.choice(names)
            if rng.random() < 0.3:
                tracker.delete(key)
            else:
                tracker.put(key, rng.randrange(1, 30))

    # WHEN the tracker at depth 2 writes some of those keys, then the depth-2 baseline runs
    # while it writes more
    for _ in range(4):
        write()
    run(stack, tracker, depth=2, on_progress=write, workers=1)
    size_tracking.BUCKET_DEPTHS.clear()

    # THEN every prefix, old and new, equals the listing
    assert_exact(tracker)
    assert {p.prefix for p in tracker.h.prefix_totals(BUCKET)} >= {"a/x/", "b/y/", "c/w/"}


def test_a_live_run_on_the_fold_path_leaves_the_totals_to_the_fold(stack, live):
    for i, key in enumerate(keys(20)):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"f" * (i + 1))
    folding = History(stack.names.table, stack.client("dynamodb"), prefix_depth=2)
    folding.write_path = "fold"

    drift = BaselineRun(
        folding, listing_client(stack.aws), BUCKET, versioned=False, depth=2, workers=2
    ).run()

    size, count, _ = live.listing()
    assert (drift.total_size, drift.object_count) == (size, count)
    # nothing counted (the fold counts the keys), but the bucket is marked as baselined
    totals = live.h.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.max_size) == (0, 0, 0)
    assert totals.updated_at is not None
    assert live.h.prefix_totals(BUCKET) == [] and live.h.points(BUCKET) == []
    states = list(live.h.keys(BUCKET))
    assert len(states) == count and sum(s.size for s in states) == size
    for state in states:
        item = folding._get(lay.key_address(BUCKET, state.key))
        assert item["f"] == lay.n(1)
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_an_eventbridge_record_in_the_second_of_the_route_change_stands(stack, live):
    # GIVEN a versioned key, and the route changed at a moment with a fraction of a second
    live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    live.put("k", 10)
    route_since = time.time()
    if route_since % 1 < 0.01:
        route_since += 0.5
    # a version made after the change and after the page below was listed: its EventBridge
    # event's time has whole seconds, so it reads earlier than the change
    whole = datetime.fromtimestamp(int(route_since), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    late = events.eventbridge(
        BUCKET, "k", events.sequencer(99), size=7, version_id="v-late", time=whole
    )
    apply_event(live.h, events.sqs(late))

    # WHEN the baseline that follows the route change lists the key without it
    BaselineRun(
        History(stack.names.table, stack.client("dynamodb"), prefix_depth=2),
        listing_client(stack.aws), BUCKET, versioned=True, depth=2, route_since=route_since,
    ).run()  # fmt: skip

    # THEN the recorded version stands: the listing may not have seen it yet
    state = next(s for s in live.h.keys(BUCKET) if s.key == "k")
    assert (state.version_id, state.size) == ("v-late", 7)


def test_a_key_that_kept_moving_ends_the_command_with_one_line_naming_it(stack, live, monkeypatch):
    # GIVEN a bucket of long keys, and a run whose every live commit meets a key that changed
    # between every read and write
    from s3sizer.errors import StackError
    from s3sizer.lambdas import baseline
    from s3sizer.stack.baseline_run import record

    for i in range(5):
        live.s3.put_object(Bucket=BUCKET, Key=f"logs/{'x' * 200}{i}", Body=b"x" * (i + 1))
    commit = baseline._commit_live

    def moving(h, bucket, chunk, *args, **kwargs):
        raise baseline.KeyKeptMoving(chunk[0].key, 30)

    monkeypatch.setattr(baseline, "_commit_live", moving)

    # WHEN the command records the baseline, THEN it fails with one line that names the bucket
    # and the key (shortened), and says that the same command goes on
    with pytest.raises(StackError) as failed:
        record(stack, BUCKET, versioned=False, depth=1)
    line = str(failed.value)
    assert "\n" not in line and len(line) < 300
    assert BUCKET in line and "the key 'logs/xxx" in line and "30 attempts" in line
    assert "run the same command again" in failed.value.fix
    # ... and it gave the bucket back: the same command, run again, is not refused
    monkeypatch.setattr(baseline, "_commit_live", commit)
    assert record(stack, BUCKET, versioned=False, depth=1).object_count == 5


def test_a_versioned_bucket_s_progress_counts_its_current_objects_apart_from_its_entries(
    stack, live
):
    # GIVEN 45 keys, each put twice, and 10 of them deleted (a marker each)
    names = keys(40)  # and 5 at the top level
    live.fill(names, versioned=True)
    for key in names:
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"again")
    for key in names[:10]:
        live.s3.delete_object(Bucket=BUCKET, Key=key)
    reports = []

    run(stack, live, versioned=True, on_progress=lambda p: reports.append((p.listed, p.objects)))

    # THEN the listing's 100 entries are counted as listed, the 35 current objects as objects
    assert reports[-1] == (100, 35)
    assert_exact(live)
