"""GetObject and HeadObject with partNumber, as S3 answers them.

- A part of a multipart object comes back as S3 sends it: 206 with that part's bytes, its
  Content-Length and Content-Range, the whole object's ETag and x-amz-mp-parts-count. moto sent
  the whole object on GET (200), and the part's own ETag and size on HEAD, so a client that reads
  a large object part by part got the wrong bytes and sizes.
- The parts are those the completion named, in its order (moto keeps every uploaded part,
  including any the completion left out), so the parts' sizes add up to the object's size.
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
    "head_object": Target("HEAD of one part of a multipart object", _RESPONSES, "S3Response",
                          "head_object", ("self", "bucket_name", "query", "key_name", "headers")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["complete"], _complete)
    patches.replace(TARGETS["get_response"], _get_object_response)
    patches.replace(TARGETS["head_object"], _head_object)


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
    numbers = getattr(multipart, _COMPLETED, None) or list(multipart.partlist)
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
