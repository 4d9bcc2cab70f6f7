"""S3 listings as S3 writes them: ListObjectVersions and ListObjects (v1).

- ListObjectVersions interleaves each key's versions and delete markers newest first, as S3 does
  (moto writes every version before every marker), and never copies the objects it lists.
- Its pages continue after KeyMarker/VersionIdMarker even when that version has been deleted
  since: the position of each page's last version is remembered, and the next page starts after
  it. moto ended such a listing early, with IsTruncated false.
- With EncodingType=url (botocore always asks for it) keys, prefixes, markers, delimiters and
  CommonPrefixes are URL-encoded, so keys with control characters give XML a client can parse.
- ListObjects (v1) counts CommonPrefixes against MaxKeys, as S3 does; a MaxKeys that is not a
  number is refused with InvalidArgument (moto: 500).
- ListObjectsV2 (moto encodes its keys and prefixes) gets StartAfter and Delimiter encoded too,
  echoes the ContinuationToken and StartAfter it was asked with, and lists owners only for
  FetchOwner=true.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from urllib.parse import quote
from xml.sax.saxutils import escape, unescape

from ..wsgi import S3_WRITE_LOCK, service_lock
from . import s3_index
from .hooks import PatchSet, Target

_RESPONSES = "moto.s3.responses"
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"  # moto's
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
REMEMBERED_MARKERS = 10_000

TARGETS = {
    "list_versions": Target("ListObjectVersions as S3 orders, pages and encodes it", _RESPONSES,
                            "S3Response", "list_object_versions", ("self",)),
    "list_objects_v2": Target("ListObjectsV2 encodes, echoes its token and hides owners as S3", _RESPONSES,
                              "S3Response", "list_objects_v2", ("self",)),
    "list_objects": Target("ListObjects (v1) with MaxKeys and EncodingType as S3", _RESPONSES,
                           "S3Response", "list_objects", ("self",)),
}  # fmt: skip

# (bucket, key, version id) -> (key, newest-first position) of the last version of a page.
_page_ends: OrderedDict[tuple[str, str, str], object] = OrderedDict()


def install(patches: PatchSet) -> None:
    _page_ends.clear()
    patches.replace(TARGETS["list_versions"], lambda original: _list_object_versions)
    patches.replace(TARGETS["list_objects"], lambda original: _list_objects)
    patches.replace(TARGETS["list_objects_v2"], _list_objects_v2)


def _parameters(response) -> dict:
    def first(name: str):
        return response.querystring.get(name, [None])[0]

    # moto reads the prefix from the raw query string, so that '+' survives.
    raw = response._get_querystring(response.request, response.uri)
    prefix = raw.get("prefix", [None])[0]
    if isinstance(prefix, bytes):
        prefix = prefix.decode("utf-8")
    max_keys = _max_keys(first("max-keys"))
    return {
        "prefix": prefix, "delimiter": first("delimiter") or None,
        "max_keys": max_keys,
        "encoding": first("encoding-type"), "key_marker": first("key-marker") or None,
        "version_id_marker": first("version-id-marker") or None, "marker": first("marker") or None,
    }  # fmt: skip


def _max_keys(value: str | None) -> int:
    from moto.s3.exceptions import S3ClientError

    if value is None:
        return 1000
    try:
        return int(value)
    except ValueError:
        raise S3ClientError(
            "InvalidArgument", "Provided max-keys not an integer or within integer range"
        ) from None


def _text(value: str | None, encoding: str | None) -> str:
    if value is None:
        return ""
    return escape(quote(value, safe="/") if encoding == "url" else value)


def _element(name: str, value, encoding: str | None = None) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif not isinstance(value, str):
        value = str(value)
        encoding = None
    return f"<{name}>{_text(value, encoding)}</{name}>"


def _owner() -> str:
    return f"<Owner><ID>{OWNER_ID}</ID><DisplayName>webfile</DisplayName></Owner>"


def _common_prefix(name: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    at = name.find(delimiter, len(prefix))
    return None if at < 0 else name[: at + len(delimiter)]


# --- ListObjectVersions ---------------------------------------------------------------------


def _list_object_versions(self):
    p = _parameters(self)
    prefix, delimiter, encoding = p["prefix"] or "", p["delimiter"], p["encoding"]
    bucket = self.backend.get_bucket(self.bucket_name)
    with service_lock(S3_WRITE_LOCK):  # one consistent view of every key's versions
        entries, truncated, next_key, next_version = _version_page(
            bucket, prefix, delimiter, p["key_marker"], p["version_id_marker"], p["max_keys"]
        )
        body = [_version_xml(entry, encoding) for entry in entries]
    head = [
        _element("Name", bucket.name), _element("Prefix", prefix, encoding),
        _element("KeyMarker", p["key_marker"] or "", encoding),
        _element("VersionIdMarker", p["version_id_marker"] or ""),
    ]  # fmt: skip
    if truncated:
        head.append(_element("NextKeyMarker", next_key, encoding))
        if next_version is not None:
            head.append(_element("NextVersionIdMarker", next_version))
    head.append(_element("MaxKeys", p["max_keys"]))
    if delimiter:
        head.append(_element("Delimiter", delimiter, encoding))
    if encoding:
        head.append(_element("EncodingType", encoding))
    head.append(_element("IsTruncated", truncated))
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="{XMLNS}">'
        + "".join(head + body)
        + "</ListVersionsResult>"
    )
    return 200, {"Content-Type": "application/xml"}, xml


def _version_page(bucket, prefix, delimiter, key_marker, version_id_marker, max_keys):
    """Up to max_keys entries after the markers: ("version", key, is_latest) or ("prefix", p)."""
    entries: list[tuple] = []
    last_prefix = None
    names = s3_index.sorted_names(bucket.keys)
    for at in range(s3_index.first_at(names, max(prefix, key_marker or "")), len(names)):
        name = names[at]
        if not name.startswith(prefix):
            break
        common = _common_prefix(name, prefix, delimiter)
        if common is not None:
            if common == last_prefix or (key_marker is not None and common <= key_marker):
                continue
            last_prefix = common
            entries.append(("prefix", common))
        else:
            newest_first = list(reversed(bucket.keys.getlist(name, [])))
            start = 0
            if name == key_marker:
                start = _after_marker(bucket.name, name, version_id_marker, newest_first)
            entries += [("version", v, i == 0) for i, v in enumerate(newest_first) if i >= start]
        if len(entries) > max_keys:
            break
    if len(entries) <= max_keys or max_keys <= 0:
        return entries[: max(max_keys, 0)], False, None, None
    page = entries[:max_keys]
    last = page[-1]
    if last[0] == "prefix":
        return page, True, last[1], None
    version = last[1]
    _remember(bucket.name, version.name, str(version.version_id), version.last_modified)
    return page, True, version.name, str(version.version_id)


def _after_marker(bucket_name, name, version_id_marker, newest_first) -> int:
    """Where the page after (name, version_id_marker) starts among the key's versions."""
    if version_id_marker is None:
        return len(newest_first)  # KeyMarker alone: the listing starts after that key
    for index, version in enumerate(newest_first):
        if str(version.version_id) == version_id_marker:
            return index + 1
    # The version was deleted since that page: continue with the versions older than it.
    last_modified = _page_ends.get((bucket_name, name, version_id_marker))
    if last_modified is None:
        return len(newest_first)  # a marker this emulator never handed out: the next key
    return next(
        (i for i, v in enumerate(newest_first) if v.last_modified < last_modified),
        len(newest_first),
    )


def _remember(bucket_name: str, name: str, version_id: str, last_modified) -> None:
    _page_ends[(bucket_name, name, version_id)] = last_modified
    _page_ends.move_to_end((bucket_name, name, version_id))
    while len(_page_ends) > REMEMBERED_MARKERS:
        _page_ends.popitem(last=False)


def _version_xml(entry: tuple, encoding: str | None) -> str:
    from moto.s3.models import FakeKey

    if entry[0] == "prefix":
        return f"<CommonPrefixes>{_element('Prefix', entry[1], encoding)}</CommonPrefixes>"
    _, version, is_latest = entry
    common = [
        _element("Key", version.name, encoding),
        _element("VersionId", str(version.version_id)),
        _element("IsLatest", is_latest),
        _element("LastModified", version.last_modified_ISO8601),
    ]
    if not isinstance(version, FakeKey):  # a delete marker: no ETag, size or storage class
        return "<DeleteMarker>" + "".join(common) + _owner() + "</DeleteMarker>"
    details = [
        _element("ETag", version.etag),
        _element("Size", version.size),
        _element("StorageClass", version.storage_class),
    ]
    return "<Version>" + "".join(common + details) + _owner() + "</Version>"


# --- ListObjects (v1) -----------------------------------------------------------------------


def _list_objects(self):
    from moto.s3.models import FakeKey

    p = _parameters(self)
    prefix, delimiter, encoding, marker = p["prefix"], p["delimiter"], p["encoding"], p["marker"]
    max_keys = p["max_keys"]
    bucket = self.backend.get_bucket(self.bucket_name)
    with service_lock(S3_WRITE_LOCK):
        current = [(name, bucket.keys.get(name)) for name in sorted(bucket.keys)]
    entries: list[tuple[str, object]] = []
    last_prefix = None
    for name, key in current:
        if not name.startswith(prefix or "") or (marker is not None and name <= marker):
            continue
        if not isinstance(key, FakeKey):
            continue  # a delete marker is the current version: the key is not listed
        common = _common_prefix(name, prefix or "", delimiter)
        if common is not None:
            if common == last_prefix or (marker is not None and common <= marker):
                continue
            last_prefix = common
            entries.append((common, None))
        else:
            entries.append((name, key))
        if len(entries) > max_keys:
            break
    truncated = max_keys > 0 and len(entries) > max_keys
    page = entries[: max(max_keys, 0)]
    head = [_element("Name", bucket.name)]
    if prefix is not None:  # echoed as sent: botocore does not decode ListObjects' Prefix
        head.append(_element("Prefix", prefix))
    head.append(_element("Marker", marker or "", encoding))
    if truncated and delimiter:  # S3 sends NextMarker only with a delimiter
        head.append(_element("NextMarker", page[-1][0], encoding))
    head.append(_element("MaxKeys", max_keys))
    if delimiter:
        head.append(_element("Delimiter", delimiter, encoding))
    if encoding:
        head.append(_element("EncodingType", encoding))
    head.append(_element("IsTruncated", truncated))
    contents = [
        "<Contents>"
        + "".join([
            _element("Key", name, encoding), _element("LastModified", key.last_modified_ISO8601),
            _element("ETag", key.etag), _element("Size", key.size),
            _element("StorageClass", key.storage_class),
        ])
        + _owner() + "</Contents>"
        for name, key in page if key is not None
    ]  # fmt: skip
    prefixes = [
        f"<CommonPrefixes>{_element('Prefix', name, encoding)}</CommonPrefixes>"
        for name, key in page
        if key is None
    ]
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{XMLNS}">'
        + "".join(head + contents + prefixes)
        + "</ListBucketResult>"
    )
    return 200, {"Content-Type": "application/xml"}, xml


# --- ListObjectsV2 --------------------------------------------------------------------------


def _list_objects_v2(original):
    def list_objects_v2(self):
        # moto walks the bucket's keys as it pages: a write meanwhile changed them under it
        # (a KeyError, answered 500); S3 answers a listing whatever is written meanwhile.
        with service_lock(S3_WRITE_LOCK):
            status, headers, body = original(self)
        text = body.decode() if isinstance(body, bytes) else body
        first = lambda name: self.querystring.get(name, [None])[0]  # noqa: E731
        if first("encoding-type") == "url":
            for tag in ("StartAfter", "Delimiter"):
                text = re.sub(
                    f"<{tag}>(.*?)</{tag}>",
                    lambda m, tag=tag: f"<{tag}>{_text(unescape(m.group(1)), 'url')}</{tag}>",
                    text,
                    flags=re.DOTALL,
                )
        if (first("fetch-owner") or "").lower() != "true":
            # moto takes any FetchOwner value, "false" too, as true; S3 lists owners only if asked.
            text = re.sub(r"<Owner>.*?</Owner>", "", text, flags=re.DOTALL)
        start_after = first("start-after")
        if start_after and "<StartAfter>" not in text:
            # S3 echoes StartAfter on every page it was sent with; moto only without a token.
            echoed = _text(start_after, first("encoding-type"))
            text = text.replace("</Name>", f"</Name><StartAfter>{echoed}</StartAfter>", 1)
        token = first("continuation-token")
        if token is not None and "<ContinuationToken>" not in text:
            # S3 echoes the token a page was asked with; clients check it.
            text = text.replace(
                "</Name>", f"</Name><ContinuationToken>{escape(token)}</ContinuationToken>", 1
            )
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return list_objects_v2
