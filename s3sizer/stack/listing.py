"""The bucket's listing for a baseline, as S3 gives it: a few one-key listings to cut the key
space into ranges, then each range by ListObjectsV2 or, where versions matter,
ListObjectVersions, whose raw answer gives back the order in which S3 interleaves each key's
versions and delete markers (botocore parses them into two lists)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from s3sizer.lambdas.baseline_keys import PAST, Span, stretches
from s3sizer.lambdas.listing import ListedVersion

PAGE_SIZE = 1000  # S3's largest page
# Ranges a run cuts the key space into: twice the default workers, so that a worker that ends
# early takes another, and few enough that each range's fixed reads (16 key partitions) stay
# small beside its keys.
RANGES = 32
MAX_PROBES = 256  # one-key listings the cut may spend (a long shared key prefix: two a character)
MAX_PREFIX_CHARACTERS = 200
GAP_FIRST_PAGE = 1  # a gap between ranges is most often empty: its listing reads one key
_ORDER = "_S3sizerOrder"
_LISTED_AT = "_S3sizerListedAt"


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
    s3, bucket: str, versioned: bool, span: Span, after: str | None, on_page=None, before_page=None
) -> Iterator[ListedVersion]:
    """The span's listing, in S3's order, from after ``after``; ``on_page(n)`` per page read,
    ``before_page()`` before each request (it may raise, so that no page is read in vain)."""
    if span.direct:
        yield from _list_gaps(s3, bucket, versioned, span, after, on_page, before_page)
        return
    args = {"Bucket": bucket, "Prefix": span.prefix, "PaginationConfig": {"PageSize": PAGE_SIZE}}
    if versioned:
        if after is not None:
            args["KeyMarker"] = after
        pages = s3.get_paginator("list_object_versions").paginate(**args)
    else:
        if after is not None:
            args["StartAfter"] = after
        pages = s3.get_paginator("list_objects_v2").paginate(**args)
    pages = iter(pages)
    while True:
        if before_page is not None:
            before_page()
        page = next(pages, None)
        if page is None:
            return
        listed_at = page.get(_LISTED_AT, 0.0)
        entries = list(_page_entries(page, versioned, listed_at))
        for name in ("Contents", "Versions", "DeleteMarkers"):
            page.pop(name, None)  # the paginator holds the page: free what the entries took
        if on_page is not None:
            on_page(len(entries), listed_at)
        yield from entries


def _list_gaps(s3, bucket, versioned, span, after, on_page, before_page):
    """A direct span's keys, stretch by stretch: each from just past the prefix before it to
    the next prefix, in pages that start small and double (a gap is most often empty, and a
    page that runs on reads keys of the next range in vain)."""
    for low, high in stretches(span):
        start = max(low, after) if after is not None else low
        if start >= high:
            continue
        args: dict = {"Bucket": bucket}
        if start:
            args["KeyMarker" if versioned else "StartAfter"] = start
        size = GAP_FIRST_PAGE
        while True:
            if before_page is not None:
                before_page()
            page = (s3.list_object_versions if versioned else s3.list_objects_v2)(
                **args, MaxKeys=size
            )
            entries = list(_page_entries(page, versioned, page.get(_LISTED_AT, 0.0)))
            within = [entry for entry in entries if entry.key < high]
            if on_page is not None:
                on_page(len(within), page.get(_LISTED_AT, 0.0))
            yield from (entry for entry in within if span.holds(entry.key))
            if len(within) < len(entries) or not page.get("IsTruncated"):
                break
            if versioned:  # the next page goes on within a key's versions where this one ended
                args["KeyMarker"] = page["NextKeyMarker"]
                args["VersionIdMarker"] = page["NextVersionIdMarker"]
            else:
                args.pop("StartAfter", None)
                args["ContinuationToken"] = page["NextContinuationToken"]
            size = min(size * 2, PAGE_SIZE)


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
        # S3's answer is in key order already; a stable sort keeps each key's own order, and
        # groups the keys of a server that lists every version before every marker.
        merged.sort(key=lambda entry: entry[0]["Key"])
    for item, is_marker in merged:
        yield ListedVersion(
            item["Key"],
            item.get("VersionId"),
            item.get("Size", 0),
            item["IsLatest"],
            is_marker,
            listed_at,
            None if is_marker else _class_of(item),
        )


def _class_of(item: dict) -> str:
    # S3 names every listed object's class; STANDARD when a server leaves it out.
    return item.get("StorageClass") or "STANDARD"


def plan_spans(s3, bucket: str, versioned: bool, ranges: int | None = None) -> list[Span]:
    """A range per prefix where the bucket's keys branch, and one for the keys between them.

    Prefixes are split by the characters their keys go on with, breadth first, each found by a
    one-key listing that starts past the one before, until there are about ``ranges`` of them.
    Nothing is listed whole: a flat bucket of a million keys costs a few dozen such listings,
    as one of many top-level prefixes does. The last range holds every key under none of the
    prefixes (keys written since, of any name, too), so the ranges tile the key space."""
    ranges, probes = ranges or RANGES, [0]

    def first_key(prefix: str, marker: str | None) -> str | None:
        probes[0] += 1
        args: dict = {"Bucket": bucket, "MaxKeys": 1}
        if prefix:
            args["Prefix"] = prefix
        if versioned:
            if marker is not None:
                args["KeyMarker"] = marker
            page = s3.list_object_versions(**args)
            found = page.get("Versions", []) + page.get("DeleteMarkers", [])
        else:
            if marker:
                args["StartAfter"] = marker
            found = s3.list_objects_v2(**args).get("Contents", [])
        return min((item["Key"] for item in found), default=None)

    def branches(prefix: str) -> list[str]:
        out, marker = [], prefix or None  # a key equal to the prefix is no branch
        while probes[0] < MAX_PROBES:
            key = first_key(prefix, marker)
            if key is None:
                return out
            branch = key[: len(prefix) + 1]
            if not out or out[-1] != branch:
                out.append(branch)
            marker = max(branch + PAST, key)  # past every key of the branch
        return out

    prefixes, final = [""], set()
    while len(prefixes) < ranges and probes[0] < MAX_PROBES:
        count, split = len(prefixes), {}
        # Spread over the key space (the middle first, then the quarters...), so that when the
        # count is reached part way through a level, the splits are not all at its start.
        for index in _spread(len(prefixes)):
            prefix = prefixes[index]
            if count >= ranges or probes[0] >= MAX_PROBES:
                break
            if prefix in final or len(prefix) >= MAX_PREFIX_CHARACTERS:
                continue
            found = branches(prefix)
            if found:
                split[prefix] = found
                count += len(found) - 1
            else:
                final.add(prefix)
        if not split:
            break
        prefixes = [branch for prefix in prefixes for branch in split.get(prefix, [prefix])]
    if prefixes == [""]:
        return [Span("")]  # an empty bucket, or one key
    return [Span(p) for p in prefixes] + [Span("", direct=True, skip=tuple(prefixes))]


def _spread(count: int) -> list[int]:
    """0..count-1, each next index as far as can be from those before: 0, middle, quarters..."""
    order, spans = [], [(0, count)]
    while spans:
        low, high = spans.pop(0)
        if low >= high:
            continue
        middle = (low + high) // 2
        order.append(middle)
        spans += [(low, middle), (middle + 1, high)]
    return order
