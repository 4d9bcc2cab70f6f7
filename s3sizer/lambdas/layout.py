"""Where each item of the history table lives, and how items turn into values and back.

docs/architecture.md ("The history table") is the binding description of this layout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from . import versions as v

KEY_SCHEMA = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
TTL_ATTRIBUTE = "expires_at"
TOTALS_SK = "TOTALS"
POINT_PREFIX = "H#"
# Key items are spread over this many partitions per bucket, so that writing them never
# competes with the totals' partition, nor all of them with each other. Fixed forever: a key's
# shard is part of its item's address.
KEY_SHARDS = 16
# DynamoDB caps a sort key at 1,024 bytes and S3 a key at 1,024 bytes: keys (and prefixes)
# longer than this are addressed by their SHA-256 instead, and kept whole in an attribute.
_INLINE_BYTES = 800


def table_definition(table_name: str) -> dict:
    """Keyword arguments for ``dynamodb.create_table`` (the TTL is enabled separately)."""
    return {
        "TableName": table_name,
        "KeySchema": [dict(k) for k in KEY_SCHEMA],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def iso_ms(dt: datetime) -> str:
    """``2026-11-24T21:06:05.123Z``: fixed width, so the strings sort as the instants do."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(s: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 string (naive strings are taken as UTC)."""
    dt = datetime.fromisoformat(s)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _address(tag: str, text: str) -> str:
    if len(text.encode()) <= _INLINE_BYTES:
        return f"{tag}#{text}"
    return f"L{tag}#{hashlib.sha256(text.encode()).hexdigest()}"


# The bucket's baseline: its state, and one item per key range under ``B#<bucket>#R``.
BASELINE_SK = "BASELINE"
BASELINE_RUNNING, BASELINE_COMPLETE = "in_progress", "complete"
# On the BASELINE item while a bucket's first baseline runs: its totals are partial till then.
FIRST_BASELINE = "first"
# A baseline's points (its first run's, and later ones'): what a listing found, not a change
# of the bucket. The oldest point's size before it is therefore its own (growth.py): an
# adopted bucket's bytes, or a drift mended, did not grow since the point.
EVENT_BASELINE, EVENT_RECONCILE = "s3sizer:Baseline", "s3sizer:Reconcile"
BASELINE_EVENTS = (EVENT_BASELINE, EVENT_RECONCILE)
# The bucket's settings the tracker needs (``prefix_depth``); a bucket without it is not
# tracked by the stack that owns the table, and the tracker ignores its events.
SETTINGS_SK = "SETTINGS"


def settings_address(bucket: str) -> dict:
    return address(bucket_pk(bucket), SETTINGS_SK)


def range_pk(bucket: str) -> str:
    return f"B#{bucket}#R"


def range_address(bucket: str, prefix: str, direct: bool) -> dict:
    return address(range_pk(bucket), _address("D" if direct else "R", prefix))


MAX_SORT_KEY_BYTES = 1024  # DynamoDB's limit on a sort key's value


def bucket_pk(bucket: str) -> str:
    return f"B#{bucket}"


def shard_of(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % KEY_SHARDS


def key_address(bucket: str, key: str) -> dict:
    return address(f"B#{bucket}#K{shard_of(key):02d}", _address("K", key))


def key_partitions(bucket: str) -> list[str]:
    return [f"B#{bucket}#K{shard:02d}" for shard in range(KEY_SHARDS)]


def prefix_pk(bucket: str) -> str:
    return f"B#{bucket}#P"


def prefix_address(bucket: str, prefix: str) -> dict:
    return address(prefix_pk(bucket), _address("P", prefix))


def prefix_points_pk(bucket: str, prefix: str) -> str:
    return f"B#{bucket}#{_address('P', prefix)}"


def address(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def address_id(item: dict) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


def prefixes(key: str, depth: int) -> list[str]:
    """The tracked prefixes a key counts toward: up to each of its first ``depth`` slashes."""
    out, start = [], 0
    while len(out) < depth:
        slash = key.find("/", start)
        if slash < 0:
            break
        out.append(key[: slash + 1])
        start = slash + 1
    return out


def n(value: int) -> dict:
    return {"N": str(value)}


@dataclass(frozen=True)
class Totals:
    total_size: int
    object_count: int
    max_size: int
    updated_at: str | None
    version: int


EMPTY_TOTALS = Totals(0, 0, 0, None, 0)

# What the totals items (the bucket's and each prefix's) hold besides the current objects:
# versions.breakdown's figures, summed. Items written before they existed read as zero.
BREAKDOWN = ("noncurrent_bytes", "noncurrent_versions", "delete_markers", "capped_keys")


def breakdown_from(item: dict | None) -> tuple[int, ...]:
    return tuple(int((item or {}).get(name, {"N": "0"})["N"]) for name in BREAKDOWN)


# On the bucket's TOTALS item and a prefix's: the quiet baseline run that set them whole. A live
# run that resumes that run (its finish stopped half-way) adds the quiet ranges' moves only to
# the figures not stamped, so none counts twice (baseline_ranges.resume_live).
SET_BY_RUN = "set_by_run"

# Storage classes (docs/tracking.md): the bucket's TOTALS item carries ``storage_classes``
# (BOOL) while they are tracked, and, per class other than STANDARD, one flat N attribute per
# figure, ``c#<class>#<figure>``: flat because ADD cannot reach into a map that may not exist.
CLASSES_FLAG = "storage_classes"
_CLASS_TAG = "c#"


def class_attribute(storage_class: str, figure: str) -> str:
    return f"{_CLASS_TAG}{storage_class}#{figure}"


def classes_from(item: dict | None) -> dict[str, list[int]]:
    """The per-class figures (versions.CLASS_FIGURES) a totals item holds, by class."""
    found: dict[str, list[int]] = {}
    for name, value in (item or {}).items():
        if not name.startswith(_CLASS_TAG):
            continue
        storage_class, _, figure = name[len(_CLASS_TAG) :].rpartition("#")
        if figure in v.CLASS_FIGURES:
            figures = found.setdefault(storage_class, [0] * len(v.CLASS_FIGURES))
            figures[v.CLASS_FIGURES.index(figure)] = int(value["N"])
    return found


def class_attributes(figures: dict[str, list[int]]) -> dict:
    """``classes_from``'s inverse; classes holding nothing are left out."""
    return {
        class_attribute(c, name): n(value)
        for c, values in figures.items()
        if any(values)
        for name, value in zip(v.CLASS_FIGURES, values, strict=True)
    }


def tracks_classes(item: dict | None) -> bool:
    return bool((item or {}).get(CLASSES_FLAG, {}).get("BOOL"))


@dataclass(frozen=True)
class Point:
    ts: str  # ISO-8601 UTC with ms, exactly as stored
    total_size: int
    object_count: int

    @property
    def time(self) -> datetime:
        return parse_iso(self.ts)


@dataclass(frozen=True)
class PrefixTotals:
    prefix: str
    total_size: int
    object_count: int


# The mark of a key item a fold-path writer wrote (rows.py): the fold counts its change.
FOLDED = "f"
# On a key item the fold path wrote: the largest visible size the key had inside the write's
# chunk, when more than it ends with (batch._Plan.passing); the fold's peak (max_size) sees it.
PASSING_SIZE = "zp"
# The revision of a key item written without a read (lambdas/key_writes.py): every other
# writer writes the revision it read plus one, so 1 or more. A condition on this revision also
# checks the item's sequencer, which each such write raises (rev_condition).
UNREAD_REV = 0


@dataclass(frozen=True, slots=True)  # slots: a baseline holds thousands of these at once
class KeyState:
    """A key's recorded state: its current size and version, and its versions' map."""

    key: str
    size: int
    exists: bool
    version_id: str | None
    versions: dict = None  # version id -> versions.Entry
    rev: int = 0
    # How deep the key's size is counted in the prefix totals (None: at the tracker's depth).
    # A baseline that deepens the prefixes raises it key by key, so the tracker and the
    # baseline never both count a key in a new prefix.
    counted_depth: int | None = None
    # Written on the fold path: the totals count it only once the fold has read it.
    folded: bool = False

    @property
    def sequencer(self) -> str | None:
        """The (normalised) sequencer of the record that made the current version, if any."""
        _, entry = v.current(self.versions or {})
        return entry.seq if entry else None


def totals_from(item: dict | None) -> Totals:
    if not item:
        return EMPTY_TOTALS
    return Totals(
        total_size=int(item["total_size"]["N"]),
        object_count=int(item["object_count"]["N"]),
        max_size=int(item.get("max_size", {"N": "0"})["N"]),
        updated_at=item["updated_at"]["S"] if "updated_at" in item else None,
        version=int(item["version"]["N"]),
    )


def point_from(item: dict) -> Point:
    return Point(item["ts"]["S"], int(item["total_size"]["N"]), int(item["object_count"]["N"]))


def key_item(
    bucket: str,
    key: str,
    versions: dict[str, v.Entry],
    rev: int,
    counted_depth: int | None = None,
) -> dict:
    vid, entry = v.current(versions)
    exists = entry is not None and entry.kind == v.OBJECT
    item = {
        **key_address(bucket, key),
        "key": {"S": key},
        "rev": n(rev),
        "size": n(entry.size if exists else 0),
        "exists": {"BOOL": exists},
        "versions": {"M": {vid_: {"M": _entry_attr(e)} for vid_, e in versions.items()}},
    }
    if vid is not None and vid != v.NULL_VERSION:
        item["version_id"] = {"S": vid}
    if counted_depth is not None:
        item["pd"] = n(counted_depth)
    return item


def _entry_attr(entry: v.Entry) -> dict:
    attr = {"k": {"S": entry.kind}}
    if entry.seq is not None:
        attr["q"] = {"S": entry.seq}
    if entry.rank is not None:
        attr["b"] = n(entry.rank)
    if entry.kind == v.OBJECT:
        attr["z"] = n(entry.size)
    if entry.time_ms is not None:
        attr["t"] = n(entry.time_ms)
    if entry.floor is not None:
        attr["f"] = {"S": entry.floor}
    if entry.cls is not None:
        attr["c"] = {"S": entry.cls}
    return attr


def key_state_from(item: dict) -> KeyState:
    versions = {
        vid: v.Entry(
            kind=attr["M"]["k"]["S"],
            seq=attr["M"]["q"]["S"] if "q" in attr["M"] else None,
            rank=int(attr["M"]["b"]["N"]) if "b" in attr["M"] else None,
            size=int(attr["M"]["z"]["N"]) if "z" in attr["M"] else 0,
            time_ms=int(attr["M"]["t"]["N"]) if "t" in attr["M"] else None,
            floor=attr["M"]["f"]["S"] if "f" in attr["M"] else None,
            cls=attr["M"]["c"]["S"] if "c" in attr["M"] else None,
        )
        for vid, attr in item.get("versions", {"M": {}})["M"].items()
    }
    return KeyState(
        key=item["key"]["S"],
        size=int(item["size"]["N"]),
        exists=item["exists"]["BOOL"],
        version_id=item["version_id"]["S"] if "version_id" in item else None,
        versions=versions,
        rev=int(item["rev"]["N"]),
        counted_depth=int(item["pd"]["N"]) if "pd" in item else None,
        folded=item.get(FOLDED, {}).get("N") == "1",
    )


def rev_condition(old: object | None, rev: int, item: dict | None = None) -> dict:
    """That the key item is still as read: absent, or at revision ``rev``. ``old`` is what was
    read (anything, or None); ``item`` its raw item, needed when its revision is UNREAD_REV:
    every write without a read sets that revision, so its "null" entry's sequencer (which each
    such write raises) is what tells one from the next."""
    if old is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    condition = {
        "ConditionExpression": "#r = :r",
        "ExpressionAttributeNames": {"#r": "rev"},
        "ExpressionAttributeValues": {":r": n(rev)},
    }
    if rev == UNREAD_REV:
        if item is not None:
            entry = (item.get("versions", {}).get("M", {}).get(v.NULL_VERSION) or {}).get("M")
            seq = (entry or {}).get("q")
        else:  # a KeyState, as a baseline holds it
            known = (getattr(old, "versions", None) or {}).get(v.NULL_VERSION)
            seq = {"S": known.seq} if known is not None and known.seq is not None else None
        names = condition["ExpressionAttributeNames"]
        names |= {"#v": "versions", "#n": v.NULL_VERSION, "#q": "q"}
        if seq is None:
            condition["ConditionExpression"] = "#r = :r AND attribute_not_exists(#v.#n.#q)"
        else:
            condition["ConditionExpression"] = "#r = :r AND #v.#n.#q = :q"
            condition["ExpressionAttributeValues"][":q"] = seq
    return condition
