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

from dataclasses import dataclass

OBJECT, MARKER, GONE = "P", "M", "X"  # a version present, a delete marker, permanently deleted
NULL_VERSION = "null"
APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"

# A tombstone (a permanently deleted version) makes a create of that version delivered after
# its delete stale. Only the newest tombstones are kept, so that a key's item stays small;
# see docs/tracking.md for why the cap does not cost exactness in practice.
MAX_TOMBSTONES = 32
# Live versions (objects and markers) beyond this count are forgotten, oldest first: a key item
# must stay well under DynamoDB's 400 KB. Only deleting all the newer ones would then need them.
MAX_LIVE = 1000


@dataclass(frozen=True)
class Entry:
    kind: str  # OBJECT, MARKER or GONE
    seq: str | None  # normalised sequencer of the last record applied; None: known from a listing
    rank: int | None = None  # position in the last listing (newest highest); None: from a record
    size: int = 0


def normalise(sequencer: str) -> str:
    """A sequencer in a form where plain string order is AWS's order.

    AWS compares sequencers by right-padding the shorter with zeros. '0' is the smallest hex
    digit, so dropping trailing zeros and comparing strings gives the same answer.
    """
    return sequencer.upper().rstrip("0")


def order(entry: Entry) -> tuple[int, int | str]:
    return (1, entry.rank) if entry.rank is not None else (2, entry.seq or "")


def current(versions: dict[str, Entry]) -> tuple[str | None, Entry | None]:
    """The current version of the key (object or marker), or (None, None) when there is none."""
    live = [(order(e), vid, e) for vid, e in versions.items() if e.kind != GONE]
    if not live:
        return None, None
    _, vid, entry = max(live, key=lambda t: t[0])
    return vid, entry


def visible_size(versions: dict[str, Entry]) -> int | None:
    """The size a listing shows for the key, or None when the listing does not show it."""
    _, entry = current(versions)
    return entry.size if entry is not None and entry.kind == OBJECT else None


def apply(versions: dict[str, Entry], version_id: str, kind: str, seq: str, size: int):
    """(outcome, new map) for one record; the map is returned unchanged unless "applied"."""
    old = versions.get(version_id)
    if old is not None and old.seq is not None:
        if seq == old.seq:
            return DUPLICATE, versions
        if seq < old.seq:
            return STALE, versions
    # Known from a listing only. A version id other than "null" is created exactly once, so a
    # record creating it is older than the listing that already showed it; a delete replaces a
    # live entry and repeats a gone one.
    elif old is not None and version_id != NULL_VERSION and (kind != GONE or old.kind == GONE):
        return DUPLICATE, versions
    new = dict(versions)
    new[version_id] = Entry(kind, seq, None, size if kind == OBJECT else 0)
    return APPLIED, _capped(new)


def _capped(versions: dict[str, Entry]) -> dict[str, Entry]:
    gone = [(e.seq or "", vid) for vid, e in versions.items() if e.kind == GONE]
    live = [(order(e), vid) for vid, e in versions.items() if e.kind != GONE]
    if len(gone) <= MAX_TOMBSTONES and len(live) <= MAX_LIVE:
        return versions
    drop = [vid for _, vid in sorted(gone)[: max(0, len(gone) - MAX_TOMBSTONES)]]
    drop += [vid for _, vid in sorted(live, key=lambda t: t[0])[: max(0, len(live) - MAX_LIVE)]]
    return {vid: e for vid, e in versions.items() if vid not in drop}


def from_listing(stored: dict[str, Entry], listed: list[tuple[str, str, int]]) -> dict[str, Entry]:
    """The key's map after a listing showed ``listed``: (version id, kind, size), newest first.

    Listed versions take the listing's rank and keep the sequencer recorded for them, so that
    records applied before stay duplicates (and older ones stale), even when the listing shows a
    "null" version that a lost record had overwritten. Live versions the listing no longer shows
    became gone; tombstones are kept.
    """
    new: dict[str, Entry] = {}
    for index, (vid, kind, size) in enumerate(listed):
        old = stored.get(vid)
        seq = old.seq if old is not None else None
        new[vid] = Entry(kind, seq, len(listed) - index, size if kind == OBJECT else 0)
    for vid, old in stored.items():
        if vid not in new:
            new[vid] = old if old.kind == GONE else Entry(GONE, old.seq, None, 0)
    return _capped(new)
