"""Unfinished multipart uploads as S3 lists them: ListMultipartUploads and ListParts.

- `Initiated` is when CreateMultipartUpload ran (the time s3_lifecycle stamps on each upload);
  moto answered a fixed date in 2010.
- `StorageClass` is the class CreateMultipartUpload asked for (moto: always STANDARD).
- ListMultipartUploads sorts by key, then by initiation time, and pages with MaxUploads (1 to
  1,000), KeyMarker and UploadIdMarker, answering NextKeyMarker and NextUploadIdMarker, and
  groups keys with Delimiter into CommonPrefixes; moto listed every upload in one page.
- ListParts pages by part number: PartNumberMarker is the last part number already seen (moto
  took it as a position in the list, which skips or repeats parts when numbers have gaps).
"""

from __future__ import annotations

from datetime import datetime

from .hooks import PatchSet, Target
from .s3_lifecycle import INITIATED

_RESPONSES = "moto.s3.responses"
MAX_UPLOADS = 1000
TARGETS = {
    "list_multipart_uploads": Target("ListMultipartUploads as S3 answers it", _RESPONSES,
                                     "S3Response", "list_multipart_uploads", ("self",)),
    "list_parts": Target("ListParts paged by part number", _RESPONSES, "S3Response",
                         "list_parts", ("self",)),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["list_multipart_uploads"], lambda _original: _list_multipart_uploads)
    patches.replace(TARGETS["list_parts"], lambda _original: _list_parts)


def initiated(upload) -> datetime:
    """When the upload was created (naive UTC); one made before the patches counts from now."""
    from moto.core.utils import utcnow

    moment = getattr(upload, INITIATED, None)
    if moment is None:
        moment = utcnow()
        setattr(upload, INITIATED, moment)
    return moment


def storage_class(upload) -> str:
    return upload.storage or "STANDARD"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _int_param(response, name: str, default: int) -> int:
    from moto.s3.exceptions import InvalidArgumentError

    raw = response.querystring.get(name, [None])[0]
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"Provided {name} not an integer or within integer range", name, raw
        ) from None
    if value < 0:
        raise InvalidArgumentError(
            f"Argument {name} must be an integer between 0 and 2147483647", name, raw
        )
    return value


def _owner() -> dict:
    from .s3_listing import OWNER_ID

    return {"ID": OWNER_ID, "DisplayName": "webfile"}


def _list_multipart_uploads(self):
    from moto.core.responses import ActionResult

    bucket = self.backend.get_bucket(self.bucket_name)
    query = {name: values[0] for name, values in self.querystring.items() if values}
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    key_marker = query.get("key-marker", "")
    upload_id_marker = query.get("upload-id-marker", "") if key_marker else ""
    max_uploads = min(_int_param(self, "max-uploads", MAX_UPLOADS), MAX_UPLOADS)

    ordered = sorted(
        (u for u in list(bucket.multiparts.values()) if u.key_name.startswith(prefix)),
        key=lambda u: (u.key_name, initiated(u), u.id),
    )
    ordered = _after_markers(ordered, key_marker, upload_id_marker)
    uploads, prefixes, truncated, last = [], [], False, None
    for upload in ordered:
        common = _common_prefix(upload.key_name, prefix, delimiter)
        if common is not None and prefixes and prefixes[-1] == common:
            continue  # grouped under the prefix already listed
        if len(uploads) + len(prefixes) >= max_uploads:
            truncated = True
            break
        if common is not None:
            prefixes.append(common)
            last = (common, "")
        else:
            uploads.append(upload)
            last = (upload.key_name, upload.id)
    result = {
        "Bucket": self.bucket_name,
        "KeyMarker": key_marker,
        "UploadIdMarker": upload_id_marker,
        "MaxUploads": max_uploads,
        "IsTruncated": truncated,
        "Uploads": [
            {
                "Key": upload.key_name,
                "UploadId": upload.id,
                "Initiator": _owner(),
                "Owner": _owner(),
                "StorageClass": storage_class(upload),
                "Initiated": _iso(initiated(upload)),
                "ChecksumAlgorithm": upload.metadata.get("x-amz-checksum-algorithm"),
                "ChecksumType": upload.metadata.get("x-amz-checksum-type"),
            }
            for upload in uploads
        ],
    }
    if prefix:
        result["Prefix"] = prefix
    if delimiter:
        result["Delimiter"] = delimiter
        result["CommonPrefixes"] = [{"Prefix": common} for common in prefixes]
    if truncated and last is not None:
        result["NextKeyMarker"], result["NextUploadIdMarker"] = last
    self.data["Action"] = "ListMultipartUploads"
    return self.serialized(ActionResult(result))


def _after_markers(ordered: list, key_marker: str, upload_id_marker: str) -> list:
    """The uploads after the one the markers name, as S3 documents key-marker/upload-id-marker."""
    if not key_marker:
        return ordered
    if not upload_id_marker:
        return [u for u in ordered if u.key_name > key_marker]
    ids = [u.id for u in ordered if u.key_name == key_marker]
    if upload_id_marker in ids:  # continue after the marker's place in the listing's order
        keep = set(ids[ids.index(upload_id_marker) + 1 :])
    else:
        keep = {i for i in ids if i > upload_id_marker}
    return [u for u in ordered if u.key_name > key_marker or u.id in keep]


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _list_parts(self):
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import NoSuchUpload

    upload_id = self._get_param("uploadId")
    marker = _int_param(self, "part-number-marker", 0)
    max_parts = min(_int_param(self, "max-parts", 1000), 1000)
    bucket = self.backend.get_bucket(self.bucket_name)
    upload = bucket.multiparts.get(upload_id)
    if upload is None:
        raise NoSuchUpload(upload_id=upload_id)
    later = sorted((n, part) for n, part in list(upload.parts.items()) if int(n) > marker)
    page = later[:max_parts]
    result = {
        "Bucket": self.bucket_name,
        "Key": self.parse_key_name(),
        "UploadId": upload_id,
        "StorageClass": storage_class(upload),
        "Initiator": _owner(),
        "Owner": _owner(),
        "PartNumberMarker": marker,
        "NextPartNumberMarker": int(page[-1][0]) if page else 0,
        "MaxParts": max_parts,
        "IsTruncated": len(later) > len(page),
        "Parts": [
            {
                "PartNumber": int(number),
                "LastModified": part.last_modified_ISO8601,
                "ETag": part.etag,
                "Size": part.size,
            }
            for number, part in page
        ],
    }
    self.data["Action"] = "ListParts"
    status, headers, body = self.serialized(ActionResult(result))
    headers.update(self._get_cors_headers_other())
    return status, headers, body
