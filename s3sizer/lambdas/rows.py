"""The totals of the fold write path: one row per stream shard, which readers add up.

On the fold path (docs/tracking.md, "The fold path") the tracker writes only key items; the
table's stream carries each key item's change, with its old and new image, to the fold
function, which adds the net change of each bucket and prefix to rows of the stream shard the
change came from:

- ``B#<bucket>`` / ``TOTALS#<shard>``: the bucket's figures folded from that shard;
- inside that row, ``pf``: the figures of the busy prefixes it holds (fold_prefixes.py), so that
  a step writes one row whatever prefixes it moves;
- ``B#<bucket>#P`` / ``<prefix address>#S#<shard>``: a prefix's that did not fit in the bucket's
  row, beside the prefix's own item.

Each row holds the last sequence number folded into it (``last_seq``): a shard's records come in
order, one batch at a time, so a record at or below it is already counted. A batch the mapping
gave up on is applied by ``redrive`` into rows of its own, named by the shard and the batch's
first sequence number, each written once.

``B#<bucket>`` / ``TOTALS`` stays the base row: what the transaction path (or an earlier
release) counted, plus ``max_size`` and the storage-classes flag. A reader adds the base and
every row: a bucket that never used the fold path has only the base, and reads as before.
"""

from __future__ import annotations

from . import layout as lay

# A key item written by a fold-path writer (tracker or baseline) carries ``f`` = 1: its change is
# the fold's to count. One written by the transaction path has counted itself in the totals.
FOLDED = lay.FOLDED
LAST_SEQ = "last_seq"
ROW_TAG = "#S#"
TOTALS_ROWS = f"{lay.TOTALS_SK}#"
# The prefixes a shard's row holds: {prefix: [WIDTH figures..., the time of its last own point
# (ms)]}. ROW_BYTES is one write unit: an UpdateItem is billed on the larger of the item's sizes
# before and after it, so a row past it sheds its idle prefixes (fold_prefixes.place).
PREFIX_FIGURES = "pf"
# How many steps moved prefixes out of the row: a prefix that left and came back between two
# reads still changes it.
PREFIXES_LEFT = "po"
ROW_BYTES = 1024
WIDTH = 2 + len(lay.BREAKDOWN)  # bytes, objects, then the breakdown
# Sequence numbers are decimal strings of up to 40 digits (more than a DynamoDB number holds):
# padded, they compare as strings in the order they compare as numbers.
_SEQ_WIDTH = 48


def padded(sequence_number: str) -> str:
    return sequence_number.zfill(_SEQ_WIDTH)


def redrive_shard(shard_id: str, first_sequence: str) -> str:
    """The row name of a redriven batch: its shard and where it starts."""
    return f"R-{shard_id}-{padded(first_sequence)}"


def totals_row_address(bucket: str, shard: str) -> dict:
    return lay.address(lay.bucket_pk(bucket), f"{TOTALS_ROWS}{shard}")


def prefix_row_address(bucket: str, prefix: str, shard: str) -> dict:
    base = lay.prefix_address(bucket, prefix)["sk"]["S"]
    return lay.address(lay.prefix_pk(bucket), f"{base}{ROW_TAG}{shard}")


def is_prefix_row(item: dict) -> bool:
    return ROW_TAG in item["sk"]["S"]


def row_figures(item: dict | None) -> list[int]:
    """A row's WIDTH figures (zeros for none)."""
    return _figures(item or {})


def _figures(item: dict) -> list[int]:
    return [
        int(item.get("total_size", {"N": "0"})["N"]),
        int(item.get("object_count", {"N": "0"})["N"]),
        *lay.breakdown_from(item),
    ]


def sum_totals(items: list[dict]) -> dict | None:
    """One totals item, as the transaction path writes it, from the base item and the rows.

    ``items`` are a bucket's ``TOTALS`` and ``TOTALS#...`` items, in any order. None when there
    are none. The figures and the classes add up; ``max_size`` is the largest any row holds;
    the classes flag and ``version`` come from the base; ``updated_at`` is the latest of all.
    """
    if not items:
        return None
    base = next((i for i in items if i["sk"]["S"] == lay.TOTALS_SK), None)
    figures = [0] * (2 + len(lay.BREAKDOWN))
    classes: dict[str, list[int]] = {}
    for item in items:
        figures = [a + b for a, b in zip(figures, _figures(item), strict=True)]
        for storage_class, values in lay.classes_from(item).items():
            mine = classes.setdefault(storage_class, [0] * len(values))
            mine[:] = [a + b for a, b in zip(mine, values, strict=True)]
    stamps = [i["updated_at"]["S"] for i in items if "updated_at" in i]
    out = {
        **lay.address(items[0]["pk"]["S"], lay.TOTALS_SK),
        "total_size": lay.n(figures[0]),
        "object_count": lay.n(figures[1]),
        "version": (base or {}).get("version", lay.n(0)),
        **{name: lay.n(value) for name, value in zip(lay.BREAKDOWN, figures[2:], strict=True)},
        **lay.class_attributes(classes),
    }
    peaks = [int(i["max_size"]["N"]) for i in items if "max_size" in i]
    if peaks:  # each row keeps the largest sum its fold saw; the base, the path's before it
        out["max_size"] = lay.n(max(peaks))
    if lay.tracks_classes(base):
        out[lay.CLASSES_FLAG] = {"BOOL": True}
    if stamps:
        out["updated_at"] = {"S": max(stamps)}
    return out


def sum_prefix_items(items) -> list[dict]:
    """The prefixes' items with each prefix's rows added into one item per prefix, in order of
    first appearance (the prefix's own item, when it has one, gives the attributes)."""
    merged: dict[str, dict] = {}
    for item in items:
        prefix = item["prefix"]["S"]
        held = merged.get(prefix)
        if held is None:
            merged[prefix] = dict(item)
            continue
        if is_prefix_row(held) and not is_prefix_row(item):
            held, item = dict(item), held  # the prefix's own item keeps its address
            merged[prefix] = held
        total = [a + b for a, b in zip(_figures(held), _figures(item), strict=True)]
        held["total_size"], held["object_count"] = lay.n(total[0]), lay.n(total[1])
        for name, value in zip(lay.BREAKDOWN, total[2:], strict=True):
            held[name] = lay.n(value)
    return list(merged.values())


def row_prefixes(row: dict | None) -> dict[str, list[int]]:
    """The prefixes a shard's row holds: WIDTH figures each, then its last point's time (ms)."""
    held = (row or {}).get(PREFIX_FIGURES, {}).get("M", {})
    return {prefix: [int(x["N"]) for x in value["L"]] for prefix, value in held.items()}


def prefixes_moved_out(first: list[dict], again: list[dict]) -> bool:
    """Whether a prefix left a row between two reads of a bucket's rows: the row is gone
    (compacted into the base items), no longer holds it, or counts another step that moved
    prefixes out (PREFIXES_LEFT: one may have left and come back between the reads)."""
    later = {i["sk"]["S"]: i for i in again}

    def left(row: dict) -> str:
        return row.get(PREFIXES_LEFT, {"N": "0"})["N"]

    return any(
        i["sk"]["S"] not in later
        or not set(row_prefixes(i)) <= set(row_prefixes(later[i["sk"]["S"]]))
        or left(i) != left(later[i["sk"]["S"]])
        for i in first
        if i["sk"]["S"].startswith(TOTALS_ROWS)
    )


def prefix_figures_attribute(entries: dict[str, list[int]]) -> dict:
    return {"M": {p: {"L": [lay.n(x) for x in values]} for p, values in sorted(entries.items())}}


def row_prefix_items(bucket: str, held: list[dict]) -> list[dict]:
    """The prefixes the bucket's rows (``held``) hold, as prefix rows (``sum_prefix_items``
    adds them to the prefix's own item and its other rows)."""
    out = []
    for row in held:
        for prefix, values in row_prefixes(row).items():
            own = lay.prefix_address(bucket, prefix)["sk"]["S"]
            item = {
                **lay.address(lay.prefix_pk(bucket), f"{own}{ROW_TAG}{row['sk']['S']}"),
                "prefix": {"S": prefix},
                "depth": lay.n(prefix.count("/")),
                "total_size": lay.n(values[0]),
                "object_count": lay.n(values[1]),
            }
            item |= {name: lay.n(x) for name, x in zip(lay.BREAKDOWN, values[2:WIDTH], strict=True)}
            out.append(item)
    return out


def item_size(item: dict) -> int:
    """An item's size as DynamoDB bills it: its attribute names and values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(v.lstrip("-").replace(".", "").strip("0")) or 1
        return -(-digits // 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    return sum(len(x.encode()) if isinstance(x, str) else len(x) for x in v)  # sets


def query_begins(h, pk: str, begins: str):
    """The items of ``pk`` whose sort keys begin with ``begins``, strongly consistent."""
    kwargs = {
        "TableName": h.table_name,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":s": {"S": begins}},
        "ConsistentRead": True,
    }
    while True:
        page = h.client.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
