"""GetObject and HeadObject with partNumber, as S3 answers them.

- A part of a multipart object comes back as S3 sends it: 206 with that part's bytes, its
  Content-Length and Content-Range, the whole object's ETag and x-amz-mp-parts-count. moto sent
  the whole object on GET (200), and the part's own ETag and size on HEAD, so a client that reads
  a large object part by part got the wrong bytes and sizes.
- The parts are those the completion named, in its order (moto keeps every uploaded part,
  including any the completion left out), so the parts' sizes add up to the object's size.
- GetObjectAttributes answers ObjectParts (moto left it out): the parts count and a page of the
  parts' numbers and sizes after x-amz-part-number-marker, at most x-amz-max-parts of them.
- A part number the object does not have is refused with 400 InvalidPart, as S3 does; part 1 of
  an object uploaded in one piece is the whole object.
"""

from __future__ import annotations

from contextlib import contextmanager

from .hooks import PatchSet, Target

_MODELS = "moto.s3.models"
_RESPONSES = "moto.s3.responses"
_COMPLETED = "_s3sizer_completed_parts"

TARGETS = {
    "complete": Target("the parts a completion named, remembered for partNumber reads", _MODELS,
                       "FakeMultipart", "complete", ("self", "body")),
    "get_response": Target("GET of one part of a multipart object", _RESPONSES, "S3Response",
                           "get_object", ("self",)),
    "attributes": Target("GetObjectAttributes' ObjectParts", _RESPONSES, "S3Response",
                         "get_object_attributes", ("self",)),
    "head_object": Target("HEAD of one part of a multipart object", _RESPONSES, "S3Response",
                          "head_object", ("self", "bucket_name", "query", "key_name", "headers")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["complete"], _complete)
    patches.replace(TARGETS["get_response"], _get_object_response)
    patches.replace(TARGETS["head_object"], _head_object)
    patches.replace(TARGETS["attributes"], _get_object_attributes)


def _complete(original):
    def complete(self, body):
        named = list(body)  # moto reads an iterator; the part numbers are needed afterwards too
        result = original(self, iter(named))
        setattr(self, _COMPLETED, [int(number) for number, _etag in named])
        return result

    return complete


def _part_number(query) -> int | None:
    from moto.s3.exceptions import S3ClientError

    value = (query.get("partNumber") or [None])[0]
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000:
        raise S3ClientError(
            "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"
        )
    return number


def _part_range(key, number: int) -> tuple[int, int, int] | None:
    """(first byte, last byte, parts count) of part `number`; None if uploaded in one piece."""
    from moto.s3.exceptions import S3ClientError

    multipart = getattr(key, "multipart", None)
    if multipart is None:
        if number != 1:
            raise S3ClientError("InvalidPart", f"The object has no part {number}")
        return None
    numbers = _completed_parts(multipart)
    if number > len(numbers):
        raise S3ClientError(
            "InvalidPart", f"The object has {len(numbers)} parts; there is no part {number}"
        )
    sizes = [multipart.parts[part].size for part in numbers]
    first = sum(sizes[: number - 1])
    return first, first + sizes[number - 1] - 1, len(numbers)


@contextmanager
def _without_part_number(response):
    """moto reads partNumber from the request's query; hide it so it serves the whole object."""
    saved = response.querystring
    response.querystring = {k: v for k, v in saved.items() if k != "partNumber"}
    try:
        yield
    finally:
        response.querystring = saved


def _as_part(status, headers, body, key, number: int, total: int):
    span = _part_range(key, number)
    headers = {
        k: v for k, v in headers.items() if k.lower() not in ("content-length", "content-range")
    }
    if span is None:
        first, last, count = 0, total - 1, None
    else:
        first, last, count = span
        headers["x-amz-mp-parts-count"] = str(count)
    headers["content-range"] = f"bytes {first}-{last}/{total}" if total else "bytes */0"
    headers["content-length"] = str(last - first + 1)
    if body:
        body = body[first : last + 1]
    return 206, headers, body


def _whole_key(backend, bucket_name: str, key_name: str, query):
    version_id = (query.get("versionId") or [None])[0]
    return backend.get_object(bucket_name, key_name, version_id)


def _get_object_response(original):
    def get_object(self):
        number = _part_number(self.querystring)
        if number is None:
            return original(self)
        with _without_part_number(self):
            status, headers, body = original(self)
        if status != 200:
            return status, headers, body
        key = _whole_key(self.backend, self.bucket_name, self.parse_key_name(), self.querystring)
        if key is None:
            return status, headers, body
        return _as_part(status, headers, body, key, number, key.size)

    return get_object


def _head_object(original):
    def head_object(self, bucket_name, query, key_name, headers):
        number = _part_number(query)
        if number is None:
            return original(self, bucket_name, query, key_name, headers)
        whole_query = {k: v for k, v in query.items() if k != "partNumber"}
        status, response_headers, body = original(self, bucket_name, whole_query, key_name, headers)
        if status != 200:
            return status, response_headers, body
        key = _whole_key(self.backend, bucket_name, key_name, whole_query)
        if key is None:
            return status, response_headers, body
        return _as_part(status, response_headers, body, key, number, key.size)

    return head_object


def _completed_parts(multipart) -> list[int]:
    return getattr(multipart, _COMPLETED, None) or list(multipart.partlist)


def _object_parts_xml(response, key) -> str:
    from moto.s3.exceptions import S3ClientError

    numbers = _completed_parts(key.multipart)
    try:
        marker = int(response.headers.get("x-amz-part-number-marker") or 0)
        max_parts = int(response.headers.get("x-amz-max-parts") or 1000)
    except ValueError:
        raise S3ClientError(
            "InvalidArgument", "x-amz-part-number-marker and x-amz-max-parts must be integers"
        ) from None
    after = [number for number in numbers if number > marker]
    page, truncated = after[:max_parts], len(after) > max_parts
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><Size>{key.multipart.parts[n].size}</Size></Part>"
        for n in page
    )
    following = f"<NextPartNumberMarker>{page[-1]}</NextPartNumberMarker>" if page else ""
    return (
        f"<ObjectParts><PartsCount>{len(numbers)}</PartsCount>"
        f"<PartNumberMarker>{marker}</PartNumberMarker>{following}"
        f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{str(truncated).lower()}</IsTruncated>"
        f"{parts}</ObjectParts>"
    )


def _get_object_attributes(original):
    def get_object_attributes(self):
        status, headers, body = original(self)
        wanted = self.headers.get("x-amz-object-attributes", "").split(",")
        if status != 200 or "ObjectParts" not in [name.strip() for name in wanted]:
            return status, headers, body
        key, _ = self._get_key(validate_storage_class=False)
        if getattr(key, "multipart", None) is None:
            return status, headers, body  # S3 names parts only of multipart objects
        text = body.decode() if isinstance(body, bytes) else body
        closing = text.rindex("</")
        text = text[:closing] + _object_parts_xml(self, key) + text[closing:]
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_object_attributes
