"""Folding key items' changes into their shard's totals rows (rows.py), exactly once each.

A key item's *contribution* is what it adds to its bucket's figures (its visible size and
object, its breakdown, its storage classes) and to each prefix it is counted in (up to its
``pd``). It depends on the item alone, so the rows summed over every shard equal the sum of the
contributions of the key items the fold path wrote, whatever order the writers wrote them in:
each stream record moves the rows by contribution(new image) minus contribution(old image), and the
stream carries each change of an item once, in the order of that item's changes.

Records are applied in their shard's order, one *step* at a time: a run of consecutive records of
one bucket whose rows and points fit one transaction. The transaction moves the bucket's row of
this shard (with the prefixes it holds, fold_prefixes.py) under a condition on the row's
``last_seq`` as read, so a step lands whole or not at all, and a record at or below ``last_seq``
is already counted: a retried batch (or a bisected half, or a batch Lambda read again from its
checkpoint) skips what it applied. A step that creates the row checks the settings item too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import fold_prefixes as fp
from . import fold_receipts as fr
from . import layout as lay
from . import rows, tracked
from . import versions as v
from .points import point_put

TRANSACTION_ITEMS = 100
WIDTH = rows.WIDTH  # bytes, objects, then the breakdown
_KEY_PK = re.compile(r"^B#(?P<bucket>.+)#K\d\d$")


@dataclass
class Record:
    """One stream record of a key item the fold counts, and what it moves."""

    bucket: str
    seq: str  # padded (rows.padded)
    figures: list[int]  # the bucket's: WIDTH figures
    classes: dict[str, list[int]]
    prefixes: dict[str, list[int]]  # per prefix: WIDTH figures
    # How far the bucket's size rose inside the write, when the key passed through a larger
    # size than it ends with (lay.PASSING_SIZE); else the size's change, figures[0].
    rise: int | None = None


@dataclass(frozen=True)
class Tracking:
    """What the fold needs of a tracked bucket's settings item."""

    unmarked_depth: int
    generation: str


def parse(record: dict, tracking: dict[str, Tracking]) -> Record | None:
    """The record's change, or None when it is not the fold's to count: not a key item, or
    written by the transaction path (which counted it itself)."""
    data = record.get("dynamodb", {})
    bucket = bucket_of(record)
    if bucket is None:
        return None
    new, old = data.get("NewImage"), data.get("OldImage")
    written = new if record.get("eventName") != "REMOVE" else old
    if not written or written.get(rows.FOLDED, {}).get("N") != "1":
        return None
    mine = tracking.get(bucket, Tracking(0, ""))
    seq = rows.padded(data["SequenceNumber"])
    if bucket in tracking and tracked.item_generation(written) != mine.generation:
        # Written for an earlier tracking of the bucket (a record folded late, or redriven):
        # worth nothing, whatever the image it replaced held.
        return Record(bucket, seq, [0] * WIDTH, {}, {})
    after, before = _contribution(new, mine), _contribution(old, mine)
    figures = [a - b for a, b in zip(after[0], before[0], strict=True)]
    classes: dict[str, list[int]] = {}
    _move(classes, after[1], 1)
    _move(classes, before[1], -1)
    prefixes: dict[str, list[int]] = {}
    for prefix in after[2]:
        _add(prefixes, prefix, after[0], 1)
    for prefix in before[2]:
        _add(prefixes, prefix, before[0], -1)
    prefixes = {p: f for p, f in prefixes.items() if any(f)}
    classes = {c: f for c, f in classes.items() if any(f)}
    rise = None
    if new and lay.PASSING_SIZE in new and "versions" in new:
        rise = max(figures[0], int(new[lay.PASSING_SIZE]["N"]) - before[0][0])
    return Record(bucket, seq, figures, classes, prefixes, rise)


def _contribution(image: dict | None, tracking: Tracking):
    if not image or "versions" not in image:
        return [0] * WIDTH, {}, []
    # A marked image of another generation was left by a writer that raced an earlier untrack:
    # worth nothing. An unmarked one (the transaction path's, before the stack moved to the
    # fold) counted itself in the base totals, which only this tracking's writers move: a
    # fold-path write over it moves the rows by the change, so its worth is what it holds.
    marked = image.get(rows.FOLDED, {}).get("N") == "1"
    if marked and tracked.item_generation(image) != tracking.generation:
        return [0] * WIDTH, {}, []
    state = lay.key_state_from(image)
    size = v.visible_size(state.versions)
    figures = [size or 0, int(size is not None), *v.breakdown(state.versions)]
    depth = state.counted_depth
    if depth is None:
        depth = tracking.unmarked_depth
    return figures, v.class_figures(state.versions), lay.prefixes(state.key, depth)


def _add(into: dict, name: str, figures, sign: int) -> None:
    mine = into.setdefault(name, [0] * WIDTH)
    mine[:] = [m + sign * f for m, f in zip(mine, figures, strict=True)]


def _move(into: dict, classes: dict, sign: int) -> None:
    for storage_class, figures in classes.items():
        mine = into.setdefault(storage_class, [0] * len(v.CLASS_FIGURES))
        mine[:] = [m + sign * f for m, f in zip(mine, figures, strict=True)]


@dataclass
class Step:
    """Consecutive records of one bucket, applied in one transaction."""

    bucket: str
    records: list[Record] = field(default_factory=list)
    prefixes: set = field(default_factory=set)

    @property
    def first(self) -> str:
        return self.records[0].seq

    @property
    def last(self) -> str:
        return self.records[-1].seq

    def items_with(self, record: Record) -> int:
        # the row, the point, the settings check, per prefix its row and its point, and the
        # prefixes that may leave the row (fold_prefixes.place)
        return 3 + 2 * len(self.prefixes | set(record.prefixes)) + fp.LEAVE_PER_STEP


def steps(records: list[Record]) -> list[Step]:
    out: list[Step] = []
    for record in records:
        step = out[-1] if out else None
        if (
            step is None
            or step.bucket != record.bucket
            or step.items_with(record) > TRANSACTION_ITEMS
        ):
            step = Step(record.bucket)
            out.append(step)
        step.records.append(record)
        step.prefixes |= set(record.prefixes)
    return out


@dataclass
class Applied:
    """What a step did: its records' outcome, and the bucket's totals after it when it moved
    them (for the metric line)."""

    folded: int = 0
    already: int = 0
    ignored: int = 0
    totals: lay.Totals | None = None
    held: list = field(default_factory=list)  # the bucket's totals rows, as read before it


def apply_step(h, shard: str, step: Step) -> Applied:
    """Fold one step into the bucket's row of ``shard``; a retry skips what is counted."""
    bucket = step.bucket
    held = list(rows.query_begins(h, lay.bucket_pk(bucket), lay.TOTALS_SK))
    mine = next((i for i in held if i["sk"]["S"] == f"{rows.TOTALS_ROWS}{shard}"), None)
    last = mine.get(rows.LAST_SEQ, {}).get("S") if mine else None
    fresh = [r for r in step.records if last is None or r.seq > last]
    if not fresh:
        return Applied(already=len(step.records), held=held)
    figures, peak, running = [0] * WIDTH, 0, 0
    classes: dict[str, list[int]] = {}
    prefixes: dict[str, list[int]] = {}
    for record in fresh:
        figures = [a + b for a, b in zip(figures, record.figures, strict=True)]
        if record.rise is not None:  # a size the key passed through inside its write
            peak = max(peak, running + record.rise)
        running += record.figures[0]
        peak = max(peak, running)
        _move(classes, record.classes, 1)
        for prefix, moved in record.prefixes.items():
            _add(prefixes, prefix, moved, 1)
    before = lay.totals_from(rows.sum_totals(held))
    ts = h.next_timestamp(mine["updated_at"]["S"] if mine and "updated_at" in mine else None)
    now = lay.Totals(
        before.total_size + figures[0],
        before.object_count + figures[1],
        max(before.max_size, before.total_size + peak, before.total_size + figures[0]),
        ts,
        before.version,
    )
    seq = fresh[-1].seq
    moved = {p: f for p, f in prefixes.items() if any(f)}
    now_ms = int(lay.parse_iso(ts).timestamp() * 1000)
    address = rows.totals_row_address(bucket, shard)
    after = _row_after(address, mine, figures, classes, seq, ts, now.max_size)
    entries, own, left = fp.place(mine, moved, now_ms, rows.item_size(after))
    pointed = [p for p, f in moved.items() if f[0] or f[1]]
    was = fp.figures_before(h, bucket, held, pointed)
    # A row that exists holds this step only while untrack has not deleted it, which it does
    # before it sweeps the bucket's partitions; a new row needs the settings item's check.
    writes = [tracked.settings_check(h.table_name, bucket)] if last is None else []
    had = rows.row_prefixes(mine)
    carried, prefix_writes = {}, []
    for prefix in sorted(set(pointed) - set(own)):  # in the row: carried by the bucket's point
        then = _moved(was[prefix], moved[prefix], ts)
        before_it = was[prefix]
        carried[prefix] = (then.total_size, then.object_count,
                           before_it.total_size, before_it.object_count)  # fmt: skip
        if fp.point_due(had.get(prefix), now_ms):
            entries[prefix][rows.WIDTH] = now_ms
            pk = lay.prefix_points_pk(bucket, prefix)
            prefix_writes.append(_point(h, pk, was[prefix], then, shard, seq))
    for prefix, figures_of in sorted(left.items()):  # out of the row, same figures: no point
        address_of = rows.prefix_row_address(bucket, prefix, shard)
        prefix_writes.append(_row_update(h, address_of, figures_of, seq, ts, None, prefix=prefix))
    for prefix, figures_of in sorted(own.items()):  # prefixes the row has no room for
        address_of = rows.prefix_row_address(bucket, prefix, shard)
        prefix_writes.append(_row_update(h, address_of, figures_of, seq, ts, None, prefix=prefix))
        if prefix in was:
            then = _moved(was[prefix], figures_of, ts)
            pk = lay.prefix_points_pk(bucket, prefix)
            prefix_writes.append(_point(h, pk, was[prefix], then, shard, seq))
    writes.append(_row_update(h, address, figures, seq, ts, last, classes=classes,
                              max_size=now.max_size,
                              prefix_map=entries if (entries or had) else None,
                              prefixes_left=bool(left)))  # fmt: skip
    # Even a step that moved nothing writes its point: the point is the step's receipt, which
    # redrive reads so as not to count it again (fold_receipts.py).
    point = _point(h, lay.bucket_pk(bucket), before, now, shard, seq)
    point["Put"]["Item"] |= fr.receipt_attributes(fresh[0].seq)
    if carried:
        point["Put"]["Item"][fp.CARRIED] = fp.carried_attribute(carried)
    writes += [point, *prefix_writes]
    try:
        h.client.transact_write_items(TransactItems=writes)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        if h._get(lay.settings_address(bucket)) is None:  # untracked meanwhile
            return Applied(ignored=len(step.records))
        raise  # the row moved meanwhile (a concurrent retry): this batch is retried
    done = len(fresh), len(step.records) - len(fresh)
    return Applied(folded=done[0], already=done[1], totals=now, held=held)


def _row_update(
    h, address: dict, figures, seq: str, ts: str, last: str | None, *,
    classes: dict | None = None, max_size: int | None = None, prefix: str | None = None,
    prefix_map: dict | None = None, prefixes_left: bool = False,
) -> dict:  # fmt: skip
    names = {"#q": rows.LAST_SEQ, "#u": "updated_at"}
    values = {":q": {"S": seq}, ":u": {"S": ts}}
    adds, sets = [], ["#q = :q", "#u = :u"]
    attributes = ["total_size", "object_count", *lay.BREAKDOWN]
    flat = dict(zip(attributes, figures, strict=True))
    flat |= {name: int(value["N"]) for name, value in lay.class_attributes(classes or {}).items()}
    for i, (name, amount) in enumerate(flat.items()):
        names[f"#a{i}"], values[f":a{i}"] = name, lay.n(amount)
        adds.append(f"#a{i} :a{i}")
    if prefixes_left:
        names["#o"], values[":o"] = rows.PREFIXES_LEFT, lay.n(1)
        adds.append("#o :o")
    if max_size is not None:
        names["#m"], values[":m"] = "max_size", lay.n(max_size)
        sets.append("#m = :m")
    if prefix_map is not None:
        names["#f"], values[":f"] = rows.PREFIX_FIGURES, rows.prefix_figures_attribute(prefix_map)
        sets.append("#f = :f")
    if prefix is not None:
        names |= {"#p": "prefix", "#d": "depth"}
        values |= {":p": {"S": prefix}, ":d": lay.n(prefix.count("/"))}
        sets += ["#p = :p", "#d = :d"]
    update = {
        "TableName": h.table_name,
        "Key": address,
        "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if prefix is None:  # the bucket's row: the step's guard
        if last is None:
            update["ConditionExpression"] = "attribute_not_exists(#q)"
        else:
            update["ConditionExpression"] = "#q = :was"
            values[":was"] = {"S": last}
    return {"Update": update}


def _point(h, pk: str, old: lay.Totals, new: lay.Totals, shard: str, seq: str) -> dict:
    # The shard and the sequence number make it unique: two shards may fold in the same ms.
    return point_put(h, pk, old, new, "fold", None, tiebreak=f"F{seq}#{shard}")


def _moved(was: lay.Totals, figures, ts: str) -> lay.Totals:
    return lay.Totals(was.total_size + figures[0], was.object_count + figures[1], 0, ts, 0)


def _row_after(address, row, figures, classes, seq: str, ts: str, max_size: int) -> dict:
    """The shard's row as the step leaves it, without its prefixes: what sizes its room."""
    held = rows.row_figures(row)
    item = {**address, rows.LAST_SEQ: {"S": seq}, "updated_at": {"S": ts}}
    names = ["total_size", "object_count", *lay.BREAKDOWN]
    item |= {n: lay.n(a + b) for n, a, b in zip(names, held, figures, strict=True)}
    mixed = lay.classes_from(row)
    _move(mixed, classes, 1)
    return item | lay.class_attributes(mixed) | {"max_size": lay.n(max_size)}


def bucket_of(record: dict) -> str | None:
    """The bucket of a key item's stream record (None for any other item)."""
    pk = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
    match = _KEY_PK.match(pk)
    return match["bucket"] if match else None


def baselines_running(h, buckets: set[str]) -> set[str]:
    """The buckets whose baseline is merging a listing: their totals are not whole yet."""
    out = set()
    for bucket in buckets:
        item = h._get(lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)) or {}
        if item.get("state", {}).get("S") == lay.BASELINE_RUNNING:
            out.add(bucket)
    return out


def tracking(h, buckets: set[str]) -> dict[str, Tracking]:
    """The tracked buckets among ``buckets``, with what their settings items say."""
    out = {}
    for bucket in buckets:
        settings = h._get(lay.settings_address(bucket))
        if settings is not None:
            depth = tracked.unmarked_depth(settings, int(settings["prefix_depth"]["N"]))
            out[bucket] = Tracking(depth, tracked.generation(settings))
    return out
