"""The bucket's listing for a baseline, as S3 gives it: each range by S3's paginators,
ListObjectsV2 or, where versions matter, ListObjectVersions, whose raw answer gives back the order
in which S3 interleaves each key's versions and delete markers (botocore parses them into two
lists). The top level's range lists with ``Delimiter="/"``, and its common prefixes are the other
ranges."""

from __future__ import annotations

import queue
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from s3sizer.lambdas.baseline_keys import Span, holds_none, listed_from, stretches
from s3sizer.lambdas.listing import ListedVersion

PAGE_SIZE = 1000  # S3's largest page
# How long a stopped range waits for a page it asked for before giving it up (listed again by
# the same command run again): AWS answers a page in well under a second.
WAIT_AFTER_STOP_SECONDS = 10.0
_ORDER = "_S3sizerOrder"
_LISTED_AT = "_S3sizerListedAt"
_KEEP = "_S3sizerKeep"


def remember_order(http_response, parsed, model, **_) -> None:
    """botocore hook: keep the answer's Date, and the order of Version and DeleteMarker
    elements, which S3 interleaves newest first within a key."""
    date = http_response.headers.get("Date")
    if date:
        parsed[_LISTED_AT] = parsedate_to_datetime(date).timestamp()
    if model.name == "ListObjectVersions" and http_response.content:
        root = ET.fromstring(http_response.content)
        parsed[_ORDER] = [
            child.tag.rsplit("}", 1)[-1] == "DeleteMarker"
            for child in root
            if child.tag.rsplit("}", 1)[-1] in ("Version", "DeleteMarker")
        ]


def listing_client(aws):
    s3 = aws.client("s3")
    for name in ("ListObjectVersions", "ListObjectsV2"):
        s3.meta.events.register(
            f"after-call.s3.{name}", remember_order, unique_id=f"s3sizer-order-{name}"
        )
    return s3


def list_span(
    s3,
    bucket: str,
    versioned: bool,
    span: Span,
    after: str | None,
    on_page=None,
    before_page=None,
    on_prefixes=None,
    first: dict | None = None,
    stop_here=None,
) -> Iterator[ListedVersion]:
    """The span's listing, in S3's order, from after ``after``; ``on_page(entries, objects,
    listed_at)`` per page read (its versions and markers, and of them the current objects),
    ``before_page()`` before each request (it may raise, so that no page is read in vain),
    ``on_prefixes(prefixes)`` with a direct span's page's common prefixes, before its entries.
    ``first``: the span's first page, read already (first_page), of a span with no skip.

    ``before_page`` comes before each request, not before each page: after a stop, a first page
    read already to decide a split is still merged, and a range whose last page was read still
    ends (its listing's end costs no request), so the same command run again lists neither."""
    pages = _span_pages(s3, bucket, versioned, span, after, first, before_page)
    for page in _read_ahead(pages, versioned, stop_here):
        if on_prefixes is not None and page.prefixes:
            on_prefixes(page.prefixes)
        if on_page is not None:
            objects = sum(1 for e in page.entries if e.is_latest and not e.delete_marker)
            on_page(len(page.entries), objects, page.listed_at)
        yield from page.entries


def first_page(s3, bucket: str, versioned: bool, span: Span) -> dict:
    """The span's first page, as its listing reads it."""
    name = "list_object_versions" if versioned else "list_objects_v2"
    return getattr(s3, name)(Bucket=bucket, **_request(span), MaxKeys=PAGE_SIZE)


def _request(span: Span) -> dict:
    return {"Prefix": span.prefix, **({"Delimiter": "/"} if span.direct else {})}


def _span_pages(
    s3,
    bucket: str,
    versioned: bool,
    span: Span,
    after: str | None,
    first: dict | None = None,
    before_request=None,
) -> Iterator[dict]:
    """The span's raw pages from after ``after``, ``before_request()`` before each request. A
    span that leaves stretches of its keys to other ranges (``span.skip``) is listed stretch by
    stretch, each from its start to where the next skipped stretch begins; a page's keys from
    there on are marked to be dropped."""
    ask = before_request or (lambda: None)
    base = {"Bucket": bucket, **_request(span)}
    name, marker = (
        ("list_object_versions", "KeyMarker") if versioned else ("list_objects_v2", "StartAfter")
    )
    paginator = s3.get_paginator(name)
    if first is not None:  # read already: the listing goes on where it ends
        yield first
        if not first.get("IsTruncated"):
            return
        after = None
        if versioned:
            base.update(KeyMarker=first["NextKeyMarker"])
            base.update(VersionIdMarker=first["NextVersionIdMarker"])
        else:
            base.update(ContinuationToken=first["NextContinuationToken"])
    if not span.skip:
        yield from _asked(paginator.paginate(
            **base, **({marker: after} if after is not None else {}),
            PaginationConfig={"PageSize": PAGE_SIZE},
        ), ask)  # fmt: skip
        return
    for (low, high), skipped in zip(stretches(span), (None, *span.skip), strict=True):
        if holds_none(low, high) or (after is not None and high is not None and after >= high):
            continue
        start = after if after is not None and after >= low else None
        if start is None and skipped is not None:
            start = listed_from(skipped) or low
        since = {marker: start} if start is not None else {}
        # One name first: a stretch left empty between two skipped ones costs a request, not a
        # page of the next one's keys.
        ask()
        opening = _names(getattr(s3, name)(**base, **since, MaxKeys=1))
        if not opening or (high is not None and opening[0] >= high):
            continue
        pages = paginator.paginate(**base, **since, PaginationConfig={"PageSize": PAGE_SIZE})
        for raw in _asked(pages, ask):
            names = _names(raw)
            raw[_KEEP] = (high, span.skip)
            yield raw
            if names and high is not None and names[-1] >= high:
                break


def _asked(pages, ask) -> Iterator[dict]:
    """A paginator's pages, ``ask()`` before each that costs a request: the first, and each
    after a truncated page (after the last, the paginator ends without one)."""
    pages = iter(pages)
    truncated = True
    while True:
        if truncated:
            ask()
        raw = next(pages, None)
        if raw is None:
            return
        truncated = bool(raw.get("IsTruncated"))
        yield raw


def _kept(name: str, high: str | None, skip: tuple[str, ...]) -> bool:
    return (high is None or name < high) and not any(name.startswith(s) for s in skip)


def _names(raw: dict) -> list[str]:
    """Every key and common prefix a raw page names, in order."""
    keys = [
        item["Key"]
        for part in ("Contents", "Versions", "DeleteMarkers")
        for item in raw.get(part, [])
    ]
    return sorted(keys + [p["Prefix"] for p in raw.get("CommonPrefixes", [])])


@dataclass
class _Page:
    entries: list[ListedVersion]
    prefixes: list[str]
    listed_at: float


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def _read_ahead(pages: Iterator[dict], versioned: bool, stop_here=None) -> Iterator[_Page]:
    """The pages in order, each requested while the one before is merged: a range's time is
    then the longer of its listing and its merge, not their sum (a flat bucket is one range).

    ``pages`` call ``before_page()`` before each request (_span_pages); what it raises comes
    after the pages already read, so that every page read is merged and none is listed again by
    a resumed run. A stop waits for a page already requested, and merges it: a Ctrl-C that
    came while each of 16 ranges waited for a page would otherwise leave 16 pages for the
    same command to list again (a second Ctrl-C stops at once). ``stop_here()`` raises once
    the run is stopped: after WAIT_AFTER_STOP_SECONDS the page is given up, so that a stalled
    request does not hold a Ctrl-C for botocore's timeouts and retries (minutes).
    """
    ready: queue.Queue = queue.Queue()
    # One page requested or waiting while one is merged: a range holds two pages at most.
    slot = threading.Semaphore(1)
    closed = threading.Event()

    def take_slot() -> bool:
        while not closed.is_set():
            if slot.acquire(timeout=0.1):
                return True
        return False

    def read() -> None:
        try:
            while take_slot():
                raw = next(pages, None)
                if raw is None:
                    ready.put(_END)
                    return
                listed_at = raw.get(_LISTED_AT, 0.0)
                # Where the next range's stretch begins, and the stretches other ranges hold
                keep = raw.pop(_KEEP, None)
                prefixes = [p["Prefix"] for p in raw.pop("CommonPrefixes", [])]
                entries = list(_page_entries(raw, versioned, listed_at))
                if keep is not None:
                    prefixes = [p for p in prefixes if _kept(p, *keep)]
                    entries = [e for e in entries if _kept(e.key, *keep)]
                for name in ("Contents", "Versions", "DeleteMarkers"):
                    raw.pop(name, None)  # the paginator holds the page: free what entries took
                ready.put(_Page(entries, prefixes, listed_at))
        except BaseException as error:  # handed to the merge, in its place among the pages
            ready.put(_Failed(error))

    reader = threading.Thread(target=read, name="baseline-listing", daemon=True)
    reader.start()
    try:
        stopped_at = None
        while True:
            try:
                item = ready.get(timeout=0.1)
            except queue.Empty:
                try:
                    if stop_here is not None:
                        stop_here()
                except BaseException:
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at >= WAIT_AFTER_STOP_SECONDS:
                        raise
                continue
            slot.release()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        closed.set()  # the merge stopped: the reader requests nothing more


def _page_entries(page: dict, versioned: bool, listed_at: float) -> Iterator[ListedVersion]:
    if not versioned:
        for item in page.get("Contents", []):
            yield ListedVersion(
                item["Key"], None, item["Size"], True, False, listed_at, _class_of(item)
            )
        return
    versions = iter(page.get("Versions", []))
    markers = iter(page.get("DeleteMarkers", []))
    order = page.get(_ORDER)
    if order is None:  # no raw answer to read the order from: newest first by time, per key
        merged = sorted(
            [(item, False) for item in page.get("Versions", [])]
            + [(item, True) for item in page.get("DeleteMarkers", [])],
            key=lambda e: (e[0]["Key"], not e[0]["IsLatest"], -e[0]["LastModified"].timestamp()),
        )
    else:
        merged = [(next(markers) if m else next(versions), m) for m in order]
        # S3's answer is in key order already, each key's current entry first; a stable sort
        # keeps each key's own order, and groups the keys of a server that lists every version
        # before every marker (moto), putting the one it marks latest first, as S3 does.
        merged.sort(key=lambda entry: (entry[0]["Key"], not entry[0]["IsLatest"]))
    for item, is_marker in merged:
        yield ListedVersion(
            item["Key"],
            item.get("VersionId") or "null",  # S3 names it; None means ListObjectsV2's entry
            item.get("Size", 0),
            item["IsLatest"],
            is_marker,
            listed_at,
            None if is_marker else _class_of(item),
        )


def _class_of(item: dict) -> str:
    # S3 names every listed object's class; STANDARD when a server leaves it out.
    return item.get("StorageClass") or "STANDARD"
