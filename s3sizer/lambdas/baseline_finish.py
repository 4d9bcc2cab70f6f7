"""The end of a baseline: the totals set or kept, prefixes deeper than the depth to zero, the
largest size ever raised to the totals, and the points that show the step."""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import batch
from . import layout as lay
from .baseline_sums import WIDTH, Sums
from .layout import EVENT_BASELINE, EVENT_RECONCILE
from .listing import Drift
from .points import point_put

ALWAYS, IF_UNTOUCHED, NEVER = "always", "if_untouched", "never"
# A live run on the fold path: its key items are the fold's to count (rows.py), so the totals
# and the prefixes are neither set nor mended here, and no point is drawn.
FOLDED = "folded"
# Prefixes set in one transaction: two items each, within TransactWriteItems' 100.
PREFIXES_TOGETHER = batch.TRANSACTION_ITEMS // 2


def finish(
    h, bucket: str, depth: int, sums: Sums, before: lay.Totals, *, mend: str, run: str = ""
) -> Drift:
    """``mend``: set the totals to what the merged keys hold ALWAYS (a quiet run: nothing else
    wrote), IF_UNTOUCHED (only this run's own transactions moved them: a corruption of the
    totals mends), NEVER (a resumed live run: its sums do not cover the whole bucket), or
    FOLDED. ALWAYS stamps every figure it sets (or finds right) with ``run``, the run's id."""
    stamp = run if mend == ALWAYS else ""
    if mend == FOLDED:
        _stamp(h, bucket)
        # What the keys hold once the fold has counted them (the table's totals may lag).
        size, count, *_ = sums.merged.get("", [0] * WIDTH)
        moved = tuple(sums.moved.get("", [0] * WIDTH)[2:])
        return Drift(size, count, sums.drift_bytes, sums.drift_objects, breakdown=moved)
    event = EVENT_RECONCILE if before.updated_at is not None else EVENT_BASELINE
    address = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    target = sums.merged.get("", [0] * WIDTH)
    # How far the breakdown was off: what the run moved in it, and what setting the totals
    # whole moves besides (a live run has added its moves to them already; a quiet one not).
    moved = tuple(sums.moved.get("", [0] * WIDTH)[2:])
    breakdown = moved
    for attempt in range(batch.MAX_ATTEMPTS):
        item = h._get(address)
        old = lay.totals_from(item)
        untouched = old.version == before.version + sums.totals_writes
        mending = mend == ALWAYS or (mend == IF_UNTOUCHED and untouched)
        class_delta = None
        if mending:
            size, count = target[0], target[1]
            kept_delta = [t - k for t, k in zip(target[2:], lay.breakdown_from(item), strict=True)]
            class_delta = _class_delta(sums.classes_merged, lay.classes_from(item))
            settled = moved if sums.totals_writes else (0,) * len(moved)
            breakdown = tuple(k + m for k, m in zip(kept_delta, settled, strict=True))
            start = before
            sums.drift_bytes = size - before.total_size
            sums.drift_objects = count - before.object_count
        else:
            size, count, kept_delta = old.total_size, old.object_count, None
            start = lay.Totals(
                size - (sums.drift_bytes - sums.drawn_bytes),
                count - (sums.drift_objects - sums.drawn_objects),
                0,
                before.updated_at,
                0,
            )
        moved = (size, count) != (start.total_size, start.object_count) or bool(
            (kept_delta and any(kept_delta)) or class_delta
        )
        if item and before.updated_at is not None and not moved and old.max_size >= size:
            _stamp_run(h, address, stamp)
            break
        new = lay.Totals(
            size, count, max(old.max_size, size), h.next_timestamp(old.updated_at), old.version + 1
        )
        writes = [
            _stamped(
                batch._aggregate_put(h, bucket, None, item, new, kept_delta, class_delta), stamp
            ),
            point_put(h, lay.bucket_pk(bucket), start, new, event, None),
        ]
        try:
            h.client.transact_write_items(TransactItems=writes)
            break
        except ClientError as err:
            if batch._code(err) != "TransactionCanceledException":
                raise
            if attempt == batch.MAX_ATTEMPTS - 1:
                raise
            h.backoff(attempt)
    if mending:
        _mend_prefixes(h, bucket, depth, sums.merged, stamp)
    else:
        _prefix_points(h, bucket, sums.moved)
    _zero_deeper_prefixes(h, bucket, depth)
    totals = h.totals(bucket)
    return Drift(
        totals.total_size, totals.object_count, sums.drift_bytes, sums.drift_objects,
        breakdown=breakdown,
    )  # fmt: skip


def _stamp(h, bucket: str) -> None:
    """The base totals' ``updated_at``, when they have none: the mark that the bucket had its
    baseline (an empty bucket's fold rows may never come), its figures moved by nothing."""
    h.client.update_item(
        TableName=h.table_name,
        Key=lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK),
        UpdateExpression="SET #u = if_not_exists(#u, :now) ADD #s :zero, #o :zero, #v :zero",
        ExpressionAttributeNames={
            "#u": "updated_at", "#s": "total_size", "#o": "object_count", "#v": "version"
        },
        ExpressionAttributeValues={":now": {"S": h.next_timestamp(None)}, ":zero": lay.n(0)},
    )  # fmt: skip


def _stamped(put: dict, run: str) -> dict:
    if run:
        put["Put"]["Item"][lay.SET_BY_RUN] = {"S": run}
    return put


def _stamp_run(h, address: dict, run: str) -> None:
    """``run``'s stamp on figures it found already right (lay.SET_BY_RUN)."""
    if run:
        h.client.update_item(
            TableName=h.table_name,
            Key=address,
            # A new version: a write that read the item before the stamp writes again on top.
            UpdateExpression="SET #r = :r ADD #v :one",
            ExpressionAttributeNames={"#r": lay.SET_BY_RUN, "#v": "version"},
            ExpressionAttributeValues={":r": {"S": run}, ":one": lay.n(1)},
        )


def _class_delta(target: dict, held: dict) -> dict:
    """What moves the held per-class figures to the target's (the classes the keys hold)."""
    out = {}
    for name in set(target) | set(held):
        want, have = target.get(name, [0] * 5), held.get(name, [0] * 5)
        delta = [a - b for a, b in zip(want, have, strict=True)]
        if any(delta):
            out[name] = delta
    return out


def _figures(item: dict | None) -> list[int]:
    totals = lay.totals_from(item)
    return [totals.total_size, totals.object_count, *lay.breakdown_from(item)]


def _prefix_writes(
    h, bucket: str, prefix: str, item: dict | None, target: list[int], stamp: str = ""
) -> list:
    """A prefix's totals set to ``target``, with a point: its two transaction items."""
    old = lay.totals_from(item)
    new = lay.Totals(target[0], target[1], 0, h.next_timestamp(old.updated_at), old.version + 1)
    kept_delta = [t - k for t, k in zip(target[2:], lay.breakdown_from(item), strict=True)]
    pk = lay.prefix_points_pk(bucket, prefix)
    return [
        _stamped(batch._aggregate_put(h, bucket, prefix, item, new, kept_delta), stamp),
        point_put(h, pk, old, new, EVENT_RECONCILE, None),
    ]


def _set_prefix(
    h, bucket: str, prefix: str, item: dict | None, target: list[int], stamp: str = ""
) -> None:
    """A prefix's totals set to ``target``; a concurrent write wins (it was quiet when the
    caller decided, so only a later change can have moved them, on top of this)."""
    _transact_or_yield(h, _prefix_writes(h, bucket, prefix, item, target, stamp))


def _set_prefixes(
    h, bucket: str, sets: list[tuple[str, dict | None, list[int]]], stamp: str = ""
) -> None:
    """Many prefixes set, PREFIXES_TOGETHER to a transaction (a bucket of many folders); a
    transaction a concurrent write cancels is tried again prefix by prefix."""
    for start in range(0, len(sets), PREFIXES_TOGETHER):
        group = sets[start : start + PREFIXES_TOGETHER]
        writes = [w for prefix, item, target in group for w in _prefix_writes(h, bucket, prefix, item, target, stamp)]  # fmt: skip
        if not _transact_or_yield(h, writes) and len(group) > 1:
            for prefix, item, target in group:
                _set_prefix(h, bucket, prefix, item, target, stamp)


def _transact_or_yield(h, writes: list) -> bool:
    try:
        h.client.transact_write_items(TransactItems=writes)
        return True
    except ClientError as err:
        if batch._code(err) != "TransactionCanceledException":
            raise
        return False


def _mend_prefixes(h, bucket: str, depth: int, merged: dict, stamp: str = "") -> None:
    """Each prefix to what its merged keys hold (nothing else wrote during the run)."""
    stored = {item["prefix"]["S"]: item for item in h._query(lay.prefix_pk(bucket))}
    sets = []
    for prefix in sorted(set(stored) | {p for p in merged if p}):
        if prefix.count("/") > depth:
            continue
        target = merged.get(prefix, [0] * WIDTH)
        if prefix in stored and _figures(stored[prefix]) == list(target):
            if stored[prefix].get(lay.SET_BY_RUN, {}).get("S") != stamp:
                _stamp_run(h, lay.prefix_address(bucket, prefix), stamp)
            continue
        if prefix not in stored and not any(target):
            continue
        sets.append((prefix, stored.get(prefix), list(target)))
    _set_prefixes(h, bucket, sets, stamp)


def _prefix_points(h, bucket: str, moved: dict) -> None:
    """One point for each prefix the run moved, so that its history shows the step."""
    for item in h._query(lay.prefix_pk(bucket)):
        prefix = item["prefix"]["S"]
        d = moved.get(prefix)
        if not d or not (d[0] or d[1]):
            continue
        now = lay.totals_from(item)
        was = lay.Totals(now.total_size - d[0], now.object_count - d[1], 0, None, 0)
        now = lay.Totals(now.total_size, now.object_count, 0, h.next_timestamp(None), now.version)
        put = point_put(h, lay.prefix_points_pk(bucket, prefix), was, now, EVENT_RECONCILE, None)
        h.client.put_item(**put["Put"])


def _zero_deeper_prefixes(h, bucket: str, depth: int) -> None:
    for item in h._query(lay.prefix_pk(bucket)):
        if int(item["depth"]["N"]) > depth and any(_figures(item)):
            _set_prefix(h, bucket, item["prefix"]["S"], item, [0] * WIDTH)
