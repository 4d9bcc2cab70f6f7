"""One key's versions, and what S3's records (or a listing) make of them. Pure: no I/O.

A key's state is a map version-id -> Entry: the last thing known of that version, decided by the
sequencer of the records that name it (last writer wins, per version id). Unversioned objects
and those written while versioning was suspended share the version id ``"null"``. The key's
current version, the one a listing shows, is the newest live entry (an object or a delete
marker); the key exists when that entry is an object.

"Newest" is an order on entries. Entries recorded from a listing carry its rank (newest highest)
and are older than every entry recorded from a record; those are ordered by sequencer. S3 gives
sequencers in increasing order per key, so a record that arrives after a listing describes a
change made after (or during) it, except for a late delivery of an older record, which the rank
rules below recognise where they can.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cmp_to_key

OBJECT, MARKER, GONE = "P", "M", "X"  # a version present, a delete marker, permanently deleted
# A storage-class transition delivered before the create of its version: not a version yet (it
# counts nowhere), only the class that create will have at least (docs/tracking.md).
TRANSIT = "T"
LIVE = (OBJECT, MARKER)
NULL_VERSION = "null"
APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"
# A create that the map alone cannot tell from one deleted long ago (below): S3 must say
# whether the version still exists before it is applied.
UNSURE = "unsure"

# A tombstone (a permanently deleted version) makes a create of that version delivered after
# its delete stale. Only the newest tombstones are kept, so that a key's item stays small. The
# newest sequencer among those dropped stays, as this pseudo-entry (a GONE entry, so it counts
# nowhere; S3's version ids never hold "~"): a create older than it, of a version the map does
# not know, may be one whose tombstone was dropped, and is UNSURE (docs/tracking.md).
MAX_TOMBSTONES = 32
DROPPED = "~dropped"
# Live versions (objects and markers) beyond this count are forgotten, oldest first: a key item
# must stay well under DynamoDB's 400 KB. Only deleting all the newer ones would then need them.
MAX_LIVE = 1000
_UNDER_EITHER_CAP = min(MAX_TOMBSTONES, MAX_LIVE)  # a map this small is under both caps

STANDARD = "STANDARD"
# S3's lifecycle waterfall: a transition only ever moves a version to a later class, so the
# later of two classes known for one version is its class now, whatever order they came in.
# Intelligent-Tiering is one class here: its tiers change without an event.
_WATERFALL = {
    "STANDARD": 0,
    "REDUCED_REDUNDANCY": 0,
    "STANDARD_IA": 1,
    "INTELLIGENT_TIERING": 2,
    "ONEZONE_IA": 3,
    "GLACIER_IR": 4,
    "GLACIER": 5,
    "DEEP_ARCHIVE": 6,
}
# STANDARD_IA, ONEZONE_IA and GLACIER_IR bill an object under 128 KB as 128 KB (costs/billing.py
# holds S3's rules; the tracker keeps what they add, per class, as ``padding_bytes``).
MIN_BILLABLE_SIZE = 128 * 1024
MIN_SIZE_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")
# Per class: current bytes, noncurrent bytes, current objects, noncurrent versions, padding.
CLASS_FIGURES = ("current_bytes", "noncurrent_bytes", "objects", "noncurrent_versions",
                 "padding_bytes")  # fmt: skip


def later_class(a: str | None, b: str | None) -> str | None:
    """The later of two classes in S3's waterfall (None: not known)."""
    if a is None or b is None:
        return a if b is None else b
    return a if _WATERFALL.get(a, 7) >= _WATERFALL.get(b, 7) else b


@dataclass(frozen=True)
class Entry:
    kind: str  # OBJECT, MARKER or GONE
    seq: str | None  # normalised sequencer of the last record applied; None: known from a listing
    rank: int | None = None  # position in the last listing (newest highest); None: from a record
    size: int = 0
    # When the record applied last was made (S3's eventTime, whole ms since the epoch): a
    # baseline tells by it whether a listing page could already show that change.
    time_ms: int | None = None
    # A "null" version whose content a listing replaced keeps the sequencer it had recorded
    # here: records up to it stay duplicates or stale, and ``seq`` no longer claims an order.
    floor: str | None = None
    # The storage class (None: not looked up, which counts as STANDARD, S3's default).
    cls: str | None = None


def normalise(sequencer: str) -> str:
    """A sequencer in a form where plain string order is AWS's order.

    AWS compares sequencers by right-padding the shorter with zeros. '0' is the smallest hex
    digit, so dropping trailing zeros and comparing strings gives the same answer.
    """
    return sequencer.upper().rstrip("0")


def compare(a: Entry, b: Entry) -> int:
    """-1, 0 or 1 as ``a`` is older than, as new as, or newer than ``b``.

    Two recorded sequencers decide: they are S3's own order. Otherwise two ranks of the last
    listing decide: ListObjectVersions interleaves a key's versions and delete markers newest
    first, and a record still on its way brings its sequencer when it lands. An entry the last
    listing did not show was recorded after that listing saw the key: it is newer.
    """
    if a.seq is not None and b.seq is not None:
        return _sign(a.seq, b.seq)
    if a.rank is not None and b.rank is not None:
        return _sign(a.rank, b.rank)
    return int(a.rank is None) - int(b.rank is None)


def _sign(x, y) -> int:
    return (x > y) - (x < y)


_ORDER = cmp_to_key(compare)


def order(entry: Entry):
    """A sort key: newer entries sort later."""
    return _ORDER(entry)


def current(versions: dict[str, Entry]) -> tuple[str | None, Entry | None]:
    """The current version of the key (object or marker), or (None, None) when there is none."""
    if len(versions) == 1:  # most keys: no order to work out (a baseline asks per key, often)
        ((vid, entry),) = versions.items()
        return (vid, entry) if entry.kind in LIVE else (None, None)
    live = [(vid, e) for vid, e in versions.items() if e.kind in LIVE]
    if not live:
        return None, None
    return max(live, key=lambda t: order(t[1]))


def visible_size(versions: dict[str, Entry]) -> int | None:
    """The size a listing shows for the key, or None when the listing does not show it."""
    _, entry = current(versions)
    return entry.size if entry is not None and entry.kind == OBJECT else None


def breakdown(versions: dict[str, Entry]) -> tuple[int, int, int, int]:
    """What a key holds besides its current object: (noncurrent bytes, noncurrent versions,
    delete markers, 1 when it is at the live-version cap, so its oldest versions are forgotten
    and its noncurrent figures may be short)."""
    vid, _ = current(versions)
    nc_bytes = nc_versions = markers = live = 0
    for version_id, entry in versions.items():
        if entry.kind not in LIVE:
            continue
        live += 1
        if entry.kind == MARKER:
            markers += 1
        elif version_id != vid:
            nc_bytes, nc_versions = nc_bytes + entry.size, nc_versions + 1
    return nc_bytes, nc_versions, markers, int(live >= MAX_LIVE)


def apply(
    versions: dict[str, Entry],
    version_id: str,
    kind: str,
    seq: str,
    size: int,
    time_ms: int | None = None,
    cls: str | None = None,
    present: bool | None = None,
):
    """(outcome, new map) for one record; the map is returned unchanged unless "applied", or
    a duplicate that gave a listing's tombstone its sequencer.

    ``cls`` is a created version's storage class as a lookup found it (None: not looked up).
    ``present`` is whether S3 still has the version, for a create that is UNSURE without it.
    """
    old = versions.get(version_id)
    pending = old if old is not None and old.kind == TRANSIT else None
    if pending is not None:
        old = None  # a transition ahead of its create: no version yet
    known = None if old is None else (old.seq if old.seq is not None else old.floor)
    if known is not None and seq <= known:
        return (DUPLICATE if seq == known else STALE), versions
    # Known from a listing only. A version id other than "null" is created exactly once, so a
    # record creating it is older than the listing that already showed it; a delete replaces a
    # live entry and repeats a gone one.
    if (
        old is not None
        and old.seq is None
        and version_id != NULL_VERSION
        and (kind != GONE or old.kind == GONE)
    ):
        if old.kind == GONE:
            # A tombstone a listing made keeps the first sequencer that names its version: once
            # the cap drops it, the floor it leaves is then above that version's create.
            return DUPLICATE, {**versions, version_id: replace(old, seq=seq)}
        return DUPLICATE, versions
    floor = dropped_floor(versions) if old is None else ""
    if seq <= floor and kind == GONE:
        # A tombstone this old would be the first the cap drops: it changes nothing.
        return (DUPLICATE if seq == floor else STALE), versions
    if seq <= floor:
        # Created before a version whose tombstone is gone: this one's may be gone with it. S3
        # holding it now settles it, also for "null", which a later write replaces in place:
        # then that write's own record comes after and is applied over this one.
        if present is None:
            return UNSURE, versions
        if not present:
            return STALE, versions
    if kind == OBJECT and pending is not None and _same_content(pending, version_id, time_ms):
        cls = later_class(cls, pending.cls)
    entry = Entry(
        kind, seq, None, size if kind == OBJECT else 0, time_ms, cls=cls if kind == OBJECT else None
    )
    return _added(versions, version_id, entry)


def _added(versions: dict[str, Entry], version_id: str, entry: Entry):
    """(outcome, new map) with ``entry`` put at ``version_id``, within the caps. An entry the
    caps drop at once, leaving the map as it was (a live version older than every one a full key
    keeps, a pending transition at the tombstone cap), is stale: the key's item is not written
    again. A tombstone dropped so still raises the floor, a change that is written."""
    capped = _capped({**versions, version_id: entry})
    if version_id not in capped and capped == versions:
        return STALE, versions
    return APPLIED, capped


def _same_content(entry: Entry, version_id: str, time_ms: int | None) -> bool:
    """Whether a transition (or a pending one) at ``entry.time_ms`` can concern the content
    created at ``time_ms``: always for a version id other than "null" (created once); for
    "null", not when that content was written after the transition (a rewrite)."""
    if version_id != NULL_VERSION or entry.time_ms is None or time_ms is None:
        return True
    return entry.time_ms >= time_ms


def transition(versions: dict[str, Entry], version_id: str, cls: str, time_ms: int | None):
    """(outcome, new map) for a storage-class transition of one version.

    A version's class only moves down S3's waterfall, so the later class wins: duplicated and
    reordered transitions land the same. A version deleted already (or a marker) is stale; one
    not recorded yet keeps the class for its create (a ``TRANSIT`` entry).
    """
    old = versions.get(version_id)
    if old is None or old.kind == TRANSIT:
        was = old.cls if old is not None else None
        if (
            old is not None
            and later_class(was, cls) == was
            and (old.time_ms or 0) >= (time_ms or 0)
        ):
            return DUPLICATE, versions
        at = max(old.time_ms or 0, time_ms or 0) if old is not None else time_ms
        # At the tombstone cap a pending transition is dropped first: a transition redelivered
        # after its version's tombstone was dropped writes nothing.
        entry = Entry(TRANSIT, None, None, 0, at or None, cls=later_class(was, cls))
        return _added(versions, version_id, entry)
    if old.kind != OBJECT or not _same_content(
        replace(old, time_ms=time_ms), version_id, old.time_ms
    ):
        return STALE, versions
    moved = later_class(old.cls, cls)
    if moved == old.cls:
        return DUPLICATE, versions
    return APPLIED, {**versions, version_id: replace(old, cls=moved)}


def class_figures(versions: dict[str, Entry]) -> dict[str, tuple[int, ...]]:
    """Per storage class other than STANDARD, the key's CLASS_FIGURES (STANDARD's follow from
    the totals: what the other classes do not hold)."""
    vid, _ = current(versions)
    out: dict[str, list[int]] = {}
    for version_id, entry in versions.items():
        if entry.kind != OBJECT or entry.cls in (None, STANDARD):
            continue
        figures = out.setdefault(entry.cls, [0] * len(CLASS_FIGURES))
        if version_id == vid:
            figures[0] += entry.size
            figures[2] += 1
        else:
            figures[1] += entry.size
            figures[3] += 1
        if entry.cls in MIN_SIZE_CLASSES:
            figures[4] += max(MIN_BILLABLE_SIZE - entry.size, 0)
    return {c: tuple(f) for c, f in out.items()}


def dropped_floor(versions: dict[str, Entry]) -> str:
    """The newest sequencer among the key's dropped tombstones ("" when none was dropped)."""
    entry = versions.get(DROPPED)
    return "" if entry is None else entry.seq or ""


def _capped(versions: dict[str, Entry]) -> dict[str, Entry]:
    if len(versions) <= _UNDER_EITHER_CAP:
        return versions
    gone = [(e.seq or "", vid) for vid, e in versions.items() if e.kind not in LIVE]
    gone = [(seq, vid) for seq, vid in gone if vid != DROPPED]
    live = [(order(e), vid) for vid, e in versions.items() if e.kind in LIVE]
    if len(gone) <= MAX_TOMBSTONES and len(live) <= MAX_LIVE:
        return versions
    dropped = sorted(gone)[: max(0, len(gone) - MAX_TOMBSTONES)]
    drop = {vid for _, vid in dropped}
    drop |= {vid for _, vid in sorted(live, key=lambda t: t[0])[: max(0, len(live) - MAX_LIVE)]}
    kept = {vid: e for vid, e in versions.items() if vid not in drop}
    tombstones = [(seq, vid) for seq, vid in dropped if versions[vid].kind == GONE]
    if tombstones:  # a transition ahead of its create, dropped, was no version: no floor
        # A tombstone known from listings alone, which no record has named since, has no
        # sequencer: the newest the key has is the best bound known (docs/tracking.md names
        # the corner where it is not one).
        known = all(seq for seq, _ in tombstones)
        newest = max(tombstones)[0] if known else _newest_seq(versions)
        kept[DROPPED] = Entry(GONE, max(dropped_floor(versions), newest), None, 0)
    return kept


def _newest_seq(versions: dict[str, Entry]) -> str:
    return max((e.seq for e in versions.values() if e.seq is not None), default="")


def from_listing(
    stored: dict[str, Entry],
    listed: list[tuple],
    recent_ms: int | None = None,
) -> dict[str, Entry]:
    """The key's map after a listing showed ``listed``: (version id, kind, size[, storage
    class]), newest first.

    The merge rule (docs/tracking.md, "A baseline while the bucket is written"): S3 lists
    strongly consistently, so a change made before the listing page was asked for shows in it.
    ``recent_ms`` is the earliest event time at which a recorded change may be one the page did
    not see (the page's time less a margin, and never before the route that delivered it); None
    means the bucket was quiet, and the listing is the newer word on everything.

    - A recorded change from before ``recent_ms`` is older than the listing: the listing wins.
    - A recent one may be newer: it stands. If it is older after all, the record of what the
      listing shows is still on its way (the route was in place) and will be applied over it.
    - A version id other than "null" is created once and deleted once: a recorded deletion
      always stands, and a listed version keeps its recorded sequencer, so that the records
      applied before stay duplicates.
    Listed versions take the listing's rank (newest highest); live versions the listing does
    not show are gone, unless recently recorded.
    """
    new: dict[str, Entry] = {}
    for index, (vid, kind, size, *shown) in enumerate(listed):
        old = stored.get(vid)
        rank = len(listed) - index
        listed_class = shown[0] if shown and kind == OBJECT else None
        listed_entry = Entry(kind, None, rank, size if kind == OBJECT else 0, cls=listed_class)
        if old is not None and old.kind == TRANSIT:
            # A transition recorded ahead of its create: the later class stands.
            new[vid] = replace(listed_entry, cls=later_class(listed_class, old.cls))
            continue
        if old is not None and old.kind == OBJECT and vid != NULL_VERSION and shown:
            # One version's class only moves down the waterfall: a transition recorded since
            # the page stands over the class it listed.
            listed_entry = replace(listed_entry, cls=later_class(listed_class, old.cls))
        elif old is not None and old.kind == OBJECT and not shown:
            listed_entry = replace(listed_entry, cls=old.cls)  # a listing that shows none
        if old is None:
            new[vid] = listed_entry
        elif old.seq is None:  # known from a listing before
            new[vid] = replace(listed_entry, floor=old.floor)
        elif vid != NULL_VERSION:
            # Created once, deleted once: a recorded deletion stands; a listed version's
            # content is the one its records made, so their sequencer stays and orders it.
            new[vid] = old if old.kind == GONE else replace(listed_entry, seq=old.seq)
        elif _recent(old, recent_ms):
            new[vid] = old  # the "null" version may have been rewritten since the page
        else:
            new[vid] = replace(listed_entry, floor=old.seq)
    for vid, old in stored.items():
        if vid in new:
            continue
        if old.kind == TRANSIT:
            if _recent(old, recent_ms):
                new[vid] = old  # its version may be created after the page passed
            continue
        if old.kind == GONE or (old.seq is not None and _recent(old, recent_ms)):
            new[vid] = old
        else:
            new[vid] = Entry(GONE, old.seq if old.seq is not None else old.floor, None, 0)
    return _capped(new)


def _recent(entry: Entry, recent_ms: int | None) -> bool:
    return recent_ms is not None and entry.time_ms is not None and entry.time_ms >= recent_ms
