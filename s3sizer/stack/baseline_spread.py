"""How one range's keys spread over a run's workers: split when it starts, or handed over.

A folder's range is split when it starts only if a worker is idle then: a bucket of many
folders would otherwise spend probes on every one of them. So a huge folder that starts among
the first ranges, while every worker is busy, would be listed by one worker to its end, long
after the others had run out of work: on AWS, 10^8 keys at about 0.15 s a page take four hours.

So a range that turns out long hands what it has not listed yet to workers left idle. Once it
has listed ``AFTER_PAGES`` pages while a worker has no range, it stops before its next request
as a Ctrl-C would stop it (what it read is merged and committed, with its cursor), and its keys
after the cursor are split into stretches (``baseline_split.split_after``). The stretches' range
items and its own, now skipping them, go in one transaction; then it goes on from its cursor,
listing only what lies between the stretches, while the pool lists them. A run stopped either
side of that transaction lists every key once: before it, the range resumes whole from its
cursor; after it, the stretches are recorded ranges of their own.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from botocore.exceptions import ClientError

from s3sizer.lambdas import baseline, batch
from s3sizer.lambdas.baseline_keys import Span
from s3sizer.stack import baseline_ranges as ranges_table
from s3sizer.stack import baseline_split, listing

# Pages a range lists before it may hand over (about 15 s on AWS): a shorter range ends about
# as soon as it would take to split it (up to baseline_split.PROBES one-key requests).
AFTER_PAGES = 100


class HandOver(baseline.ListingStopped):
    """The range stops before its next request, to split what it has not listed yet."""


class Spread:
    """When the ranges of one run (a BaselineRun) split, and hand over, one at a time."""

    def __init__(self, run):
        self.run = run
        self.busy = False  # a range is handing over: the others wait for its stretches to start

    def at_start(self, span: Span) -> tuple[Span, dict | None]:
        """A large folder in stretches, side by side, when a worker has no range; and its first
        page, read to decide, unless it ran on into stretches now others'."""
        run = self.run
        with run._lock:
            if sum(1 for f in run._futures if not f.done()) >= run.workers:
                return span, None
        first = listing.first_page(run.s3, run.bucket, run.versioned, span)
        item_of = functools.partial(run._range_item, cursor=None, sums=None, done=False)
        try:
            stretches = baseline_split.split_folder(
                run.h, run.s3, run.bucket, span, run.workers, item_of, first, stop=run._stop.is_set
            )
        except baseline.ListingStopped:
            return span, first  # stopped while it decided: the page read is merged all the same
        if not stretches:
            return span, first
        self._start(stretches)
        return replace(span, skip=tuple(s.prefix for s in stretches)), None

    def _start(self, stretches: list[Span]) -> None:
        run = self.run
        with run._lock:
            run._known.update((s.prefix, s.direct) for s in stretches)
            run.progress.ranges += len(stretches)
        run._run_fresh(stretches, stretches=True)

    def due(self, span: Span, r: dict, pages: int) -> bool:
        """Whether range ``r``, listing ``span`` (as split when it started, if it was) and
        having listed ``pages`` pages, should hand over now: not a span split already, whose
        stretches a split of its rest would overlap."""
        run = self.run
        if pages < AFTER_PAGES or r.get("handed_over") or span.skip:
            return False
        with run._lock:
            waiting = sum(1 for f in run._futures if not f.done())
            if self.busy or waiting >= run.workers or run._stop.is_set():
                return False
            self.busy = True
            return True

    def hand_over(self, span: Span) -> dict:
        """The stopped range's stretches recorded and started; the range itself to go on with."""
        run = self.run
        try:
            r = ranges_table.stored_range(run.h, run.bucket, span)
            names = []
            if r["cursor"] is not None:
                names = baseline_split.split_after(
                    run.s3, run.bucket, span.prefix, r["cursor"], run.workers,
                    direct=span.direct, stop=run._stop.is_set,
                )  # fmt: skip
            names = names[: batch.TRANSACTION_ITEMS - 1]  # with the range's own item
            if names:
                stretches = [Span(name, direct=span.direct) for name in names]
                r["span"] = replace(span, skip=tuple(names))
                items = [run._range_item(s, None, None, done=False) for s in stretches]
                items.append(run._range_item(r["span"], r["cursor"], r["sums"], done=False))
                if self._record(items, len(stretches)):
                    self._start(stretches)
                else:
                    r["span"] = span
        finally:
            self.busy = False
        r["handed_over"] = True  # once: it goes on with what lies between its stretches
        return r

    def _record(self, items: list[dict], stretches: int) -> bool:
        """The stretches' items (none recorded already: a range is never named twice) and the
        range's own, in one transaction; False when a stretch was there."""
        h = self.run.h
        puts = [{"Put": {"TableName": h.table_name, "Item": i}} for i in items]
        for put in puts[:stretches]:
            put["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            h.client.transact_write_items(TransactItems=puts)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            return False
        return True
