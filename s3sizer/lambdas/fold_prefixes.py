"""Where a fold step puts its prefixes' figures, and how their history is kept.

A step writes one row, whatever prefixes it moves: the busy prefixes' figures live in the
bucket's row of the shard (``rows.PREFIX_FIGURES``), up to ``MOST_ROW_BYTES``, and only a prefix
that does not fit gets a row of its own (as every prefix had before). Whatever the place, a
reader adds them all up, so moving a prefix between them changes no sum.

History: each step's bucket point carries, in ``pp``, every prefix of the row it moved, with
its size and objects before and after the step (summed over every shard). A prefix's own
points partition gets a point from a shard at most every ``PREFIX_POINT_SECONDS`` (and at the
shard's first step of it): so the last point of a prefix at or before a time is found from its
last own point and the bucket's points of at most that long after it (prefix_history.py).
"""

from __future__ import annotations

from . import layout as lay
from . import rows

PREFIX_POINT_SECONDS = 300
CARRIED = "pp"  # on a fold step's bucket point: {prefix: [size, objects, size before, before]}
# Room for a row's numbers to grow a digit or two after the step that sized it.
GROWTH_BYTES = 64
IDLE_SECONDS = 3600
# A row grows past one write unit (rows.ROW_BYTES) up to this, for as many prefixes as are
# busy, and an UpdateItem is billed on the larger of its sizes before and after it: so past
# one unit, the prefixes idle for an hour leave, and the row shrinks back as they go idle.
MOST_ROW_BYTES = 4096
# At most this many prefixes leave a row in one step (each is one more transaction item).
LEAVE_PER_STEP = 16


def place(
    row: dict | None, moved: dict[str, list[int]], now_ms: int, base_bytes: int
) -> tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[int]]]:
    """Where the step's prefixes go: the row's prefixes after it (WIDTH figures and the last
    own point's time each); the moved prefixes that do not fit, which keep rows of their own;
    and the prefixes moved out of the row, with the figures their own rows take.

    The row takes every moved prefix up to MOST_ROW_BYTES; a prefix idle for ``IDLE_SECONDS``
    (no own point) leaves to make room, and leaves anyway while the row is past one write unit.
    So after a baseline of a bucket of many prefixes, the first it listed fill the row, and the
    busy ones take their places within the hour. ``base_bytes``: the row's size after the step
    without its prefixes.

    A prefix stays in the row when the step empties it: an own point of it may exist, and
    untrack finds the points partitions to sweep from the prefixes the rows and the prefix
    partition name (a prefix that left has its own row, which names it, as compaction's own
    item does)."""
    entries = rows.row_prefixes(row)
    size = base_bytes + len(rows.PREFIX_FIGURES) + 3
    size += sum(_entry_bytes(p, e) for p, e in entries.items())
    idle = sorted(
        (e[rows.WIDTH], p)
        for p, e in entries.items()
        if p not in moved and now_ms - e[rows.WIDTH] >= IDLE_SECONDS * 1000
    )[:LEAVE_PER_STEP]
    own: dict[str, list[int]] = {}
    left: dict[str, list[int]] = {}

    def leave() -> int:
        _, out = idle.pop(0)
        gone = entries.pop(out)
        left[out] = gone[: rows.WIDTH]
        return _entry_bytes(out, gone)

    for prefix, figures in sorted(moved.items()):
        held = entries.get(prefix)
        if held is not None:  # sized as the step leaves it: new figures, maybe a new point time
            size -= _entry_bytes(prefix, held)
            held[: rows.WIDTH] = [a + b for a, b in zip(held[: rows.WIDTH], figures, strict=True)]
            size += _stamped_bytes(prefix, held, now_ms)
            continue
        fresh = [*figures, 0]
        need = _stamped_bytes(prefix, fresh, now_ms)  # apply_step stamps its first point's time
        while size + need > MOST_ROW_BYTES - GROWTH_BYTES and idle:
            size -= leave()
        if size + need > MOST_ROW_BYTES - GROWTH_BYTES:
            own[prefix] = figures
            continue
        entries[prefix] = fresh
        size += need
    while size > rows.ROW_BYTES - GROWTH_BYTES and idle:
        size -= leave()
    return entries, own, left


def _stamped_bytes(prefix: str, values: list[int], now_ms: int) -> int:
    return max(_entry_bytes(prefix, values), _entry_bytes(prefix, [*values[: rows.WIDTH], now_ms]))


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


# A bucket of few prefixes: one Query of its prefixes' partition (one read unit per 4 KB) costs
# less than one Query per prefix the step moved.
PARTITION_ITEMS = 32
# Times the reads are taken again while a prefix left a row between them (figures_before).
READS = 4


def figures_before(h, bucket: str, held: list[dict], wanted: list[str]) -> dict:
    """Each of ``wanted``'s figures before the step (summed over every shard): its own item,
    its own rows, and what the bucket's rows hold of it.

    The rows and the prefix partition are two reads. A compaction between them (a sibling
    shard's fold, fold_compact.py) moves a finished row's prefixes into their own items and
    deletes the row, and a sibling's step may move prefixes out of its row into their own rows
    (``place``): either would be counted twice. So the rows are read again after the
    partition, and the reads taken again while a prefix has left a row of the first read."""
    if not wanted:
        return {}
    rows_read = [i for i in held if i["sk"]["S"].startswith(rows.TOTALS_ROWS)]
    for _ in range(READS):
        items = _partition(h, bucket, wanted)
        again = list(rows.query_begins(h, lay.bucket_pk(bucket), rows.TOTALS_ROWS))
        if not rows.prefixes_moved_out(rows_read, again):
            break
        rows_read = again
    else:  # the last two reads may miss what left a row between them: the batch is retried
        raise RuntimeError(
            f"prefixes of bucket {bucket!r} kept leaving the fold's rows across {READS} reads;"
            " run it again"
        )
    items += rows.row_prefix_items(bucket, rows_read)
    out = {}
    for prefix in wanted:
        merged = rows.sum_prefix_items([i for i in items if i["prefix"]["S"] == prefix])
        totals = {**merged[0], "version": lay.n(0)} if merged else None
        out[prefix] = lay.totals_from(totals) if totals else lay.EMPTY_TOTALS
    return out


def _partition(h, bucket: str, wanted: list[str]) -> list[dict]:
    """The prefix partition's items of ``wanted``: the whole partition in one Query when it
    holds at most PARTITION_ITEMS items, else one Query per prefix."""
    page = h.client.query(
        TableName=h.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": lay.prefix_pk(bucket)}},
        ConsistentRead=True,
        Limit=PARTITION_ITEMS,
    )
    if "LastEvaluatedKey" not in page:
        return [i for i in page.get("Items", []) if "prefix" in i]
    # A prefix's items begin with its name, and so do its children's: a step that moves `p/`
    # and `p/s/` reads the latter's items twice, and each counts once.
    found: dict[str, dict] = {}
    for prefix in wanted:
        start = lay.prefix_address(bucket, prefix)["sk"]["S"]
        for item in rows.query_begins(h, lay.prefix_pk(bucket), start):
            if "prefix" in item:
                found[item["sk"]["S"]] = item
    return list(found.values())
