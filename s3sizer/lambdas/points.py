"""One history point: what every writer of totals (the tracker, the baseline, the fold) appends."""

from __future__ import annotations

from . import layout as lay


def point_put(h, pk: str, old, new, event: str, key: str | None, tiebreak=None) -> dict:
    """One history point, as a TransactWriteItems Put: the totals after a write and before it.
    ``tiebreak`` orders points of one millisecond (default: the totals' version)."""
    tiebreak = f"{new.version:012d}" if tiebreak is None else tiebreak
    item = {
        **lay.address(pk, f"{lay.POINT_PREFIX}{new.updated_at}#{tiebreak}"),
        "ts": {"S": new.updated_at},
        "total_size": lay.n(new.total_size),
        "object_count": lay.n(new.object_count),
        "prev_total_size": lay.n(old.total_size),
        "prev_object_count": lay.n(old.object_count),
        "event": {"S": event},
    }
    if key is not None:
        item["key"] = {"S": key}
    if h.ttl_seconds > 0:
        item[lay.TTL_ATTRIBUTE] = lay.n(
            int(lay.parse_iso(new.updated_at).timestamp()) + h.ttl_seconds
        )
    return {"Put": {"TableName": h.table_name, "Item": item}}
