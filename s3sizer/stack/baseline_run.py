"""A baseline of any size: the bucket listed range by range by a pool of workers, each range
merged into the recorded keys as it is listed (lambdas/baseline.py), its progress committed
with its changes, so that the same command run again resumes where an interruption stopped it.
The ranges: the top level, whose listing (``Delimiter="/"``) names its prefixes as ranges as it
goes (recorded, then handed to the pool), so the bucket is listed once and no worker waits for a
plan; a large flat level or folder is split into stretches (baseline_split.py, listing.py)."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, replace

from s3sizer import interrupts
from s3sizer.errors import StackError
from s3sizer.lambdas import baseline, baseline_keys, tracked
from s3sizer.lambdas import baseline_finish as ending
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.baseline_keys import Span
from s3sizer.lambdas.baseline_sums import Sums
from s3sizer.lambdas.listing import Drift, ListedVersion
from s3sizer.stack import baseline_ranges as ranges_table
from s3sizer.stack import baseline_split, listing
from s3sizer.stack.baseline_lease import Lease
from s3sizer.stack.baseline_spread import HandOver, Spread
from s3sizer.stack.collector import collecting_seldom
from s3sizer.stack.listing import listing_client

DEFAULT_WORKERS = 16
WRITERS = 8  # BatchWriteItems in flight for a quiet run: as many as workers, at least this
MARGIN_SECONDS = 5.0  # how far S3's clock may stand between an event and a page's Date


class Interrupted(baseline.ListingStopped):
    """A range stopped because another failed, or the user interrupted the run."""


@dataclass
class Progress:
    """What a running baseline reports: entries listed, and ranges done of all."""

    listed: int = 0  # versions and delete markers on a versioned bucket
    objects: int = 0  # of them, the current objects: what `expected` and `carried` count
    ranges_done: int = 0
    ranges: int = 0
    expected: int = 0  # objects the bucket held when the run began (0: never counted)
    carried: int = 0  # of them, merged by a run stopped before this one


class BaselineRun:
    """One bucket's baseline: planned or resumed, run on a pool, finished once."""

    def __init__(
        self,
        history,
        s3,
        bucket: str,
        *,
        versioned: bool,
        depth: int,
        unmarked_depth: int | None = None,
        live: bool = True,
        route_since: float = 0.0,
        workers: int | None = None,
        on_progress: Callable[[Progress], None] = lambda progress: None,
        own_bucket: str | None = None,  # the stack's first bucket: the one s3sizer writes to
    ):
        self.h, self.s3, self.bucket, self.live = history, s3, bucket, live
        self.versioned, self.depth, self.own_bucket = versioned, depth, own_bucket
        self.workers = workers or DEFAULT_WORKERS  # read now: a default bound at import is fixed
        # None: as the bucket's settings item says (an earlier release's key items carry no
        # ``pd`` and count at the depth that stack had), else the depth of this run.
        self.unmarked_depth = unmarked_depth
        # In whole seconds: an EventBridge event's time has no fraction, so a change made just
        # after the route's change may carry a time up to a second before it.
        self.route_since_ms = int(route_since) * 1000
        self.on_progress = on_progress
        self.progress = Progress()
        self._lock = threading.RLock()  # _run_fresh submits a batch whole, _submit each range
        self._stop = threading.Event()
        self._spread = Spread(self)

    def run(self) -> Drift:
        self.lease = Lease(self.h, self.bucket, on_lost=self._stop.set)
        try:  # the lease taken inside: a Ctrl-C as its write is answered still gives it back
            self.lease.acquire()
            return self._run()
        except Interrupted:
            if self.lease.lost:
                raise StackError(
                    f"Another s3sizer command took over the baseline of bucket {self.bucket!r} "
                    "while this one was paused",
                    "it goes on there; `s3sizer status` shows how far it got",
                ) from None
            raise
        except baseline.KeyKeptMoving as exc:
            raise StackError(
                f"The baseline of {self.bucket} stopped: {exc}",
                "run the same command again; it goes on from the last key it recorded",
            ) from exc
        finally:
            self.lease.release()

    def _run(self) -> Drift:
        settings = self.h._get(lay.settings_address(self.bucket)) or {}
        if self.unmarked_depth is None:
            self.unmarked_depth = tracked.unmarked_depth(settings, self.depth)
        self.h.fold_mark = tracked.fold_mark(settings)
        state = self.h._get(lay.address(lay.bucket_pk(self.bucket), lay.BASELINE_SK))
        resumed = (
            state is not None
            and state.get("state", {}).get("S") == lay.BASELINE_RUNNING
            and int(state.get("depth", {"N": "-1"})["N"]) == self.depth
        )
        ranges = ranges_table.stored_ranges(self.h, self.bucket) if resumed else []
        if resumed and ranges:
            run_id = state["run"]["S"]
            before = lay.Totals(
                int(state["before_size"]["N"]), int(state["before_count"]["N"]), 0, None, 0
            )
            ranges_table.resume(self.h, self.bucket, state, ranges, settles=self.live)
        else:
            resumed = False
            run_id, before = uuid.uuid4().hex, self.h.totals(self.bucket)
            ranges = self._start(run_id, before, due=ranges_table.DUE in (state or {}))
        self.run_id = run_id
        self.progress.ranges = len(ranges)
        self.progress.ranges_done = sum(1 for r in ranges if r["done"])
        self.progress.expected = before.object_count
        self.progress.carried = ranges_table.merged(ranges)[1]
        self.on_progress(self.progress)
        self._long_items = baseline_keys.read_long_items(self.h, self.bucket)
        # Whether the bucket's storage classes are tracked: read once, not once a range.
        self._classes = lay.tracks_classes(
            self.h._get(lay.address(lay.bucket_pk(self.bucket), lay.TOTALS_SK))
        )
        # A quiet run reads only the key partitions that hold items: a first baseline reads
        # none (16 queries per range, and more for the top level's stretches, all empty).
        self._partitions = (
            None if self.live else baseline_keys.partitions_holding_keys(self.h, self.bucket)
        )
        sums = self._run_ranges([r for r in ranges if not r["done"]], ranges)
        for r in ranges:
            if r["done"] and r["sums"] is not None:
                sums.add(r["sums"])
        # A live run mends the totals only when its sums cover the bucket and nothing else
        # moved them; a quiet one always (every range's sums are kept, nothing else wrote).
        mend = ending.NEVER if resumed else ending.IF_UNTOUCHED
        mend = ending.ALWAYS if not self.live else mend
        # On the fold path the fold counts a live run's key items: nothing to set or mend.
        mend = ending.FOLDED if self.live and self.h.write_path == "fold" else mend
        # A quiet run's end is not left half-way by Ctrl-C (a kill is mended by its stamps).
        with interrupts.deferred("setting the totals") if not self.live else nullcontext():
            drift = ending.finish(
                self.h, self.bucket, self.depth, sums, before, mend=mend, run=self.run_id
            )
            ranges_table.complete(self.h, self.bucket, self.run_id, self.depth)
        return replace(drift, resumed=resumed)

    # -- ranges ---------------------------------------------------------------------------------
    @collecting_seldom()
    def _run_ranges(self, ranges: list[dict], known: list[dict]) -> Sums:
        """Run ``ranges`` on the pool, and every range the top level's names meanwhile;
        ``known``: every range recorded (done or not), so that none is named twice."""
        total = Sums()
        self._known = {(r["span"].prefix, r["span"].direct) for r in known}
        self._futures: list[Future] = []
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="baseline")
        # A quiet range's key items go out side by side, within the client's 32 connections.
        self.h.write_pool = ThreadPoolExecutor(
            max(WRITERS, self.workers), thread_name_prefix="baseline-writes"
        )
        try:
            for r in ranges:
                self._submit(r)
            while True:
                with self._lock:
                    seen = list(self._futures)
                # A while at a time: a range named meanwhile may fail first.
                wait(seen, timeout=0.5, return_when=FIRST_EXCEPTION)
                with self._lock:
                    seen_all = list(self._futures)
                failed = [f for f in seen_all if f.done() and f.exception() is not None]
                if failed:
                    raise failed[0].exception()
                if len(seen_all) == len(seen) and all(f.done() for f in seen):
                    break  # every range ran, and none named another meanwhile
            if self._stop.is_set():
                raise Interrupted  # a range named after the stop was recorded, not run
        except BaseException as exc:
            # Ctrl-C or a failed range: the others stop before their next request; what they
            # committed is kept (a named range is recorded first), for the same command to resume.
            self._stop.set()
            interrupts.finishing(exc, "keeping the pages being merged")  # which takes seconds
            self._pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            self.h.write_pool.shutdown()
            self.h.write_pool = None
        self._pool.shutdown()
        for future in self._futures:
            total.add(future.result())
        return total

    def _submit(self, r: dict) -> None:
        """A recorded range on the pool; after a stop, left to the same command run again."""
        with self._lock:
            try:
                if not self._stop.is_set():
                    self._futures.append(self._pool.submit(self._run_range, r))
            except RuntimeError:  # the pool shut down as the run stopped; else a thread failed
                if not self._stop.is_set():
                    raise

    def _name_ranges(self, prefixes: list[str]) -> None:
        """Top-level prefixes the top level's range met: recorded, then run on the pool."""
        with self._lock:
            new = [p for p in dict.fromkeys(prefixes) if (p, False) not in self._known]
            self._known.update((p, False) for p in new)
            self.progress.ranges += len(new)
        if not new:
            return
        spans = [Span(p) for p in new]
        # Recorded before the top level's cursor can pass them: a resumed run finds them.
        baseline.batch_put(self.h, [self._range_item(s, None, None, done=False) for s in spans])
        self._run_fresh(spans)

    def _run_fresh(self, spans: list[Span], *, stretches: bool = False) -> None:
        # Whole: a range starting meanwhile sees the batch waiting, not idle workers to split for.
        with self._lock:
            for span in spans:
                r = {"span": span, "cursor": None, "done": False, "sums": None}
                self._submit(r | ({"stretch": True} if stretches else {}))

    def _run_range(self, r: dict) -> Sums:
        if self._stop.is_set():
            raise Interrupted  # submitted before the stop: recorded, for the same command to run
        span, cursor = r["span"], r["cursor"]
        first = None  # a folder's first page, read to learn whether to split it
        # A stretch is not split as it starts (its split spent the probes): it hands over, if long.
        fresh = cursor is None and r["sums"] is None
        if fresh and not (span.direct or span.skip or "stretch" in r):
            span, first = self._spread.at_start(span)
        earlier = r["sums"] or Sums()  # what an interrupted run of this range merged
        # Its moves still pending first, so that this run's progress items carry only its own.
        keep = functools.partial(self._range_item, span, cursor, done=False)
        baseline.settle(self.h, self.bucket, earlier, keep)
        with_earlier = functools.partial(Sums.of, earlier)
        listed_last, pages_read = [0.0], [0]

        def stop_here() -> None:
            if self._stop.is_set():
                raise Interrupted

        def before_page() -> None:
            stop_here()
            if self._spread.due(span, r, pages_read[0]):
                raise HandOver

        def on_page(count: int, objects: int, listed_at: float) -> None:
            listed_last[0], pages_read[0] = listed_at or time.time(), pages_read[0] + 1
            with self._lock:
                self.progress.listed += count
                self.progress.objects += objects
            self.on_progress(self.progress)

        entries = listing.list_span(
            self.s3,
            self.bucket,
            self.versioned,
            span,
            cursor,
            on_page,
            before_page=before_page,
            stop_here=stop_here,
            on_prefixes=self._name_ranges if span.direct else None,
            first=first,
        )

        listing_over = [False]
        done = []  # the merge's last write marks the range done: a write of its own repeats it

        def finished(last: str, now: Sums) -> dict:
            done.append(last)
            return self._range_item(span, last, with_earlier(now), done=True)

        def pages() -> Iterator[ListedVersion]:
            for entry in entries:
                listed_last[0] = entry.listed_at or listed_last[0]
                yield entry
            listing_over[0] = True

        def stop_reading_keys() -> None:
            # While the listing lasts, it stops the range itself, after the pages it has read
            # (listing.list_span): stopping the recorded keys' reading first would leave those
            # pages unmerged, to be listed again by the resumed run.
            if listing_over[0]:
                stop_here()

        try:
            sums = baseline.merge(
                self.h,
                self.bucket,
                baseline_keys.group_listing(pages()),
                baseline_keys.stored_keys(
                    self.h,
                    self.bucket,
                    span,
                    cursor,
                    self._long_items,
                    before_read=stop_reading_keys,
                    partitions=self._partitions,
                    on_prefix=lambda prefix: self._name_ranges([prefix]),
                ),
                own_bucket=self.own_bucket,
                depth=self.depth,
                unmarked_depth=self.unmarked_depth,
                recent_ms=self._recent_ms,
                live=self.live,
                progress=lambda last, now: self._range_item(
                    span, last, with_earlier(now), done=False
                ),
                listed_last=lambda: listed_last[0],
                flush_keys=listing.PAGE_SIZE // 4,
                classes=self._classes,
                finished=finished,
            )
        except HandOver:  # what it read is merged: the rest goes on in stretches, and here
            return self._run_range(self._spread.hand_over(span))
        sums = with_earlier(sums)
        if not done:  # no key to merge: no write marked it
            item = self._range_item(span, cursor, sums, done=True)
            self.h.client.put_item(TableName=self.h.table_name, Item=item)
        with self._lock:
            self.progress.ranges_done += 1
        self.on_progress(self.progress)
        return sums

    def _recent_ms(self, listed_at: float) -> int | None:
        if not listed_at:
            return None
        return max(int((listed_at - MARGIN_SECONDS) * 1000), self.route_since_ms)

    # -- the state in the table -------------------------------------------------------------------
    def _range_item(self, span: Span, cursor: str | None, sums: Sums | None, *, done: bool):
        return ranges_table.range_item(self.bucket, self.run_id, span, cursor, sums, done=done)

    def _start(self, run_id: str, before: lay.Totals, *, due: bool) -> list[dict]:
        self.run_id = run_id
        ranges_table.delete_ranges(self.h, self.bucket)
        # The top level's range names the others as it lists; a flat top level is split first.
        stretches = baseline_split.top_level(self.s3, self.bucket, self.workers)
        spans = [Span(name, direct=True) for name in stretches]
        spans.append(Span("", direct=True, skip=tuple(stretches)))
        # All of them before the BASELINE item: a run stopped before it starts afresh, so no
        # range ever leaves a stretch to a range that was not recorded.
        baseline.batch_put(self.h, [self._range_item(s, None, None, done=False) for s in spans])
        ranges_table.start(
            self.h, self.bucket, run_id, self.depth, before,
            quiet=not self.live, due=due, lease=self.lease.attributes(),
        )  # fmt: skip
        return [{"span": span, "cursor": None, "done": False, "sums": None} for span in spans]


def record(
    stack,
    bucket: str,
    *,
    versioned: bool,
    depth: int,
    ttl_days: float = 0,
    live: bool = True,
    route_since: float = 0.0,
    workers: int | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    write_path: str = "transaction",
) -> Drift:
    """The bucket's baseline, resuming an interrupted run; ``write_path``: the stack's."""
    from s3sizer.lambdas.history import History

    client = stack.aws.client("dynamodb", validate=False)
    history = History(stack.names.table, client, ttl_days=ttl_days, prefix_depth=depth)
    history.write_path = write_path
    return BaselineRun(
        history,
        listing_client(stack.aws),
        bucket,
        own_bucket=stack.config.bucket if stack.config else bucket,  # none: the first's setup
        versioned=versioned,
        depth=depth,
        live=live,
        route_since=route_since,
        workers=workers,
        on_progress=on_progress,
    ).run()
