"""Where a fold step puts its prefixes' figures, and how their history is kept.

A step of a bucket of few prefixes writes one row: the prefixes' figures live in the bucket's
row of the shard (``rows.PREFIX_FIGURES``) while it stays within one write unit, and only a
prefix that does not fit gets a row of its own (as every prefix had before). Whatever the place,
a reader adds them all up, so moving a prefix between them changes no sum.

History: each step's bucket point carries, in ``pp``, every prefix of the row it moved, with
its size and objects before and after the step (summed over every shard). A prefix's own
points partition gets a point from a shard at most every ``PREFIX_POINT_SECONDS`` (and at the
shard's first step of it): so the last point of a prefix at or before a time is found from its
last own point and the bucket's points of at most that long after it (history.py).
"""

from __future__ import annotations

from . import layout as lay
from . import rows

PREFIX_POINT_SECONDS = 300
CARRIED = "pp"  # on a fold step's bucket point: {prefix: [size, objects, size before, before]}
# A row's size besides its prefixes, when it has none yet (its keys, the last sequence number,
# the figures, the time), and room for its numbers to grow a digit or two.
NEW_ROW_BYTES = 300
GROWTH_BYTES = 64
IDLE_SECONDS = 3600
# The most prefixes a row can hold: an entry takes at least 20 bytes (a two-byte name and seven
# one-digit numbers), and the row's own attributes about 250.
MOST_IN_ROW = (rows.ROW_BYTES - 250) // 20


def place(
    row: dict | None, moved: dict[str, list[int]], now_ms: int
) -> tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[int]]]:
    """Where the step's prefixes go: the row's prefixes after it (WIDTH figures and the last
    own point's time each); the moved prefixes that do not fit, which keep rows of their own;
    and the prefixes moved out of the row to make room, with the figures their own rows take.

    A prefix idle for ``IDLE_SECONDS`` (no own point) gives its place to a moved one that does
    not fit: after a baseline of a bucket of many prefixes, the first it listed fill the row,
    and the busy ones take their places within the hour."""
    entries = rows.row_prefixes(row)
    if row is None:
        size = NEW_ROW_BYTES
    else:
        size = rows.item_size({k: v for k, v in row.items() if k != rows.PREFIX_FIGURES})
    size += len(rows.PREFIX_FIGURES) + 3 + sum(_entry_bytes(p, e) for p, e in entries.items())
    room = rows.ROW_BYTES - GROWTH_BYTES
    own: dict[str, list[int]] = {}
    evicted: dict[str, list[int]] = {}
    for prefix, figures in sorted(moved.items()):
        held = entries.get(prefix)
        if held is not None:
            held[: rows.WIDTH] = [a + b for a, b in zip(held[: rows.WIDTH], figures, strict=True)]
            continue
        fresh = [*figures, 0]
        idle = sorted(
            (e[rows.WIDTH], p)
            for p, e in entries.items()
            if p not in moved and now_ms - e[rows.WIDTH] >= IDLE_SECONDS * 1000
        )
        while size + _entry_bytes(prefix, fresh) > room and idle:
            _, out = idle.pop(0)
            size -= _entry_bytes(out, entries[out])
            evicted[out] = entries.pop(out)[: rows.WIDTH]
        if size + _entry_bytes(prefix, fresh) > room:
            own[prefix] = figures
            continue
        entries[prefix] = fresh
        size += _entry_bytes(prefix, fresh)
    # A prefix the step emptied leaves the row: its place is free for another.
    kept = {p: e for p, e in entries.items() if any(e[: rows.WIDTH])}
    return kept, own, evicted


def _entry_bytes(prefix: str, values: list[int]) -> int:
    return len(prefix.encode()) + 1 + rows._value_size({"L": [lay.n(x) for x in values]})


def point_due(entry: list[int] | None, now_ms: int) -> bool:
    """Whether a prefix of the row gets a point of its own at this step."""
    return entry is None or now_ms - entry[rows.WIDTH] >= PREFIX_POINT_SECONDS * 1000


def carried_attribute(moved: dict[str, tuple[int, int, int, int]]) -> dict:
    return {"M": {p: {"L": [lay.n(x) for x in f]} for p, f in sorted(moved.items())}}


def carried(point: dict, prefix: str) -> dict | None:
    """The prefix's point inside a fold step's bucket point (None: the step did not move it)."""
    found = point.get(CARRIED, {}).get("M", {}).get(prefix)
    if found is None:
        return None
    size, count, was_size, was_count = (x["N"] for x in found["L"])
    return {
        "sk": point["sk"],
        "ts": point["ts"],
        "total_size": {"N": size},
        "object_count": {"N": count},
        "prev_total_size": {"N": was_size},
        "prev_object_count": {"N": was_count},
        "event": point.get("event", {"S": "fold"}),
    }
