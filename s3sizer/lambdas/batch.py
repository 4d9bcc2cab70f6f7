"""Applying a chunk of one bucket's changes: one BatchGetItem, then one TransactWriteItems.

The transaction carries every key item that changed, under a condition on its revision; the
bucket's totals once, with the chunk's net change, under a condition on their version; each
touched prefix's totals likewise; one history point for the bucket and one per touched prefix.
All land or none does, so a crash or a retry is harmless: the retry finds its records applied.
A cancelled transaction names the items whose condition failed (CancellationReasons): only
those are read again, the chunk is recomputed in memory and resubmitted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import late_creates, tracked
from . import layout as lay
from . import versions as v
from .points import point_put
from .records import Change

MAX_ATTEMPTS = 30
TRANSACTION_ITEMS = 100  # TransactWriteItems' limit
READ_ITEMS = 100  # BatchGetItem's limit
_BACKOFF_BASE, _BACKOFF_CAP = 0.01, 0.5
_RETRYABLE = {"ConditionalCheckFailed", "TransactionConflict"}


@dataclass
class ChunkResult:
    counts: dict = field(
        default_factory=lambda: dict.fromkeys(("applied", "duplicate", "stale"), 0)
    )
    retries: int = 0
    totals: lay.Totals | None = None  # the bucket's totals after the chunk, when it wrote them
    partial: bool = False  # a baseline is still merging the listing: the totals are not whole
    prefixes: dict[str, lay.PrefixTotals] = field(default_factory=dict)
    # With per-bucket settings (History.settings_required): the depth the table holds for the
    # bucket when it differs from the one the chunk was planned with; nothing was written.
    stale_depth: int | None = None
    lookups: int = 0  # questions to S3: storage classes (HEAD), late creates (a LIST per key)


def items_needed(keys: set[str], prefixes: set[str]) -> int:
    """The most items a chunk of these keys can put in its transaction."""
    return len(keys) + 2 + 2 * len(prefixes)


def apply_chunk(h, bucket: str, changes: list[Change]) -> ChunkResult:
    keys = {c.key for c in changes}
    prefixes = {p for key in keys for p in lay.prefixes(key, h.prefix_depth)}
    assert items_needed(keys, prefixes) <= TRANSACTION_ITEMS, "the caller plans chunks"
    totals_addr = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    addresses = {("T", ""): totals_addr}
    addresses |= {("K", k): lay.key_address(bucket, k) for k in keys}
    addresses |= {("P", p): lay.prefix_address(bucket, p) for p in prefixes}
    # Read along, at no extra request: whether a baseline is in progress.
    baseline_addr = lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)
    along = {("B", ""): baseline_addr}
    if h.settings_required:  # and the bucket's settings: is it tracked, and at what depth
        along[("S", "")] = lay.settings_address(bucket)
    stored = read_items(h, addresses | along)
    baseline = stored.pop(("B", ""), {})
    running = baseline.get("state", {}).get("S") == lay.BASELINE_RUNNING
    # While a bucket's first baseline runs its totals are partial: points of them would draw a
    # climb that never happened, and count as growth (the baseline's end draws the step).
    points = not (running and lay.FIRST_BASELINE in baseline)
    unmarked = h.prefix_depth  # the depth key items without ``pd`` count at
    if h.settings_required:
        settings = stored.pop(("S", ""), None)
        verdict = _settings_verdict(h, settings, changes)
        if verdict is not None:
            return verdict
        unmarked = tracked.unmarked_depth(settings, h.prefix_depth)
    ordered = sorted(changes, key=lambda c: (c.time, c.seq))
    result = ChunkResult(partial=running)
    looked_up: dict[tuple[str, str], str | None] = {}  # (key, version id) -> class, once each
    for attempt in range(MAX_ATTEMPTS):
        if h.settings_required and ("T", "") not in stored:
            # The bucket's first write (or untrack deleted its totals since they were read):
            # the totals are made while the settings exist, or the bucket is no longer tracked.
            if not tracked.create_totals(h, bucket):
                return ChunkResult(counts={"ignored": len(changes)})
            stored |= read_items(h, {("T", ""): totals_addr})
            continue
        plan = _plan(h, bucket, ordered, stored, looked_up, unmarked, points)
        while plan.need or plan.doubts:  # what only S3 can say, asked once each
            result.lookups += late_creates.ask_s3(h, bucket, plan, looked_up)
            plan = _plan(h, bucket, ordered, stored, looked_up, unmarked, points)
        if not plan.writes:
            result.counts = plan.counts
            return result
        if h.settings_required and not any(name == ("T", "") for name, _ in plan.writes):
            # Key items only: they land while the bucket is tracked, or not at all (untrack).
            plan.writes.append((("S", ""), tracked.settings_check(h.table_name, bucket)))
        try:
            h.client.transact_write_items(TransactItems=[w for _, w in plan.writes])
        except ClientError as err:
            if _code(err) != "TransactionCanceledException" or attempt == MAX_ATTEMPTS - 1:
                raise
            failed = _failed(err, plan.writes)
            if failed is None:  # no reasons given: everything may have moved
                failed = set(addresses) | ({("S", "")} if h.settings_required else set())
            # Wait before reading again, not after: what is read then goes out at once, so a
            # busy writer of the same totals has the least time to move them in between.
            h.backoff(attempt)
            if ("S", "") in failed:
                settings = read_items(h, {("S", ""): lay.settings_address(bucket)}).get(("S", ""))
                verdict = _settings_verdict(h, settings, changes)
                if verdict is not None:
                    return verdict
            # Points are new items: only the keys and the totals they name need a new look.
            again = {n: addresses[n] for n in failed if n in addresses}
            for name in again:
                stored.pop(name, None)  # gone since (untrack): absent, not as read before
            stored |= read_items(h, again)
            result.retries += 1
            continue
        result.counts, result.totals, result.prefixes = plan.counts, plan.totals, plan.prefixes
        return result
    # The last attempts went to making the totals: this chunk's records fail, and come again.
    raise RuntimeError(f"the totals of {bucket} could not be written in {MAX_ATTEMPTS} attempts")


@dataclass
class _Plan:
    counts: dict
    writes: list  # (name, TransactItem); name is ("K", key), ("T", "") or ("P", prefix)
    totals: lay.Totals | None = None
    prefixes: dict = field(default_factory=dict)
    need: set = field(default_factory=set)  # (key, version id, named) to look up
    doubts: set = field(default_factory=set)  # (key, version id) of creates v.UNSURE of
    # Per key: the largest visible size it had inside the chunk, where that is more than it
    # ends with (a put overwritten in the same chunk). The fold path writes it on the key item,
    # so that the fold, which sees only the item's last image, still sees the peak.
    passing: dict = field(default_factory=dict)


def _settings_verdict(h, settings: dict | None, changes: list) -> ChunkResult | None:
    """What the bucket's settings item says before anything is written: not tracked (the
    changes are ignored), tracked at another depth (planned again), or None: go on."""
    if settings is None:  # not a bucket this stack tracks: counted, never applied
        return ChunkResult(counts={"ignored": len(changes)})
    depth = int(settings["prefix_depth"]["N"])
    if depth != h.prefix_depth:
        return ChunkResult(counts={}, stale_depth=depth)
    return None


def _plan(
    h, bucket: str, ordered: list[Change], stored: dict, looked_up=None, unmarked=None,
    points: bool = True,
) -> _Plan:  # fmt: skip
    """The transaction that applies the changes on top of the stored items.

    With the bucket's storage classes tracked (its TOTALS item says so), each version a change
    creates takes its class from ``looked_up``; when one is missing, the plan only names the
    versions to look up (``need``) and writes nothing.
    """
    looked_up = {} if looked_up is None else looked_up
    counts = dict.fromkeys(("applied", "duplicate", "stale"), 0)
    classes_on = lay.tracks_classes(stored.get(("T", ""))) and h.class_of is not None
    need: set = set()
    doubts: set = set()
    class_deltas: dict[str, list[int]] = {}
    maps, depth = {}, {}
    for change in ordered:
        if change.key not in maps:
            item = stored.get(("K", change.key))
            state = lay.key_state_from(item) if item else None
            maps[change.key] = state.versions if state else {}
            counted = state.counted_depth if state else None
            if counted is None:  # a new key, or an item written before key items had ``pd``
                counted = h.prefix_depth if state is None or unmarked is None else unmarked
            depth[change.key] = counted
    original = dict(maps)
    size_delta = count_delta = peak = 0
    # per aggregate ("" the bucket, else a prefix): [bytes, objects, *breakdown]
    deltas: dict[str, list[int]] = {"": [0] * (2 + len(lay.BREAKDOWN))}
    largest: dict[str, int] = {}
    for c in ordered:
        before, kept_before = v.visible_size(maps[c.key]), v.breakdown(maps[c.key])
        classes_before = v.class_figures(maps[c.key])
        outcome = _apply(maps, c, classes_on, looked_up, need, doubts)
        counts[outcome] = counts.get(outcome, 0) + 1
        after, kept_after = v.visible_size(maps[c.key]), v.breakdown(maps[c.key])
        largest[c.key] = max(largest.get(c.key, 0), after or 0)
        classes_after = v.class_figures(maps[c.key])
        if classes_after != classes_before:
            _move_classes(class_deltas, classes_before, -1)
            _move_classes(class_deltas, classes_after, 1)
        if before == after and kept_before == kept_after:
            continue
        d_size = (after or 0) - (before or 0)
        d_count = (after is not None) - (before is not None)
        change = [d_size, d_count, *(a - b for a, b in zip(kept_after, kept_before, strict=True))]
        size_delta, count_delta = size_delta + d_size, count_delta + d_count
        peak = max(peak, size_delta)  # the largest the bucket was inside the chunk
        for name in ["", *lay.prefixes(c.key, min(depth[c.key], h.prefix_depth))]:
            total = deltas.setdefault(name, [0] * len(change))
            total[:] = [t + d for t, d in zip(total, change, strict=True)]
    if need or doubts:
        return _Plan(counts, [], need=need, doubts=doubts)
    writes = []
    for key, versions in maps.items():
        if versions is original[key]:
            continue
        old = stored.get(("K", key))
        rev = lay.key_state_from(old).rev if old else 0
        item = lay.key_item(bucket, key, versions, rev + 1, depth[key])
        writes.append((("K", key), _put(h, item, lay.rev_condition(old, rev, old))))
    passing = {
        key: size
        for key, size in largest.items()
        if maps[key] is not original[key] and size > (v.visible_size(maps[key]) or 0)
    }
    plan = _Plan(counts, writes, passing=passing)
    moved_classes = any(any(d) for d in class_deltas.values())
    if peak == 0 and not any(any(d) for d in deltas.values()) and not moved_classes:
        return plan
    old = lay.totals_from(stored.get(("T", "")))
    ts = h.next_timestamp(old.updated_at)
    plan.totals = lay.Totals(
        old.total_size + size_delta,
        old.object_count + count_delta,
        max(old.max_size, old.total_size + peak, old.total_size + size_delta),
        ts,
        old.version + 1,
    )
    event = ordered[0].event if len(ordered) == 1 else "batch"
    key = ordered[0].key if len({c.key for c in ordered}) == 1 else None
    bucket_kept = deltas.pop("")[2:]
    totals_put = _aggregate_put(
        h, bucket, None, stored.get(("T", "")), plan.totals, bucket_kept, class_deltas
    )
    writes.append((("T", ""), totals_put))
    # A point records a change of size: one that moved only the breakdown (a noncurrent version
    # deleted, say) writes the totals but draws no point.
    if points and (size_delta or count_delta or peak):
        point = point_put(h, lay.bucket_pk(bucket), old, plan.totals, event, key)
        writes.append((("H", ""), point))
    for prefix, (d_size, d_count, *kept) in sorted(deltas.items()):
        if d_size == 0 and d_count == 0 and not any(kept):
            continue
        item = stored.get(("P", prefix))
        was = lay.totals_from(item)
        now = lay.Totals(
            was.total_size + d_size, was.object_count + d_count, 0, ts, was.version + 1
        )
        plan.prefixes[prefix] = lay.PrefixTotals(prefix, now.total_size, now.object_count)
        writes.append((("P", prefix), _aggregate_put(h, bucket, prefix, item, now, kept)))
        if points and (d_size or d_count):
            pk = lay.prefix_points_pk(bucket, prefix)
            writes.append((("HP", prefix), point_put(h, pk, was, now, event, key)))
    return plan


def _apply(maps: dict, c: Change, classes_on: bool, looked_up: dict, need: set, doubts: set) -> str:
    """Apply one change to its key's map (in ``maps``); its outcome."""
    versions = maps[c.key]
    time_ms = round(c.time * 1000) or None
    if c.kind == v.TRANSIT:
        if not classes_on:
            return "ignored"
        cls = c.cls
        if cls is None:  # a notification record names no class: the version says it now
            entry = versions.get(c.version_id)
            if entry is not None and entry.kind not in (v.OBJECT, v.TRANSIT):
                return v.STALE  # deleted already: its class no longer counts anywhere
            if (c.key, c.version_id) not in looked_up:
                need.add((c.key, c.version_id, c.named))
                return v.STALE
            cls = looked_up[c.key, c.version_id]
            if cls is None:  # gone when looked up: its delete is on its way
                return v.STALE
        outcome, maps[c.key] = v.transition(versions, c.version_id, cls, time_ms)
        return outcome
    cls = None
    present = looked_up.get(late_creates.asked(c.key, c.version_id))
    if c.kind == v.OBJECT and classes_on:
        outcome, _ = v.apply(versions, c.version_id, c.kind, c.seq, c.size, time_ms, None, present)
        if outcome == v.APPLIED:
            if (c.key, c.version_id) not in looked_up:
                need.add((c.key, c.version_id, c.named))
            # None when gone at lookup: counted as STANDARD until its delete, which nets it out
            cls = looked_up.get((c.key, c.version_id))
    outcome, maps[c.key] = v.apply(
        versions, c.version_id, c.kind, c.seq, c.size, time_ms, cls, present
    )
    if outcome == v.UNSURE:  # nothing is written until S3 has answered
        doubts.add((c.key, c.version_id))
        return v.STALE
    return outcome


def _move_classes(into: dict, figures: dict, sign: int) -> None:
    for storage_class, values in figures.items():
        mine = into.setdefault(storage_class, [0] * len(v.CLASS_FIGURES))
        mine[:] = [m + sign * x for m, x in zip(mine, values, strict=True)]


def _aggregate_put(
    h, bucket, prefix: str | None, old_item, totals: lay.Totals, kept_delta=None, class_delta=None
) -> dict:
    """The bucket's totals (prefix None) or a prefix's, conditional on the version read; the
    breakdown (and the bucket's storage classes) carried over from the item read, moved by
    ``kept_delta`` (and ``class_delta``)."""
    if prefix is None:
        item = {
            **lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK),
            "max_size": lay.n(totals.max_size),
        }
        classes = lay.classes_from(old_item)
        _move_classes(classes, class_delta or {}, 1)
        item |= lay.class_attributes(classes)
        if lay.tracks_classes(old_item):
            item[lay.CLASSES_FLAG] = {"BOOL": True}
    else:
        item = {
            **lay.prefix_address(bucket, prefix),
            "prefix": {"S": prefix},
            "depth": lay.n(prefix.count("/")),
        }
    kept = lay.breakdown_from(old_item)
    if kept_delta is not None:
        kept = tuple(k + d for k, d in zip(kept, kept_delta, strict=True))
    item |= {name: lay.n(value) for name, value in zip(lay.BREAKDOWN, kept, strict=True)}
    item |= {
        "total_size": lay.n(totals.total_size),
        "object_count": lay.n(totals.object_count),
        "version": lay.n(totals.version),
        "updated_at": {"S": totals.updated_at},
    }
    if lay.SET_BY_RUN in (old_item or {}):  # kept by every write, not only the baseline's
        item[lay.SET_BY_RUN] = old_item[lay.SET_BY_RUN]
    if old_item is None:
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": lay.n(totals.version - 1)},
        }
    return _put(h, item, condition)


def _put(h, item: dict, condition: dict | None = None) -> dict:
    return {"Put": {"TableName": h.table_name, "Item": item, **(condition or {})}}


def _failed(err: ClientError, writes: list) -> set | None:
    reasons = err.response.get("CancellationReasons")
    if not reasons or len(reasons) != len(writes):
        return None
    failed = set()
    for (name, _), reason in zip(writes, reasons, strict=True):
        code = reason.get("Code", "None")
        if code in _RETRYABLE:
            failed.add(name)
        elif code not in ("None", None, ""):
            raise err
    return failed


def read_items(h, addresses: dict) -> dict:
    """{name: item} for the named addresses that exist, by BatchGetItem (strongly consistent)."""
    by_id = {lay.address_id(a): name for name, a in addresses.items()}
    found: dict = {}
    pending = list(addresses.values())
    attempt = 0
    while pending:
        request = {h.table_name: {"Keys": pending[:READ_ITEMS], "ConsistentRead": True}}
        pending = pending[READ_ITEMS:]
        got = h.client.batch_get_item(RequestItems=request)
        for item in got.get("Responses", {}).get(h.table_name, []):
            found[by_id[lay.address_id(item)]] = item
        left = got.get("UnprocessedKeys", {}).get(h.table_name, {}).get("Keys", [])
        if left:
            if attempt == MAX_ATTEMPTS - 1:
                raise RuntimeError(f"DynamoDB left {len(left)} reads unprocessed")
            h.backoff(attempt)
            attempt += 1
            pending = left + pending
    return found


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def jittered(attempt: int) -> float:
    # Full jitter: concurrent writers that collided spread out instead of colliding again.
    return random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))
