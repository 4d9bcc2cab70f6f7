"""Starting totals and reconcile: a listing merged into the recorded keys while events apply.

The listing and the recorded key items are read in the same key order and merged key by key
(``versions.from_listing`` holds the merge rule), so memory holds one chunk, never the bucket.

While a route delivers events (a *live* run), each chunk of changed keys lands in one
transaction: the key items under their revisions, and the range's progress item with its cursor
and what those keys moved, still *pending*. A tracker batch that commits in between fails the
transaction on that key's revision; the key is read and merged again. Every few seconds, and at
the range's end, the pending moves are added (ADD) to the totals and prefix totals in a
transaction that also takes them out of the progress item (``settle``). So the totals plus every
range's pending moves stay the sum of the key items, whoever writes them, and a resumed run
counts nothing twice. Settling seldom, not with every chunk, is what lets the tracker's batches
commit while a baseline runs: each settle moves the totals' version, which a batch in flight
must then read again, and sixteen ranges moving it with every chunk left batches failing.

With no route yet (a *quiet* run: setup before the first deploy) nothing else writes: key items
go by BatchWriteItem at half the write units, the range's cursor carries what the merged keys
hold, and the totals are set to the sum at the end (baseline_finish.py). A live run on the fold
path (rows.py) writes the key items marked for the fold, with the range's cursor and nothing
pending: the fold counts them as it counts the tracker's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import wait
from dataclasses import dataclass

from botocore.exceptions import ClientError

from . import batch, rows
from . import layout as lay
from . import versions as v
from .baseline_keys import Span, group_listing, stored_keys
from .baseline_sums import WIDTH, Sums, settle
from .baseline_sums import accumulate as _accumulate
from .listing import Drift, ListedVersion
from .own_keys import is_own_object


class ListingStopped(Exception):
    """The listing (or the recorded keys' reading) was told to stop: what was merged is kept."""


class KeyKeptMoving(Exception):
    """A live chunk's key changed between the read and the write of every attempt, even alone:
    what was committed before it is kept, and a rerun goes on from there."""

    def __init__(self, key: str, attempts: int, *, known: bool = True):
        """``known``: DynamoDB named ``key`` as the one that moved; else the chunk starts at it."""
        shown = repr(key if len(key) <= 80 else key[:77] + "...")
        what = f"the key {shown}" if known else f"a key from {shown} on"
        super().__init__(
            f"{what} changed between the read and the write of each of {attempts} attempts"
        )
        self.key, self.attempts, self.known = key, attempts, known


# A live chunk is planned as when it carried its totals and prefix totals too; it now carries
# the range's progress item only, so its transaction has room to spare.
CHUNK_ITEMS = batch.TRANSACTION_ITEMS - 2
WRITE_BATCH = 25  # BatchWriteItem's limit
SETTLE_SECONDS = 2.0  # how long a live range's moves may stay pending
SPLIT_AFTER = 2  # failed attempts of a live chunk before it is committed in parts


@dataclass
class _Change:
    key: str
    state: lay.KeyState | None  # as recorded when read (None: no key item)
    listed: list  # (version id, kind, size, storage class), newest first
    recent_ms: int | None
    classes: bool = False  # the bucket's classes are tracked: the listing's count


def merge(
    h,
    bucket: str,
    groups: Iterable[tuple[str, list, float]],
    stored: Iterator[lay.KeyState],
    *,
    depth: int,
    unmarked_depth: int,
    recent_ms: Callable[[float], int | None],
    live: bool = True,
    progress: Callable[[str, Sums], dict | None] = lambda cursor, sums: None,
    listed_last: Callable[[], float] = lambda: 0.0,
    flush_keys: int = 1000,
    classes: bool | None = None,
    finished: Callable[[str, Sums], dict | None] | None = None,
    own_bucket: str | None = None,
) -> Sums:
    """Merge a span's listing into its recorded keys, committing chunk by chunk.

    ``recent_ms(listed_at)`` gives the merge rule's bound for a page listed at that time;
    ``live``: a route delivers events meanwhile (transactions with deltas), or not (quiet);
    ``progress(cursor, sums)`` gives the range's progress item to commit with each chunk;
    ``listed_last()`` when the listing's last page was read (it covered the span's end);
    ``classes``: take the listing's storage classes (None: when the bucket's TOTALS say so);
    ``finished(cursor, sums)``: the item to write instead of the progress item once the span is
    merged and nothing waits to be settled (the range's own item, marked done: no more writes).
    """
    if classes is None:
        classes = lay.tracks_classes(h._get(lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)))
    sums, chunk, since_flush = Sums(), [], 0
    commit = _commit_live if live else _commit_quiet
    settled_at, cursor_now = time.monotonic(), None

    def item(cursor: str, final: bool):
        if not final or finished is None:
            return lambda now: progress(cursor, now)
        return lambda now: (progress if now.pending else finished)(cursor, now)

    def flush(cursor: str, *, last: bool = False, final: bool = False) -> None:
        nonlocal chunk, settled_at, cursor_now
        part = lambda key: item(key, False)  # noqa: E731
        commit(h, bucket, chunk, (depth, unmarked_depth), sums, item(cursor, final), part)
        chunk, cursor_now = [], cursor
        if last or time.monotonic() - settled_at >= SETTLE_SECONDS:
            settle(h, bucket, sums, item(cursor, final))
            settled_at = time.monotonic()

    joined = _joined(groups, stored, listed_last)
    while True:
        try:
            key, listed, state, listed_at = next(joined)
        except StopIteration:
            break
        except ListingStopped:
            # Every key merged so far came whole from pages already read: keep them, so that
            # the same command run again lists from the last of them, not from the page before.
            if chunk:
                flush(chunk[-1].key, last=True)
            raise
        if is_own_object(bucket, key, own_bucket):
            continue
        sums.keys += 1
        change = _Change(key, state, listed, recent_ms(listed_at), classes)
        chunk.append(change if live else _Planned(change, bucket, (depth, unmarked_depth)))
        for _, kind, size, *_ in listed[:1]:
            if kind == v.OBJECT:
                sums.listed_bytes += size
                sums.listed_objects += 1
        since_flush += 1
        # A live chunk fills a transaction; a quiet one has no transaction, so it writes whole
        # batches. The progress is kept at least once per listing page.
        full = live and _items(chunk, depth) >= CHUNK_ITEMS - 2 * depth - 1
        if full or since_flush >= flush_keys:
            flush(key)
            since_flush = 0
    if chunk:
        flush(chunk[-1].key, last=True, final=True)
    elif sums.pending:  # the last key filled a chunk: what it moved is settled here
        settle(h, bucket, sums, item(cursor_now, True))
    return sums


def _joined(groups, stored, listed_last) -> Iterator[tuple[str, list, lay.KeyState | None, float]]:
    """(key, listed, recorded state, listed_at) for every key in either stream, in key order.

    A recorded key the listing did not show takes the time of the page that passed its place:
    the next listed key's, or the last page's.
    """
    groups, stored = iter(groups), iter(stored)
    g, s = next(groups, None), next(stored, None)
    while g is not None or s is not None:
        gk = g[0] if g is not None else None
        sk = s.key if s is not None else None
        if s is None or (g is not None and gk < sk):
            yield gk, g[1], None, g[2]
            g = next(groups, None)
        elif g is None or sk < gk:
            yield sk, [], s, g[2] if g is not None else listed_last()
            s = next(stored, None)
        else:
            yield gk, g[1], s, g[2]
            g, s = next(groups, None), next(stored, None)


def _items(chunk: list[_Change], depth: int) -> int:
    prefixes = {p for c in chunk for p in lay.prefixes(c.key, depth)}
    return len(chunk) + len(prefixes)


def _figures(versions: dict) -> list[int]:
    size = v.visible_size(versions)
    return [size or 0, int(size is not None), *v.breakdown(versions)]


def _plan(c: _Change, bucket: str, depths: tuple[int, int]):
    """(put or None, {aggregate: WIDTH deltas}, the merged key's figures, {class: deltas},
    the merged key's class figures) for one key."""
    depth, unmarked_depth = depths
    state = c.state
    old = state.versions if state else {}
    if state is None:
        counted = depth  # nothing counted the key yet: each prefix takes it whole
    else:
        counted = unmarked_depth if state.counted_depth is None else state.counted_depth
    # Without classes tracked the listing's are left out: the key's recorded ones stay.
    listed = c.listed if c.classes else [entry[:3] for entry in c.listed]
    new = v.from_listing(old, listed, c.recent_ms)
    classes_now = v.class_figures(new)
    class_deltas: dict = {}
    for figures, sign in ((v.class_figures(old), -1), (classes_now, 1)):
        for name, values in figures.items():
            _accumulate(class_deltas, name, [sign * x for x in values])
    class_deltas = {name: d for name, d in class_deltas.items() if any(d)}
    was, now = _figures(old), _figures(new)
    change = [b - a for a, b in zip(was, now, strict=True)]
    deltas = {"": change}
    # Prefixes deeper than the depth go to zero at the end; the others lose the key's old
    # figures where it was counted, and take its new ones.
    for p in lay.prefixes(c.key, depth):
        deltas[p] = change if p.count("/") <= counted else now
    deltas = {name: d for name, d in deltas.items() if any(d)}
    if class_deltas and "" not in deltas:
        deltas[""] = [0] * WIDTH  # the totals carry the classes
    classes = (class_deltas, classes_now)
    if (state is not None and new == old and counted == depth) or (state is None and not new):
        return None, deltas, now, classes
    rev = state.rev if state else 0
    return (lay.key_item(bucket, c.key, new, rev + 1, depth), rev), deltas, now, classes


def _plan_chunk(chunk, bucket, depths):
    """(puts: [(change, item, rev)], {aggregate: deltas}, [(key, merged figures)],
    {class: deltas}, {class: merged figures})."""
    return _sum_plans((c, _plan(c, bucket, depths)) for c in chunk)


class _Planned:
    """A quiet chunk's key, planned as it is merged: nothing else writes during a quiet run, so
    the plan holds at the commit, and the chunk keeps the plan, not the key item as read."""

    __slots__ = ("key", "plan")

    def __init__(self, c: _Change, bucket: str, depths: tuple[int, int]):
        self.key, self.plan = c.key, _plan(c, bucket, depths)


def _sum_plans(plans):
    puts, deltas, merged, class_deltas, class_merged = [], {}, [], {}, {}
    for c, (put, key_deltas, figures, (key_classes, key_merged)) in plans:
        merged.append((c.key, figures))
        for name, d in key_deltas.items():
            _accumulate(deltas, name, d)
        for name, d in key_classes.items():
            _accumulate(class_deltas, name, d)
        for name, d in key_merged.items():
            _accumulate(class_merged, name, d)
        if put is not None:
            puts.append((c, *put))
    return puts, deltas, merged, (class_deltas, class_merged)


def _commit_live(h, bucket, chunk, depths, sums: Sums, progress, part=None) -> None:
    """The chunk's key items and the range's progress in one transaction. ``part(key)`` gives
    the progress item for a cursor at ``key``: where clients keep changing the chunk's keys,
    so that some key changes between the read and the write of every attempt, the keys before
    the first that changed (or that one alone) are committed on their own, then the rest; each
    commit's keys are fewer, and so is the chance that one of them moves meanwhile."""
    # On the fold path the key items go marked, and the fold counts them: nothing is pending.
    folding = h.write_path == "fold"
    mark = (h.fold_mark or {rows.FOLDED: lay.n(1)}) if folding else {}
    for attempt in range(batch.MAX_ATTEMPTS):
        puts, deltas, merged, classes = _plan_chunk(chunk, bucket, depths)
        after = _counted(sums, deltas, merged, depths[0], not folding, classes)
        writes = [
            (("K", c.key), batch._put(h, {**item, **mark}, lay.rev_condition(c.state, rev)))
            for c, item, rev in puts
        ]
        progress_item = progress(after)
        if progress_item is not None:
            writes.append((("R", ""), batch._put(h, progress_item)))
        if not writes:
            break
        try:
            h.client.transact_write_items(TransactItems=[w for _, w in writes])
        except ClientError as err:
            if batch._code(err) != "TransactionCanceledException":
                raise
            failed = batch._failed(err, writes)
            moved = [c for c in chunk if failed is None or ("K", c.key) in failed]
            if attempt == batch.MAX_ATTEMPTS - 1:
                if not moved:  # the progress item alone failed: not a key's doing
                    raise
                known = failed is not None  # without its reasons, any key of the chunk moved
                raise KeyKeptMoving(moved[0].key, batch.MAX_ATTEMPTS, known=known) from err
            h.backoff(attempt)  # before reading again, so that what is read goes out at once
            found = batch.read_items(h, {c.key: lay.key_address(bucket, c.key) for c in moved})
            for c in moved:
                item = found.get(c.key)
                c.state = lay.key_state_from(item) if item else None
            if attempt >= SPLIT_AFTER and part is not None and len(chunk) > 1:
                first = chunk.index(moved[0]) if moved else 0
                head, chunk = chunk[: first or 1], chunk[first or 1 :]
                _commit_live(h, bucket, head, depths, sums, part(head[-1].key), part)
                _commit_live(h, bucket, chunk, depths, sums, progress, part)
                return
            continue
        break
    vars(sums).update(vars(after))


def _commit_quiet(h, bucket, chunk, depths, sums: Sums, progress, part=None) -> None:
    """Nothing else writes: the key items at one write unit each, then the range's progress,
    which carries what its merged keys hold (a rerun of the chunk merges them to themselves)."""
    puts, deltas, merged, classes = _sum_plans((p, p.plan) for p in chunk)
    batch_put(h, [item for _, item, _ in puts])
    vars(sums).update(vars(_counted(sums, deltas, merged, depths[0], False, classes)))
    progress_item = progress(sums)
    if progress_item is not None:
        h.client.put_item(TableName=h.table_name, Item=progress_item)


def batch_put(h, items: list[dict]) -> None:
    """The items put by BatchWriteItem (batch_write)."""
    batch_write(h, [{"PutRequest": {"Item": item}} for item in items])


def batch_write(h, requests: list[dict]) -> None:
    """Write requests (PutRequest or DeleteRequest) by BatchWriteItem, 25 a request: side by
    side on ``h.write_pool`` when there is one (a range of a flat bucket merges alone, and
    waits on each request's round trip)."""
    batches = [requests[i : i + WRITE_BATCH] for i in range(0, len(requests), WRITE_BATCH)]
    if h.write_pool is None or len(batches) <= 1:
        for one in batches:
            _write_batch(h, one)
        return
    futures = [h.write_pool.submit(_write_batch, h, one) for one in batches]
    wait(futures)  # every request ends before the range goes on, or stops
    for future in futures:
        future.result()


def _write_batch(h, requests: list[dict]) -> None:
    request = {h.table_name: requests}
    for attempt in range(batch.MAX_ATTEMPTS):
        request = h.client.batch_write_item(RequestItems=request).get("UnprocessedItems")
        if not request:
            return
        h.backoff(attempt)
    left = sum(len(r) for r in request.values())
    raise RuntimeError(f"DynamoDB left {left} items unprocessed after retries")


def _counted(
    sums: Sums, deltas: dict, merged: list, depth: int, pending: bool, classes=({}, {})
) -> Sums:
    """``sums`` with one more chunk counted (a new Sums: a cancelled transaction counts nothing);
    ``pending``: its moves wait to be settled into the totals (a live run on the transaction
    path)."""
    after = Sums()
    after.add(sums)
    drift = deltas.get("", [0] * WIDTH)
    after.drift_bytes += drift[0]
    after.drift_objects += drift[1]
    for name, d in deltas.items():
        _accumulate(after.moved, name, d)
        if pending:
            _accumulate(after.pending, name, d)
    for key, figures in merged:
        for name in ["", *lay.prefixes(key, depth)]:
            _accumulate(after.merged, name, figures)
    for name, d in classes[0].items():
        _accumulate(after.classes_moved, name, d)
        if pending:
            _accumulate(after.pending_classes, name, d)
    for name, d in classes[1].items():
        _accumulate(after.classes_merged, name, d)
    return after


def reset(h, bucket: str, listing: Iterable[ListedVersion], depth: int) -> Drift:
    """One listing of the whole bucket, merged in one quiet pass (tests; small buckets)."""
    from .baseline_finish import ALWAYS, finish

    listing = [e if isinstance(e, ListedVersion) else _unversioned(*e) for e in listing]
    listing.sort(key=lambda e: e.key)  # stable: each key's versions stay newest first
    before = h.totals(bucket)
    sums = merge(
        h,
        bucket,
        group_listing(listing),
        stored_keys(h, bucket, Span()),
        depth=depth,
        unmarked_depth=depth,
        recent_ms=lambda listed_at: None,
        live=False,
    )
    return finish(h, bucket, depth, sums, before, mend=ALWAYS)


def _unversioned(key: str, size: int) -> ListedVersion:
    return ListedVersion(key, None, size, True, False)
