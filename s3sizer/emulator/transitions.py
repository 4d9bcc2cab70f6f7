"""Storage-class transitions a test can trigger, with the events S3 sends for them.

`POST /_s3sizer/s3/transition?bucket=B&key=K&class=GLACIER[&versionId=V]` (or
`Emulator.transition(...)`) moves one object version (the current one without versionId) to
a colder storage class, as a lifecycle `Transition` rule would (S3's waterfall; a warmer class
is refused with 409, as no rule could make that move), and sends what S3 sends
(lifecycle-configure-notification, ev-events): an `s3:LifecycleTransition` record to the
bucket's matching notification destinations, and `Object Storage Class Changed` with
`destination-storage-class` to EventBridge when the bucket sends there.

The version is changed, and its event published, under the S3 write lock, as client writes are.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from .lifecycle_rules import colder
from .patches.s3 import publish
from .s3_events import TRANSITION
from .wsgi import S3_WRITE_LOCK, service_lock

CONTROL_PATH = "/_s3sizer/s3/transition"


class TransitionError(ValueError):
    """A transition that cannot be made; the message names what is wrong."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def transition(bucket_name: str, key: str, storage_class: str, version_id: str | None = None):
    """Move one object version to `storage_class`; what was moved, as the control answers."""
    from moto.s3.models import FakeDeleteMarker
    from moto.s3.utils import STORAGE_CLASS

    if storage_class not in STORAGE_CLASS or storage_class == "EXPRESS_ONEZONE":
        raise TransitionError("400 Bad Request", f"{storage_class!r} is not a storage class "
                              "a lifecycle rule can move an object to")  # fmt: skip
    bucket = _bucket(bucket_name)
    with service_lock(S3_WRITE_LOCK):
        versions = bucket.keys.getlist(key, default=[])
        if version_id is None:
            found = versions[-1:]
        else:
            found = [v for v in versions if str(v.version_id) == version_id]
        if not found or isinstance(found[0], FakeDeleteMarker):
            named = f"version {version_id} of " if version_id else ""
            raise TransitionError("404 Not Found", f"No object {named}{key!r} in {bucket_name}")
        version = found[0]
        source = version.storage_class or "STANDARD"
        if source == storage_class:
            raise TransitionError("409 Conflict", f"{key!r} is in {storage_class} already")
        if not colder(storage_class, source):  # S3's lifecycle only moves down its waterfall
            raise TransitionError("409 Conflict", f"{key!r} is in {source}: a lifecycle rule "
                                  f"moves it only to a colder class it supports, not "
                                  f"{storage_class}")  # fmt: skip
        move_version(bucket, key, version, storage_class)
    return {"bucket": bucket_name, "key": key, "versionId": str(version.version_id),
            "from": source, "to": storage_class}  # fmt: skip


def move_version(bucket, key: str, version, storage_class: str) -> None:
    """Change the version's class and send S3's events for it (the S3 write lock is held)."""
    version.set_storage_class(storage_class)
    shown_id = None if bucket.versioning_status is None else str(version.version_id)
    publish(bucket.account_id, TRANSITION, bucket, key, version.size,
            version.etag.strip('"'), shown_id, storage_class=storage_class)  # fmt: skip


def _bucket(name: str):
    from moto.s3.models import s3_backends

    for per_partition in list(s3_backends.values()):
        for backend in list(per_partition.values()):
            bucket = backend.buckets.get(name)
            if bucket is not None:
                return bucket
    raise TransitionError("404 Not Found", f"No bucket {name!r}")


def serve_control(environ, start_response):
    """POST /_s3sizer/s3/transition?bucket=B&key=K&class=C[&versionId=V]."""

    def answer(status: str, document: dict):
        body = json.dumps(document).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    usage = f"Use POST {CONTROL_PATH}?bucket=B&key=K&class=GLACIER[&versionId=V]"
    if environ.get("PATH_INFO") != CONTROL_PATH:
        return answer("404 Not Found", {"message": f"Unknown control. {usage}"})
    if environ.get("REQUEST_METHOD") != "POST":
        return answer("405 Method Not Allowed", {"message": usage})
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    missing = [name for name in ("bucket", "key", "class") if not query.get(name)]
    if missing:
        return answer("400 Bad Request", {"message": f"Missing {', '.join(missing)}. {usage}"})
    try:
        done = transition(query["bucket"], query["key"], query["class"], query.get("versionId"))
    except TransitionError as error:
        return answer(error.status, {"message": str(error)})
    return answer("200 OK", done)
