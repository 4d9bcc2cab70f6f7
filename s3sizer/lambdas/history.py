"""The history table: its schema, and the only code that reads or writes it.

Every item of one tracked bucket lives in the partition ``pk = "B#<bucket>"`` (see
docs/architecture.md, which is binding):

- ``TOTALS``: the running totals, with ``max_size`` and a ``version`` bumped by every write;
- ``K#<key>``: the last applied state of one key, guarded by its S3 ``sequencer``;
- ``H#<ts>#<version:012d>``: one point per applied change.

Applying a record costs two requests whatever the bucket's size: one TransactGetItems, then one
TransactWriteItems whose conditions make a crash, a duplicate or a concurrent writer harmless.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

KEY_SCHEMA = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
TTL_ATTRIBUTE = "expires_at"
TOTALS_SK = "TOTALS"
KEY_PREFIX = "K#"
POINT_PREFIX = "H#"

APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"

_HEX = re.compile(r"[0-9A-Fa-f]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A cancelled transaction means another writer won the totals item. With c concurrent writers
# a record needs about c attempts, so the bound is generous (several seconds of jittered back-off,
# well inside the function's timeout); it only keeps a pathological hot key from looping forever.
MAX_ATTEMPTS = 30
_BACKOFF_BASE, _BACKOFF_CAP = 0.01, 0.5
_BATCH = 25  # BatchWriteItem's limit


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


def is_sequencer(s: object) -> bool:
    return isinstance(s, str) and _HEX.fullmatch(s) is not None


def compare_sequencers(a: str, b: str) -> int:
    """-1, 0 or 1, the way AWS documents it: right-pad the shorter with '0', then compare.

    ``""`` (a baseline entry) pads to zeros. Anything else that is not hex raises ValueError.
    """
    for s in (a, b):
        if s != "" and not is_sequencer(s):
            raise ValueError(f"sequencer {s!r} is not hexadecimal")
    width = max(len(a), len(b))
    a, b = a.upper().ljust(width, "0"), b.upper().ljust(width, "0")
    return (a > b) - (a < b)


@dataclass(frozen=True)
class Totals:
    total_size: int
    object_count: int
    max_size: int
    updated_at: str | None
    version: int


@dataclass(frozen=True)
class Point:
    ts: str  # ISO-8601 UTC with ms, exactly as stored
    total_size: int
    object_count: int

    @property
    def time(self) -> datetime:
        return parse_iso(self.ts)


@dataclass(frozen=True)
class KeyState:
    key: str
    sequencer: str
    size: int
    exists: bool
    version_id: str | None


@dataclass(frozen=True)
class Window:
    bucket: str
    start: datetime
    end: datetime
    seconds: float
    points: list[Point]
    start_size: int
    start_count: int
    totals: Totals


@dataclass(frozen=True)
class Drift:
    """What a full listing found, and how far the recorded totals were off (listing - recorded)."""

    total_size: int
    object_count: int
    drift_bytes: int
    drift_objects: int


EMPTY_TOTALS = Totals(0, 0, 0, None, 0)


class History:
    """One table's history, for any number of buckets. Clients and clock are injected."""

    def __init__(
        self,
        table_name: str,
        client,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl_days: float = 0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.table_name = table_name
        self._client = client
        self._now = now
        self._ttl_seconds = int(ttl_days * 86400)
        self._sleep = sleep

    # -- applying one S3 record ------------------------------------------------------------

    def apply(
        self,
        bucket: str,
        key: str,
        sequencer: str,
        size: int | None,
        *,
        event: str,
        version_id: str | None = None,
    ) -> str:
        """Apply one S3 record; ``size=None`` means the key is gone.

        Returns "applied", or "duplicate" / "stale" when nothing had to be written.
        """
        if not is_sequencer(sequencer):
            raise ValueError(f"sequencer {sequencer!r} is not hexadecimal")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(f"size {size!r} is not a byte count")
        # "null" is the version id S3 gives objects written while versioning was off or suspended.
        version_id = None if version_id in (None, "null") else version_id
        pk = _pk(bucket)
        new = KeyState(key, sequencer.upper(), size or 0, size is not None, version_id)
        for attempt in range(MAX_ATTEMPTS):
            try:
                totals_item, key_item = self._read_pair(pk, key)
                stored = _key_state(key_item) if key_item else None
                outcome = _decide(stored, new, event)
                if outcome:
                    return outcome
                writes = self._writes(pk, stored, new, totals_item, event)
                self._client.transact_write_items(TransactItems=writes)
                return APPLIED
            except ClientError as err:
                if _code(err) != "TransactionCanceledException" or attempt == MAX_ATTEMPTS - 1:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")

    def _read_pair(self, pk: str, key: str) -> tuple[dict | None, dict | None]:
        got = self._client.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": self.table_name, "Key": _key(pk, TOTALS_SK)}},
                {"Get": {"TableName": self.table_name, "Key": _key(pk, KEY_PREFIX + key)}},
            ]
        )["Responses"]
        return got[0].get("Item"), got[1].get("Item")

    def _writes(self, pk, stored: KeyState | None, new: KeyState, totals_item, event) -> list:
        key_put = {
            "TableName": self.table_name,
            "Item": _key_item(pk, new),
            # The sequencer we compared against must still be there: otherwise a newer record
            # (or this same one, from a concurrent retry) got in first, and we re-read.
            **(
                _condition("sequencer = :seq", {":seq": {"S": stored.sequencer}})
                if stored
                else _condition("attribute_not_exists(pk)")
            ),
        }
        was_there = stored is not None and stored.exists
        if not was_there and not new.exists:
            # Removing a key that is already gone changes no total and draws no point, but its
            # sequencer is kept so that an older create delivered late is recognised as stale.
            return [{"Put": key_put}]
        old = _totals(totals_item) if totals_item else EMPTY_TOTALS
        total = old.total_size + new.size - (stored.size if was_there else 0)
        count = old.object_count + int(new.exists) - int(was_there)
        ts = iso_ms(self._now())
        return [
            {"Put": key_put},
            self._totals_put(pk, totals_item, old, total, count, ts),
            self._point_put(pk, old, total, count, ts, event, new.key),
        ]

    def _totals_put(self, pk, totals_item, old: Totals, total: int, count: int, ts: str) -> dict:
        item = {
            **_key(pk, TOTALS_SK),
            "total_size": _n(total),
            "object_count": _n(count),
            "max_size": _n(max(old.max_size, total)),
            "version": _n(old.version + 1),
            "updated_at": {"S": ts},
        }
        guard = (
            _condition("#v = :v", {":v": _n(old.version)}, {"#v": "version"})
            if totals_item
            else _condition("attribute_not_exists(pk)")
        )
        return {"Put": {"TableName": self.table_name, "Item": item, **guard}}

    def _point_put(self, pk, old: Totals, total, count, ts: str, event, key: str | None) -> dict:
        item = {
            **_key(pk, f"{POINT_PREFIX}{ts}#{old.version + 1:012d}"),
            "ts": {"S": ts},
            "total_size": _n(total),
            "object_count": _n(count),
            "prev_total_size": _n(old.total_size),
            "prev_object_count": _n(old.object_count),
            "event": {"S": event},
        }
        if key is not None:
            item["key"] = {"S": key}
        if self._ttl_seconds > 0:
            expires = int(parse_iso(ts).timestamp()) + self._ttl_seconds
            item[TTL_ATTRIBUTE] = _n(expires)
        return {"Put": {"TableName": self.table_name, "Item": item}}

    def _backoff(self, attempt: int) -> None:
        # Full jitter: concurrent writers that collided spread out instead of colliding again.
        self._sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)))

    # -- reads -------------------------------------------------------------------------------

    def totals(self, bucket: str) -> Totals:
        item = self._get(_pk(bucket), TOTALS_SK)
        return _totals(item) if item else EMPTY_TOTALS

    def key_state(self, bucket: str, key: str) -> KeyState | None:
        item = self._get(_pk(bucket), KEY_PREFIX + key)
        return _key_state(item) if item else None

    def window(self, bucket: str, seconds: float) -> Window:
        """The points of the last ``seconds``, with the size carried in from before them."""
        totals = self.totals(bucket)
        start, end = self._bounds(seconds)
        items = list(self._query_points(_pk(bucket), start, end))
        points = [_point(i) for i in items]
        if items:
            start_size = int(items[0]["prev_total_size"]["N"])
            start_count = int(items[0]["prev_object_count"]["N"])
        else:
            start_size, start_count = totals.total_size, totals.object_count
        return Window(bucket, start, end, seconds, points, start_size, start_count, totals)

    def points(self, bucket: str, since_seconds: float | None = None) -> list[Point]:
        """Every point (or those of the last ``since_seconds``), oldest first."""
        pk = _pk(bucket)
        if since_seconds is None:
            items = self._query(pk, "begins_with(sk, :p)", {":p": {"S": POINT_PREFIX}})
        else:
            items = self._query_points(pk, *self._bounds(since_seconds))
        return [_point(i) for i in items]

    def _bounds(self, seconds: float) -> tuple[datetime, datetime]:
        ok = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not ok or not 0 < seconds < float("inf"):
            raise ValueError(f"the window must be a positive number of seconds, not {seconds!r}")
        end = self._now()
        try:
            return max(end - timedelta(seconds=seconds), _EPOCH), end
        except OverflowError:  # a window longer than the calendar: everything
            return _EPOCH, end

    def keys(self, bucket: str) -> Iterator[KeyState]:
        items = self._query(_pk(bucket), "begins_with(sk, :p)", {":p": {"S": KEY_PREFIX}})
        return (_key_state(i) for i in items)

    def _get(self, pk: str, sk: str) -> dict | None:
        # Strongly consistent: the driver polls right after a write and must see it.
        got = self._client.get_item(
            TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True
        )
        return got.get("Item")

    def _query_points(self, pk: str, start: datetime, end: datetime) -> Iterator[dict]:
        # "~" sorts after "#", so the upper bound takes every version of the end's millisecond.
        bounds = {
            ":a": {"S": f"{POINT_PREFIX}{iso_ms(start)}"},
            ":b": {"S": f"{POINT_PREFIX}{iso_ms(end)}~"},
        }
        return self._query(pk, "sk BETWEEN :a AND :b", bounds)

    def _query(self, pk: str, sk_condition: str, values: dict) -> Iterator[dict]:
        kwargs = {
            "TableName": self.table_name,
            "KeyConditionExpression": f"pk = :pk AND {sk_condition}",
            "ExpressionAttributeValues": {":pk": {"S": pk}, **values},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- starting totals and reconcile ---------------------------------------------------------

    def reset_from_listing(self, bucket: str, objects: Iterable[tuple[str, int]]) -> Drift:
        """Make the key index and the totals match one full listing; report the drift.

        ``objects`` is the already-filtered listing, (key, size) for each current object, each
        key once. Keys keep their sequencer, so a record applied before stays a duplicate; new
        keys get the baseline sequencer "", which every real record supersedes.
        """
        pk = _pk(bucket)
        stored = {state.key: state for state in self.keys(bucket)}
        seen = [0, 0]  # bytes, objects: summed while the listing streams past

        def changed_items() -> Iterator[dict]:
            for key, size in objects:
                seen[0], seen[1] = seen[0] + size, seen[1] + 1
                old = stored.pop(key, None)
                if old is None or not old.exists or old.size != size:
                    seq = old.sequencer if old else ""
                    yield _key_item(pk, KeyState(key, seq, size, True, None))
            for old in stored.values():  # recorded, but no longer listed
                if old.exists:
                    yield _key_item(pk, replace(old, size=0, exists=False, version_id=None))

        chunk: list[dict] = []
        for item in changed_items():
            chunk.append(item)
            if len(chunk) == _BATCH:
                self._batch_put(chunk)
                chunk = []
        if chunk:
            self._batch_put(chunk)
        total, count = seen
        return self._reset_totals(pk, total, count)

    def _reset_totals(self, pk: str, total: int, count: int) -> Drift:
        for attempt in range(MAX_ATTEMPTS):
            item = self._get(pk, TOTALS_SK)
            old = _totals(item) if item else EMPTY_TOTALS
            drift = Drift(total, count, total - old.total_size, count - old.object_count)
            moved = drift.drift_bytes != 0 or drift.drift_objects != 0
            if item and not moved and old.max_size >= total:
                return drift
            ts = iso_ms(self._now())
            writes = [self._totals_put(pk, item, old, total, count, ts)]
            if item is None or moved:
                event = "s3sizer:Reconcile" if item else "s3sizer:Baseline"
                writes.append(self._point_put(pk, old, total, count, ts, event, None))
            try:
                self._client.transact_write_items(TransactItems=writes)
                return drift
            except ClientError as err:
                if _code(err) != "TransactionCanceledException" or attempt == MAX_ATTEMPTS - 1:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")

    def _batch_put(self, items: list[dict]) -> None:
        request = {self.table_name: [{"PutRequest": {"Item": item}} for item in items]}
        for attempt in range(MAX_ATTEMPTS):
            request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems")
            if not request:
                return
            self._backoff(attempt)
        left = sum(len(v) for v in request.values())
        raise RuntimeError(f"DynamoDB left {left} key items unprocessed after {MAX_ATTEMPTS} tries")


def _decide(stored: KeyState | None, new: KeyState, event: str) -> str | None:
    """Why nothing is written (duplicate or stale), or None when the record applies."""
    if stored is not None and stored.sequencer:
        order = compare_sequencers(stored.sequencer, new.sequencer)
        if order == 0:
            return DUPLICATE
        if order > 0:
            return STALE
    # A versioned delete removes the key only when it deletes the current version; deleting a
    # non-current version leaves the size of the bucket (current versions only) as it was.
    # A delete marker, though, always hides the current version.
    if not new.exists and new.version_id and not event.endswith("DeleteMarkerCreated"):
        current = stored.version_id if stored and stored.exists else None
        if new.version_id != current:
            return STALE
    return None


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def _pk(bucket: str) -> str:
    return f"B#{bucket}"


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _n(value: int) -> dict:
    return {"N": str(value)}


def _condition(expression: str, values: dict | None = None, names: dict | None = None) -> dict:
    out: dict = {"ConditionExpression": expression}
    if values:
        out["ExpressionAttributeValues"] = values
    if names:
        out["ExpressionAttributeNames"] = names
    return out


def _key_item(pk: str, state: KeyState) -> dict:
    item = {
        **_key(pk, KEY_PREFIX + state.key),
        "sequencer": {"S": state.sequencer},
        "size": _n(state.size),
        "exists": {"BOOL": state.exists},
    }
    if state.version_id is not None:
        item["version_id"] = {"S": state.version_id}
    return item


def _key_state(item: dict) -> KeyState:
    return KeyState(
        key=item["sk"]["S"][len(KEY_PREFIX) :],
        sequencer=item["sequencer"]["S"],
        size=int(item["size"]["N"]),
        exists=item["exists"]["BOOL"],
        version_id=item["version_id"]["S"] if "version_id" in item else None,
    )


def _totals(item: dict) -> Totals:
    return Totals(
        total_size=int(item["total_size"]["N"]),
        object_count=int(item["object_count"]["N"]),
        max_size=int(item["max_size"]["N"]),
        updated_at=item["updated_at"]["S"] if "updated_at" in item else None,
        version=int(item["version"]["N"]),
    )


def _point(item: dict) -> Point:
    return Point(item["ts"]["S"], int(item["total_size"]["N"]), int(item["object_count"]["N"]))
