"""Starting totals and reconcile: keys, totals and prefix totals rebuilt from one full listing."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from botocore.exceptions import ClientError

from . import batch
from . import layout as lay
from . import versions as v
from .batch import MAX_ATTEMPTS
from .listing import Drift, ListedVersion
from .own_keys import is_own_key

_WRITE_BATCH = 25  # BatchWriteItem's limit


def reset(h, bucket: str, listing: Iterable[ListedVersion], depth: int) -> Drift:
    # (key, size) pairs, the listing's earlier form, still mean an unversioned bucket's objects.
    listing = (e if isinstance(e, ListedVersion) else _unversioned(*e) for e in listing)
    stored = {state.key: state for state in h.keys(bucket)}
    sums = {"": [0, 0]}  # "" is the bucket; every other entry a prefix: [bytes, objects]

    def key_items() -> Iterator[dict]:
        for key, group in itertools.groupby(listing, key=lambda lv: lv.key):
            if is_own_key(key):
                continue
            # The latest first, then the others in listing order (newest first).
            entries = sorted(group, key=lambda lv: not lv.is_latest)
            listed = [
                (
                    lv.version_id or v.NULL_VERSION,
                    v.MARKER if lv.delete_marker else v.OBJECT,
                    lv.size,
                )
                for lv in entries
            ]
            old = stored.pop(key, None)
            new = v.from_listing(old.versions if old else {}, listed)
            size = v.visible_size(new)
            if size is not None:
                for name in ["", *lay.prefixes(key, depth)]:
                    total = sums.setdefault(name, [0, 0])
                    total[0], total[1] = total[0] + size, total[1] + 1
            if old is None or new != old.versions:
                yield lay.key_item(bucket, key, new, (old.rev if old else 0) + 1)
        for old in stored.values():  # recorded, but no longer listed
            new = v.from_listing(old.versions, [])
            if new != old.versions:
                yield lay.key_item(bucket, old.key, new, old.rev + 1)

    _batch_put(h, key_items())
    total, count = sums.pop("")
    _reset_prefixes(h, bucket, sums)
    return _reset_totals(h, bucket, total, count)


def _unversioned(key: str, size: int) -> ListedVersion:
    return ListedVersion(key, None, size, True, False)


def _reset_prefixes(h, bucket: str, sums: dict[str, list[int]]) -> None:
    """Each prefix's totals as listed; recorded prefixes the listing no longer has go to zero."""
    stored = {item["prefix"]["S"]: item for item in h._query(lay.prefix_pk(bucket))}
    items = []
    for prefix in sorted(set(sums) | set(stored)):
        size, count = sums.get(prefix, (0, 0))
        old = lay.totals_from(stored.get(prefix))
        if prefix in stored and (old.total_size, old.object_count) == (size, count):
            continue
        new = lay.Totals(size, count, 0, h.next_timestamp(old.updated_at), old.version + 1)
        items.append(
            {
                **lay.prefix_address(bucket, prefix),
                "prefix": {"S": prefix},
                "depth": lay.n(prefix.count("/")),
                "total_size": lay.n(size),
                "object_count": lay.n(count),
                "version": lay.n(new.version),
                "updated_at": {"S": new.updated_at},
            }
        )
        pk = lay.prefix_points_pk(bucket, prefix)
        items.append(batch.point_put(h, pk, old, new, "s3sizer:Reconcile", None)["Put"]["Item"])
    _batch_put(h, iter(items))


def _reset_totals(h, bucket: str, total: int, count: int) -> Drift:
    address = lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
    for attempt in range(MAX_ATTEMPTS):
        item = h._get(address)
        old = lay.totals_from(item)
        drift = Drift(total, count, total - old.total_size, count - old.object_count)
        moved = drift.drift_bytes != 0 or drift.drift_objects != 0
        if item and not moved and old.max_size >= total:
            return drift
        new = lay.Totals(
            total,
            count,
            max(old.max_size, total),
            h.next_timestamp(old.updated_at),
            old.version + 1,
        )
        totals_item = {
            **address,
            "total_size": lay.n(total),
            "object_count": lay.n(count),
            "max_size": lay.n(new.max_size),
            "version": lay.n(new.version),
            "updated_at": {"S": new.updated_at},
        }
        guard = (
            {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": lay.n(old.version)},
            }
            if item
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        writes = [{"Put": {"TableName": h.table_name, "Item": totals_item, **guard}}]
        if item is None or moved:
            event = "s3sizer:Reconcile" if item else "s3sizer:Baseline"
            writes.append(batch.point_put(h, lay.bucket_pk(bucket), old, new, event, None))
        try:
            h.client.transact_write_items(TransactItems=writes)
            return drift
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code != "TransactionCanceledException" or attempt == MAX_ATTEMPTS - 1:
                raise
            h.backoff(attempt)
    raise AssertionError("unreachable")


def _batch_put(h, items: Iterator[dict]) -> None:
    while chunk := list(itertools.islice(items, _WRITE_BATCH)):
        request = {h.table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
        for attempt in range(MAX_ATTEMPTS):
            request = h.client.batch_write_item(RequestItems=request).get("UnprocessedItems")
            if not request:
                break
            h.backoff(attempt)
        else:
            left = sum(len(r) for r in request.values())
            raise RuntimeError(f"DynamoDB left {left} items unprocessed after retries")
