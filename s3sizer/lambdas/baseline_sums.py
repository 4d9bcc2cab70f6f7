"""What a baseline's range found and changed (Sums), and how a live range's moves reach the
totals and prefix totals (settle): baseline.py's docstring says why they wait."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import batch
from . import layout as lay
from . import versions as v

SETTLE_ITEMS = batch.TRANSACTION_ITEMS - 1  # aggregates per settle, beside the progress item

WIDTH = 2 + len(lay.BREAKDOWN)  # an aggregate's figures: bytes, objects, then the breakdown


@dataclass
class Sums:
    """What a range found and what it changed, as the listing and the recorded items disagree."""

    listed_bytes: int = 0
    listed_objects: int = 0
    drift_bytes: int = 0
    drift_objects: int = 0
    # The part of the drift a killed quiet run's end already set in the totals and drew in the
    # history (baseline_ranges.without_counted): reported, but not drawn again.
    drawn_bytes: int = 0
    drawn_objects: int = 0
    keys: int = 0
    # How often this run moved the totals: when nothing else moved them meanwhile, they are
    # set to what the merged keys hold (a corrupted total mends).
    totals_writes: int = 0
    # What a live run moved and has not yet added to the totals and prefixes (settle), per
    # aggregate, and per storage class of the bucket's totals.
    pending: dict = field(default_factory=dict)
    pending_classes: dict = field(default_factory=dict)
    # What the merged keys hold, per aggregate ("" the bucket, else a prefix): WIDTH figures.
    merged: dict = field(default_factory=dict)
    moved: dict = field(default_factory=dict)  # what the run moved, per aggregate
    # The bucket's storage classes (versions.CLASS_FIGURES per class other than STANDARD),
    # when tracked: what the merged keys hold, and what the run moved.
    classes_merged: dict = field(default_factory=dict)
    classes_moved: dict = field(default_factory=dict)

    def add(self, other: Sums) -> None:
        for name, value in vars(other).items():
            if isinstance(value, dict):
                for aggregate, figures in value.items():
                    accumulate(getattr(self, name), aggregate, figures)
            else:
                setattr(self, name, getattr(self, name) + value)

    @classmethod
    def of(cls, *parts: Sums) -> Sums:
        """The parts added up, into new Sums."""
        whole = cls()
        for part in parts:
            whole.add(part)
        return whole

    def to_json(self) -> str:
        return json.dumps(vars(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Sums:
        return cls(**json.loads(text))


def accumulate(into: dict, aggregate: str, figures) -> None:
    mine = into.setdefault(aggregate, [0] * len(figures))
    mine[:] = [a + b for a, b in zip(mine, figures, strict=True)]


def settle(h, bucket: str, sums: Sums, progress: Callable[[Sums], dict | None]) -> None:
    """Add a live range's pending moves to the totals and prefix totals. Each transaction also
    puts the range's progress item without the moves it adds, so a crash adds each move once."""
    while sums.pending:
        after = Sums()
        after.add(sums)
        writes = []
        for name in sorted(after.pending)[:SETTLE_ITEMS]:
            classes = None
            if name == "":
                classes, after.pending_classes = after.pending_classes, {}
                after.totals_writes += 1
            writes.append(add_item(h, bucket, name, after.pending.pop(name), classes))
        progress_item = progress(after)
        if progress_item is not None:
            writes.append(batch._put(h, progress_item))
        for attempt in range(batch.MAX_ATTEMPTS):
            try:
                h.client.transact_write_items(TransactItems=writes)
                break
            except ClientError as err:
                # Nothing here is conditional: only a concurrent transaction cancels it.
                if batch._code(err) != "TransactionCanceledException":
                    raise
                if attempt == batch.MAX_ATTEMPTS - 1:
                    raise
                h.backoff(attempt)
        vars(sums).update(vars(after))


def add_item(h, bucket: str, name: str, d: list[int], classes: dict | None = None) -> dict:
    """Move the bucket's totals (name "") or a prefix's by a delta (and the bucket's classes:
    flat attributes, which ADD creates at 0 when absent); one more version, so a tracker batch
    that read them before writes again on top."""
    fields = ("total_size", "object_count", *lay.BREAKDOWN)
    for storage_class, values in (classes or {}).items():
        fields += tuple(lay.class_attribute(storage_class, f) for f in v.CLASS_FIGURES)
        d = [*d, *values]
    names = {f"#f{i}": f for i, f in enumerate(fields)} | {"#v": "version"}
    values = {f":f{i}": lay.n(x) for i, x in enumerate(d)} | {":one": lay.n(1)}
    expression = "ADD " + ", ".join(f"#f{i} :f{i}" for i in range(len(fields))) + ", #v :one"
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
