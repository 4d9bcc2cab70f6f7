"""Starting totals and reconcile: a listing merged into the recorded keys while events apply.

The listing and the recorded key items are read in the same key order and merged key by key
(``versions.from_listing`` holds the merge rule), so memory holds one chunk, never the bucket.
Each chunk of changed keys lands in one transaction: the key items under their revisions, and
the totals and prefix totals moved by exactly what those keys changed (ADD), with the range's
cursor. A tracker batch that commits in between makes the transaction fail on that key's
revision; the key is read again and merged again. So the totals stay the sum of the key items,
whoever writes them, and an interrupted run resumes from its cursor without counting twice.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import batch
from . import layout as lay
from . import versions as v
from .listing import Drift, ListedVersion
from .own_keys import is_own_key

CHUNK_ITEMS = batch.TRANSACTION_ITEMS - 2  # the totals and the range's progress item


@dataclass(frozen=True)
class Span:
    """The keys one range covers: those under ``prefix``; with ``direct``, only those with no
    further "/" (the bucket's top level, whose sub-prefixes are ranges of their own)."""

    prefix: str = ""
    direct: bool = False
    skip: tuple[str, ...] = ()  # the sub-prefixes a direct span leaves to other ranges

    def holds(self, key: str) -> bool:
        return key.startswith(self.prefix) and not (self.direct and "/" in key[len(self.prefix) :])


@dataclass
class Sums:
    """What a range found and what it changed, as the listing and the recorded items disagree."""

    listed_bytes: int = 0
    listed_objects: int = 0
    drift_bytes: int = 0
    drift_objects: int = 0
    keys: int = 0
    # What the merged key items hold, and how often this run moved the totals: when nothing
    # else moved them meanwhile, the totals are set to these sums (a corrupted total mends).
    merged_bytes: int = 0
    merged_objects: int = 0
    totals_writes: int = 0
    merged_prefixes: dict = field(default_factory=dict)
    moved_prefixes: dict = field(default_factory=dict)  # prefix -> [bytes, objects] moved

    def add(self, other: Sums) -> None:
        for name, value in vars(other).items():
            if isinstance(value, dict):
                for prefix, (size, count) in value.items():
                    mine = getattr(self, name).setdefault(prefix, [0, 0])
                    mine[0], mine[1] = mine[0] + size, mine[1] + count
            else:
                setattr(self, name, getattr(self, name) + value)


@dataclass
class _Change:
    key: str
    item: dict | None  # as read
    listed: list  # (version id, kind, size), newest first
    recent_ms: int | None
    writes: list = field(default_factory=list)


def group_listing(listing: Iterable[ListedVersion]) -> Iterator[tuple[str, list, float]]:
    """(key, [(version id, kind, size), ...] newest first, listed_at) per key, in key order."""
    for key, group in itertools.groupby(listing, key=lambda lv: lv.key):
        entries = list(group)
        listed = [
            (lv.version_id or v.NULL_VERSION, v.MARKER if lv.delete_marker else v.OBJECT, lv.size)
            for lv in entries
        ]
        yield key, listed, min(getattr(lv, "listed_at", 0.0) for lv in entries)


def stored_keys(h, bucket: str, span: Span, after: str | None = None) -> Iterator[dict]:
    """The recorded key items of the span, in key order, after ``after`` (a resumed cursor).

    Each of the 16 key partitions is queried in sort-key order (keys up to 800 bytes are their
    sort keys) and the streams are merged; the few longer keys, addressed by hash, are read apart
    and merged in.
    """
    streams = [_shard_items(h, pk, span, after) for pk in lay.key_partitions(bucket)]
    long_items = sorted(
        (
            item
            for pk in lay.key_partitions(bucket)
            for item in h._query(pk, "begins_with(sk, :l)", {":l": {"S": "LK#"}})
            if span.holds(item["key"]["S"]) and (after is None or item["key"]["S"] > after)
        ),
        key=lambda item: item["key"]["S"],
    )
    streams.append(iter(long_items))
    return heapq.merge(*streams, key=lambda item: item["key"]["S"])


def _shard_items(h, pk: str, span: Span, after: str | None) -> Iterator[dict]:
    start = "K#" + span.prefix
    if after is not None and after >= span.prefix:
        condition, values = "sk > :a", {":a": {"S": "K#" + after}}
    else:
        condition, values = "sk >= :a", {":a": {"S": start}}
    for item in h._query(pk, condition, values):
        sk = item["sk"]["S"]
        if not sk.startswith(start):
            return  # past the span: the partition is in key order
        if span.holds(item["key"]["S"]):
            yield item


def merge(
    h,
    bucket: str,
    groups: Iterable[tuple[str, list, float]],
    stored: Iterator[dict],
    *,
    depth: int,
    unmarked_depth: int,
    recent_ms: Callable[[float], int | None],
    progress: Callable[[str, Sums], dict | None] = lambda cursor, sums: None,
    listed_last: Callable[[], float] = lambda: 0.0,
    flush_keys: int = 1000,
) -> Sums:
    """Merge a span's listing into its recorded keys, committing chunk by chunk.

    ``recent_ms(listed_at)`` gives the merge rule's bound for a page listed at that time;
    ``progress(cursor, sums)`` gives the range's progress item to commit with each chunk;
    ``listed_last()`` when the listing's last page was read (it covered the span's end).
    """
    sums, chunk, since_flush = Sums(), [], 0

    def flush(cursor: str) -> None:
        nonlocal chunk
        _commit(h, bucket, chunk, depth, unmarked_depth, sums, progress(cursor, sums))
        chunk = []

    for key, listed, item, listed_at in _joined(groups, stored, listed_last):
        if is_own_key(key):
            continue
        sums.keys += 1
        change = _Change(key, item, listed, recent_ms(listed_at))
        for _, kind, size in listed[:1]:
            if kind == v.OBJECT:
                sums.listed_bytes, sums.listed_objects = (
                    sums.listed_bytes + size,
                    (sums.listed_objects + 1),
                )
        chunk.append(change)
        since_flush += 1
        # A chunk fills a transaction; the progress is kept at least once per listing page.
        if _items(chunk, depth) >= CHUNK_ITEMS - 2 * depth - 1 or since_flush >= flush_keys:
            flush(key)
            since_flush = 0
    if chunk:
        flush(chunk[-1].key)
    return sums


def _joined(groups, stored, listed_last) -> Iterator[tuple[str, list, dict | None, float]]:
    """(key, listed, stored item, listed_at) for every key in either stream, in key order.

    A recorded key the listing did not show takes the time of the page that passed its place:
    the next listed key's, or the last page's.
    """
    groups, stored = iter(groups), iter(stored)
    g, s = next(groups, None), next(stored, None)
    while g is not None or s is not None:
        gk = g[0] if g is not None else None
        sk = s["key"]["S"] if s is not None else None
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


def _plan(c: _Change, bucket: str, depth: int, unmarked_depth: int):
    """(key item to put or None, {name: [bytes, objects]} deltas) for one key."""
    state = lay.key_state_from(c.item) if c.item else None
    old = state.versions if state else {}
    counted = (
        unmarked_depth if state is None or state.counted_depth is None else state.counted_depth
    )
    if state is None:
        counted = depth  # a key nothing counted yet: every prefix gets it whole
        old_size = None
    else:
        old_size = v.visible_size(old)
    new = v.from_listing(old, c.listed, c.recent_ms)
    new_size = v.visible_size(new)
    deltas: dict[str, list[int]] = {}

    def add(name: str, size: int | None, sign: int) -> None:
        if size is None:
            return
        d = deltas.setdefault(name, [0, 0])
        d[0], d[1] = d[0] + sign * size, d[1] + sign

    add("", old_size, -1)
    add("", new_size, 1)
    # Prefixes deeper than the depth go to zero at the end; the others lose the key's old size
    # where it was counted, and take its new one.
    for p in lay.prefixes(c.key, depth):
        if p.count("/") <= counted:
            add(p, old_size, -1)
        add(p, new_size, 1)
    deltas = {n: d for n, d in deltas.items() if d != [0, 0]}
    if (state is not None and new == old and counted == depth) or (state is None and not new):
        return None, deltas, new_size
    rev = state.rev if state else 0
    item = lay.key_item(bucket, c.key, new, rev + 1, depth)
    return (item, rev if state else None), deltas, new_size


def _commit(h, bucket, chunk, depth, unmarked_depth, sums: Sums, progress_item) -> None:
    for attempt in range(batch.MAX_ATTEMPTS):
        writes, deltas, merged = [], {}, []
        for c in chunk:
            put, key_deltas, new_size = _plan(c, bucket, depth, unmarked_depth)
            merged.append((c.key, new_size))
            for name, (d_size, d_count) in key_deltas.items():
                total = deltas.setdefault(name, [0, 0])
                total[0], total[1] = total[0] + d_size, total[1] + d_count
            if put is not None:
                item, rev = put
                condition = batch._rev_condition(c.item, rev or 0)
                writes.append((("K", c.key), batch._put(h, item, condition)))
        for name, (d_size, d_count) in sorted(deltas.items()):
            if d_size or d_count:
                writes.append((("A", name), _add(h, bucket, name, d_size, d_count)))
        if progress_item is not None:
            writes.append((("R", ""), batch._put(h, progress_item)))
        if writes:
            try:
                h.client.transact_write_items(TransactItems=[w for _, w in writes])
            except ClientError as err:
                if batch._code(err) != "TransactionCanceledException":
                    raise
                if attempt == batch.MAX_ATTEMPTS - 1:
                    raise
                failed = batch._failed(err, writes)
                moved = [c for c in chunk if failed is None or ("K", c.key) in failed]
                found = batch.read_items(h, {c.key: lay.key_address(bucket, c.key) for c in moved})
                for c in moved:
                    c.item = found.get(c.key)
                h.backoff(attempt)
                continue
        _count(sums, deltas, merged, depth, any(name == ("A", "") for name, _ in writes))
        return


def _count(sums: Sums, deltas: dict, merged: list, depth: int, moved_totals: bool) -> None:
    drift = deltas.get("", [0, 0])
    sums.drift_bytes, sums.drift_objects = (
        sums.drift_bytes + drift[0],
        sums.drift_objects + drift[1],
    )
    sums.totals_writes += moved_totals
    for name, (d_size, d_count) in deltas.items():
        if name:
            mine = sums.moved_prefixes.setdefault(name, [0, 0])
            mine[0], mine[1] = mine[0] + d_size, mine[1] + d_count
    for key, size in merged:
        if size is None:
            continue
        sums.merged_bytes, sums.merged_objects = sums.merged_bytes + size, sums.merged_objects + 1
        for prefix in lay.prefixes(key, depth):
            mine = sums.merged_prefixes.setdefault(prefix, [0, 0])
            mine[0], mine[1] = mine[0] + size, mine[1] + 1


def _add(h, bucket: str, name: str, d_size: int, d_count: int) -> dict:
    """Move the bucket's totals (name "") or a prefix's by a delta; one more version, so a
    tracker batch that read them before writes again on top."""
    values = {":s": lay.n(d_size), ":c": lay.n(d_count), ":one": lay.n(1)}
    names = {"#v": "version"}
    expression = "ADD total_size :s, object_count :c, #v :one"
    if name == "":
        key = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    else:
        key = lay.prefix_address(bucket, name)
        expression = "SET #p = :p, #d = :d " + expression
        names |= {"#p": "prefix", "#d": "depth"}
        values |= {":p": {"S": name}, ":d": lay.n(name.count("/"))}
    return {
        "Update": {
            "TableName": h.table_name,
            "Key": key,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def reset(h, bucket: str, listing: Iterable[ListedVersion], depth: int) -> Drift:
    """One listing of the whole bucket, merged in one pass (tests; small buckets)."""
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
    )
    return finish(h, bucket, depth, sums, before)


def finish(
    h, bucket: str, depth: int, sums: Sums, before: lay.Totals, *, quiet: bool = True
) -> Drift:
    """After the last range: prefixes deeper than the depth to zero, the largest size ever
    raised to the totals, and one point when the totals moved (or at the very first baseline).

    ``quiet``: ``sums`` covers the whole run (it was not resumed), so that when no tracker
    batch moved the totals meanwhile, the totals are set to what the merged keys hold."""
    _zero_deeper_prefixes(h, bucket, depth)
    _prefix_points(h, bucket, sums.moved_prefixes)
    event = "s3sizer:Reconcile" if before.updated_at is not None else "s3sizer:Baseline"
    address = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    for attempt in range(batch.MAX_ATTEMPTS):
        item = h._get(address)
        old = lay.totals_from(item)
        start = lay.Totals(
            old.total_size - sums.drift_bytes, old.object_count - sums.drift_objects, 0, None, 0
        )
        size, count = old.total_size, old.object_count
        if quiet and old.version == before.version + sums.totals_writes:
            # Nothing but this run moved the totals: they must be what the merged keys hold.
            size, count = sums.merged_bytes, sums.merged_objects
            start = before
            sums.drift_bytes = size - before.total_size
            sums.drift_objects = count - before.object_count
            _mend_prefixes(h, bucket, sums.merged_prefixes)
        moved = (size, count) != (start.total_size, start.object_count)
        if item and before.updated_at is not None and not moved and old.max_size >= size:
            break
        new = lay.Totals(
            size,
            count,
            max(old.max_size, size),
            h.next_timestamp(old.updated_at),
            old.version + 1,
        )
        writes = [batch._aggregate_put(h, bucket, None, item, new)]
        writes.append(batch.point_put(h, lay.bucket_pk(bucket), start, new, event, None))
        try:
            h.client.transact_write_items(TransactItems=writes)
            break
        except ClientError as err:
            if batch._code(err) != "TransactionCanceledException":
                raise
            if attempt == batch.MAX_ATTEMPTS - 1:
                raise
            h.backoff(attempt)
    totals = h.totals(bucket)
    return Drift(totals.total_size, totals.object_count, sums.drift_bytes, sums.drift_objects)


def _prefix_points(h, bucket: str, moved: dict) -> None:
    """One point for each prefix the run moved, so that its history shows the step."""
    for item in h._query(lay.prefix_pk(bucket)):
        prefix = item["prefix"]["S"]
        if not any(moved.get(prefix, (0, 0))):
            continue
        now = lay.totals_from(item)
        d_size, d_count = moved[prefix]
        was = lay.Totals(now.total_size - d_size, now.object_count - d_count, 0, None, 0)
        now = lay.Totals(now.total_size, now.object_count, 0, h.next_timestamp(None), now.version)
        pk = lay.prefix_points_pk(bucket, prefix)
        put = batch.point_put(h, pk, was, now, "s3sizer:Reconcile", None)
        h.client.put_item(**put["Put"])


def _mend_prefixes(h, bucket: str, merged: dict) -> None:
    """Each prefix's totals set to what its merged keys hold (the bucket was quiet)."""
    for item in h._query(lay.prefix_pk(bucket)):
        prefix = item["prefix"]["S"]
        size, count = merged.get(prefix, (0, 0))
        old = lay.totals_from(item)
        if (old.total_size, old.object_count) == (size, count):
            continue
        new = lay.Totals(size, count, 0, h.next_timestamp(old.updated_at), old.version + 1)
        try:
            h.client.transact_write_items(
                TransactItems=[
                    batch._aggregate_put(h, bucket, prefix, item, new),
                    batch.point_put(
                        h, lay.prefix_points_pk(bucket, prefix), old, new, "s3sizer:Reconcile", None
                    ),
                ]
            )
        except ClientError as err:
            if batch._code(err) != "TransactionCanceledException":
                raise


def _zero_deeper_prefixes(h, bucket: str, depth: int) -> None:
    for item in h._query(lay.prefix_pk(bucket)):
        if int(item["depth"]["N"]) <= depth or (
            int(item["total_size"]["N"]) == 0 and int(item["object_count"]["N"]) == 0
        ):
            continue
        old = lay.totals_from(item)
        new = lay.Totals(0, 0, 0, h.next_timestamp(old.updated_at), old.version + 1)
        prefix = item["prefix"]["S"]
        try:
            h.client.transact_write_items(
                TransactItems=[
                    batch._aggregate_put(h, bucket, prefix, item, new),
                    batch.point_put(
                        h, lay.prefix_points_pk(bucket, prefix), old, new, "s3sizer:Reconcile", None
                    ),
                ]
            )
        except ClientError as err:
            if batch._code(err) != "TransactionCanceledException":
                raise


def _unversioned(key: str, size: int) -> ListedVersion:
    return ListedVersion(key, None, size, True, False)
