"""What a baseline merges: a span of the bucket's keys, its listing grouped by key, and its
recorded key items read in the same key order, so that memory holds one chunk, not the bucket."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import layout as lay
from . import versions as v
from .listing import ListedVersion


@dataclass(frozen=True)
class Span:
    """The keys one range covers: those under ``prefix``; with ``direct``, only those with no
    further "/" (the bucket's top level, whose sub-prefixes are ranges of their own)."""

    prefix: str = ""
    direct: bool = False
    # The stretches of its keys a span leaves to ranges of their own, each named by the
    # characters its keys start with (baseline_split.py): a level listed side by side.
    skip: tuple[str, ...] = ()

    def holds(self, key: str) -> bool:
        return (
            key.startswith(self.prefix)
            and not (self.direct and "/" in key[len(self.prefix) :])
            and not any(key.startswith(skipped) for skipped in self.skip)
        )

    def sub_prefix(self, key: str) -> str | None:
        """The sub-prefix of a direct span that holds ``key`` (a range of its own), or None."""
        if not self.direct or not key.startswith(self.prefix):
            return None
        head, slash, _ = key[len(self.prefix) :].partition("/")
        return self.prefix + head + slash if slash else None


def group_listing(listing: Iterable[ListedVersion]) -> Iterator[tuple[str, list, float]]:
    """(key, [(version id, kind, size, storage class), ...] newest first, listed_at) per key,
    in key order.

    A key's versions may go on in the next page, so a versioned key is whole once the listing
    has passed it; ListObjectsV2 lists a key once (no version id), so such a key goes at once:
    a run stopped after a page then merges the page's last key too, and a run again does not
    list it again."""
    entries: list[ListedVersion] = []
    for lv in listing:
        if entries and lv.key != entries[0].key:
            yield _grouped(entries)
            entries = []
        entries.append(lv)
        if lv.version_id is None:
            yield _grouped(entries)
            entries = []
    if entries:
        yield _grouped(entries)


def _grouped(entries: list[ListedVersion]) -> tuple[str, list, float]:
    listed = [
        (
            lv.version_id or v.NULL_VERSION,
            v.MARKER if lv.delete_marker else v.OBJECT,
            lv.size,
            getattr(lv, "storage_class", None),
        )
        for lv in entries
    ]
    return entries[0].key, listed, min(getattr(lv, "listed_at", 0.0) for lv in entries)


def stored_keys(
    h,
    bucket: str,
    span: Span,
    after: str | None = None,
    long_items: list | None = None,
    before_read: Callable[[], None] = lambda: None,
    partitions: list[str] | None = None,
    on_prefix: Callable[[str], None] = lambda prefix: None,
) -> Iterator[lay.KeyState]:
    """The recorded keys of the span, as their states, in key order, after ``after`` (a resumed
    cursor).

    Each of the 16 key partitions is queried in sort-key order (keys up to 800 bytes are their
    sort keys) over the span's own stretch of keys only, and the streams are merged; the few
    longer keys, addressed by hash, are read apart (``long_items``, once per run) and merged in.
    ``before_read()`` runs before each query, and may raise to stop the reading.
    ``partitions``: the only key partitions that may hold the span's items (None: all 16).
    ``on_prefix(p)``: a direct span's reading met recorded keys under its sub-prefix ``p``
    (called for each such key it reads; a key whose object is gone still needs its range).
    """
    if long_items is None:
        long_items = read_long_items(h, bucket)
    if partitions is None:
        partitions = lay.key_partitions(bucket)
    streams = [_shard_items(h, pk, span, after, before_read, on_prefix) for pk in partitions]
    streams.append(_long_states(long_items, span, after, on_prefix))
    return heapq.merge(*streams, key=lambda state: state.key)


def partitions_holding_keys(h, bucket: str) -> list[str]:
    """The bucket's key partitions that hold at least one key item now (one item read each).

    Only a quiet baseline may rely on it: nothing else writes key items meanwhile, and each of
    its ranges writes only the keys it has already read past.
    """
    every = {":a": {"S": "K#"}, ":b": {"S": "K$"}}  # "$" sorts after "#": every key item
    return [
        pk
        for pk in lay.key_partitions(bucket)
        if next(iter(h._query(pk, "sk BETWEEN :a AND :b", every, page_items=1)), None) is not None
    ]


def read_long_items(h, bucket: str) -> list[dict]:
    """The key items of keys over 800 bytes, in key order (S3 allows them; few buckets have
    many)."""
    found = (
        item
        for pk in lay.key_partitions(bucket)
        for item in h._query(pk, "begins_with(sk, :l)", {":l": {"S": "LK#"}})
    )
    return sorted(found, key=lambda item: item["key"]["S"])


# A range reads its 16 key partitions side by side: pages of this many items keep what each
# worker holds small (16 pages), and spread each Query's round trip over enough items. Measured
# on the emulator: at 40, reconcile of 30,000 keys made 1,238 Queries and took a third of its
# time in them; at 100, its peak memory at 200,000 keys was 1.25x that at 20,000 (109 against
# 87 MiB); at 60, 1.13x (103 against 91 MiB), for 1.37x the time of `aws s3 ls` at 30,000
# against 1.25x. DynamoDB bills each Query the bytes it read rounded up to 4 KB: a page of 60
# key items is about two read units, a page of 4 one.
PAGE_ITEMS = 60
# The least a direct span's first page after a jump shrinks to (_shard_items).
SMALLEST_FIRST_PAGE = 4

# The largest character: a name followed by it sorts after every key that starts with the name
# and goes on with any other character.
PAST = "\U0010ffff"
MAX_KEY_BYTES = 1024  # S3's longest key, in UTF-8


def past_all(prefix: str) -> str | None:
    """The least name after every key that starts with ``prefix`` (None: no name is, as for
    the empty prefix): its last character that is not U+10FFFF, one higher."""
    head = prefix.rstrip(PAST)
    if not head:
        return None
    following = ord(head[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters of a key
        following = 0xE000
    return head[:-1] + chr(following)


def listed_from(skipped: str) -> str | None:
    """Where a listing of what follows the stretch ``skipped`` starts after (StartAfter and
    KeyMarker leave their own name out): the last name of S3's longest keys (1,024 bytes) under
    it, so that a key named ``past_all(skipped)`` is listed. None: the stretch is all U+10FFFF,
    and what follows it starts after it."""
    head = skipped.rstrip(PAST)
    if not head:
        return None
    return head + PAST * max(0, (MAX_KEY_BYTES - len(head.encode())) // len(PAST.encode()))


def stretches(span: Span) -> list[tuple[str, str | None]]:
    """[low, high) stretches of keys the span's recorded keys lie in (high None: no end). One
    may hold no name at all (``holds_none``): between skipped `obj-00000` and `obj-00001`."""
    out, low = [], span.prefix
    for skipped in span.skip:
        out.append((low, skipped))
        low = past_all(skipped) or skipped + PAST  # what the stretch holds lies before
    out.append((low, past_all(span.prefix)))
    return out


def holds_none(low: str, high: str | None) -> bool:
    """Whether no name lies in [low, high): of a flat level split into numbered stretches,
    most stretches between two skipped ones, each spared a request (16 Queries of key items
    and a one-key listing)."""
    return high is not None and low >= high


def _long_states(long_items, span: Span, after, on_prefix) -> Iterator[lay.KeyState]:
    for item in long_items:
        key = item["key"]["S"]
        if after is not None and key <= after:
            continue
        if span.holds(key):
            yield lay.key_state_from(item)
        elif (sub := span.sub_prefix(key)) is not None:
            on_prefix(sub)


def _shard_items(
    h, pk: str, span: Span, after: str | None, before_read, on_prefix
) -> Iterator[lay.KeyState]:
    # A page that ends inside a folder of a direct span reads the folder's items only to pass
    # them. The next Query's first page is halved while one folder takes such a whole page (big
    # folders: at 30,000 keys in 18 folders, pages of 60 read 17,000 items only to pass them),
    # and doubled back when it does not (small folders, passed within a page: pages of 4 there
    # would cost a Query a folder, ten times the Queries at 1,000 folders of 100 keys).
    first = PAGE_ITEMS
    for low, high in stretches(span):
        if holds_none(low, high):
            continue
        jumped = None
        while True:
            before_read()
            if after is not None and high is not None and after >= high:
                break
            if after is not None and after >= low:
                low = after
            top = "K$" if high is None else "K#" + high  # "K$": after every key item
            if len(top.encode()) > lay.MAX_SORT_KEY_BYTES:
                top = "K$"
            bounds = {":a": {"S": _at_most_a_sort_key("K#" + low)}, ":b": {"S": top}}
            jump = None
            opening = first if span.direct else PAGE_ITEMS
            pages = h._query_pages(pk, "sk BETWEEN :a AND :b", bounds, PAGE_ITEMS, opening)
            for page_number, items in enumerate(pages):
                # States, not items: a range holds a page of each of its 16 partitions, and a
                # state takes a fraction of the memory of the item as parsed.
                limit = opening if page_number == 0 else PAGE_ITEMS
                states, last_sub, full = [], None, len(items) == limit
                passed = 0  # the page's last items, of the folder it ends in
                for item in items:
                    key = item["key"]["S"]
                    sub = span.sub_prefix(key)
                    passed = (passed + 1 if sub == last_sub else 1) if sub is not None else 0
                    last_sub = sub
                    if sub is not None:
                        on_prefix(sub)
                    elif _within(key, after, high, span):
                        states.append(lay.key_state_from(item))
                items.clear()
                yield from states
                # A direct span's keys lie between its sub-prefixes, whose own ranges read
                # theirs. A page that ends inside one reads on past it with the next Query
                # instead of through it; a small one is passed within a page, at no Query of
                # its own. (Not the same one twice: a key with U+10FFFF right after it sorts
                # beyond, and is passed page by page.)
                if full and last_sub is not None and last_sub != jumped:
                    jump = last_sub
                    if passed == limit:
                        first = max(SMALLEST_FIRST_PAGE, first // 2)
                    else:
                        first = min(PAGE_ITEMS, first * 2)
                    break
            if jump is None:
                break
            jumped, low = jump, jump + PAST


def _at_most_a_sort_key(bound: str) -> str:
    """A lower bound DynamoDB takes: a resumed cursor or a folder's name may make it longer than
    a sort key may be; its head sorts no later, and what it reads early ``_within`` drops."""
    raw = bound.encode()
    if len(raw) <= lay.MAX_SORT_KEY_BYTES:
        return bound
    return raw[: lay.MAX_SORT_KEY_BYTES].decode(errors="ignore")


def _within(key: str, after: str | None, high: str | None, span: Span) -> bool:
    return (after is None or key > after) and (high is None or key < high) and span.holds(key)
