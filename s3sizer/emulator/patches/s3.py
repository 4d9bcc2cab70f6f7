"""S3: notifications shaped and delivered as AWS does, serialized writes, and what moto drops.

- Every change of a key is captured once, with a sequencer, under one write lock, and sent to
  each matching destination: Lambda (asynchronous, retried), SQS and SNS (the same record
  document), and EventBridge when the configuration has EventBridgeConfiguration.
- The events moto misses are sent: delete markers, deletes of versions and of absent keys, a
  multipart completion without moto's extra ObjectCreated:Put.
- PutBucketNotificationConfiguration refuses overlapping entries and destinations S3 cannot
  validate (a function that does not let S3 invoke it, a queue that does not let S3 send), then
  sends s3:TestEvent; GetBucketNotificationConfiguration returns EventBridgeConfiguration.
- HEAD and GET with versionId=null on a never-versioned bucket return the object.
"""

from __future__ import annotations

import contextlib
import json
import re

from .. import s3_events
from ..wsgi import S3_WRITE_LOCK, client_address, service_lock
from . import hooks, notification_rules
from .events import send_s3_event
from .hooks import PatchSet, Target
from .lambda_ import submit_async

_MODELS, _RESPONSES = "moto.s3.models", "moto.s3.responses"
TARGETS = {
    "send_event": Target("S3 events shaped as AWS sends them", "moto.s3.notifications", None,
                         "send_event", ("account_id", "event_name", "bucket", "key")),
    "send_test_event": Target("s3:TestEvent to every destination", "moto.s3.notifications", None,
                              "send_test_event", ("account_id", "bucket")),
    "put_object": Target("serialized S3 writes", _MODELS, "S3Backend", "put_object", None),
    "copy_object": Target("serialized S3 writes", _MODELS, "S3Backend", "copy_object", None),
    "delete_object": Target("delete events as AWS sends them", _MODELS, "S3Backend",
                            "delete_object", ("self", "bucket_name", "key_name", "version_id",
                                              "bypass")),
    "complete_multipart": Target("one event per multipart completion", _MODELS, "S3Backend",
                                 "complete_multipart_upload", None),
    "put_notification": Target("notification configurations validated as S3 does", _MODELS,
                               "S3Backend", "put_bucket_notification_configuration",
                               ("self", "bucket_name", "notification_config")),
    "get_notification": Target("EventBridgeConfiguration returned", _RESPONSES, "S3Response",
                               "get_bucket_notification", ("self",)),
    "get_object": Target("versionId=null on an unversioned bucket", _MODELS, "S3Backend",
                         "get_object", ("self", "bucket_name", "key_name", "version_id",
                                        "part_number", "return_delete_marker")),
    "head_object": Target("versionId=null on an unversioned bucket", _RESPONSES, "S3Response",
                          "head_object", ("self", "bucket_name", "query", "key_name", "headers")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["send_event"], lambda original: send_event)
    patches.replace(TARGETS["send_test_event"], lambda original: send_test_event)
    patches.replace(TARGETS["put_object"], _serialized)
    patches.replace(TARGETS["copy_object"], _serialized)
    patches.replace(TARGETS["delete_object"], _delete_object)
    patches.replace(TARGETS["complete_multipart"], _complete_multipart_upload)
    patches.replace(TARGETS["put_notification"], _put_bucket_notification_configuration)
    patches.replace(TARGETS["get_notification"], _get_bucket_notification)
    patches.replace(TARGETS["get_object"], _get_object)
    patches.replace(TARGETS["head_object"], _head_object)


# --- Events ---------------------------------------------------------------------------------


def send_event(account_id, event_name, bucket, key) -> None:
    if hooks.is_quiet() or bucket.notification_configuration is None:
        return
    # moto passes a (str, Enum) member, whose str() is "S3NotificationEvent.X" on Python 3.11.
    event_name = getattr(event_name, "value", event_name)
    removal = event_name.startswith(s3_events.REMOVAL_PREFIXES)
    publish(
        account_id, event_name, bucket, key.name,
        size=None if removal else key.size, etag=key.etag.strip('"'),
        version_id=key.version_id if bucket.is_versioned else None,
    )  # fmt: skip


def send_test_event(account_id, bucket) -> None:
    if hooks.is_quiet():
        return
    config = bucket.notification_configuration
    document = s3_events.test_event(bucket.name)
    for arn in {n.arn for n in config.cloud_function}:
        submit_async(arn.split(":")[4], arn.split(":")[3], arn, document)
    for arn in {n.arn for n in config.queue}:
        _send_to_queue(arn, document)
    for arn in {n.arn for n in config.topic}:
        _send_to_topic(arn, document)


def publish(account_id, event_name, bucket, key_name, size, etag, version_id) -> None:
    """Capture one change of one key and send it to every destination that matches it."""
    config = bucket.notification_configuration
    if config is None:
        return
    change = s3_events.ObjectChange(
        event_name=event_name, account_id=account_id, region=bucket.region_name,
        bucket_name=bucket.name, bucket_arn=bucket.arn, key=key_name, size=size, etag=etag,
        version_id=version_id, sequencer=hooks.current().sequencer.next(),
        event_time=s3_events.event_time(), source_ip=client_address(),
        request_id=s3_events.new_request_id(), host_id=s3_events.new_host_id(),
    )  # fmt: skip
    for target in config.cloud_function:
        if target.matches(event_name, key_name):
            document = s3_events.event_document(change, target.id)
            submit_async(target.arn.split(":")[4], target.arn.split(":")[3], target.arn, document)
    for target in config.queue:
        if target.matches(event_name, key_name):
            _send_to_queue(target.arn, s3_events.event_document(change, target.id))
    for target in config.topic:
        if target.matches(event_name, key_name):
            _send_to_topic(target.arn, s3_events.event_document(change, target.id))
    if config.event_bridge is not None:
        send_s3_event(change)


def _send_to_queue(queue_arn: str, document: dict) -> None:
    from moto.sqs.models import sqs_backends

    account_id, region, name = (
        queue_arn.split(":")[4],
        queue_arn.split(":")[3],
        queue_arn.split(":")[5],
    )
    # A queue deleted since the configuration was written: S3 drops the event too.
    with contextlib.suppress(Exception):
        sqs_backends[account_id][region].send_message(name, json.dumps(document))


def _send_to_topic(topic_arn: str, document: dict) -> None:
    from moto.sns.models import sns_backends

    account_id, region = topic_arn.split(":")[4], topic_arn.split(":")[3]
    with contextlib.suppress(Exception):
        sns_backends[account_id][region].publish(
            arn=topic_arn, message=json.dumps(document), subject="Amazon S3 Notification"
        )


# --- Writes ---------------------------------------------------------------------------------


def _serialized(method):
    def serialized(*args, **kwargs):
        with service_lock(S3_WRITE_LOCK):
            return method(*args, **kwargs)

    return serialized


def _delete_object(original):
    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        with service_lock(S3_WRITE_LOCK):
            bucket = self.get_bucket(bucket_name)
            removed_key = _version(bucket, key_name, version_id)
            # Read before moto's delete closes the object's value (moto computes ETags lazily).
            # A delete marker has no ETag: deleting one (or deleting over one) names none.
            etag = getattr(removed_key, "etag", None)
            etag = etag.strip('"') if etag else None
            with hooks.quiet():
                deleted, meta = original(
                    self, bucket_name, key_name, version_id=version_id, bypass=bypass
                )

            def removed(event_name: str, version: str | None) -> None:
                publish(self.account_id, event_name, bucket, key_name, None, etag, version)

            if not bucket.is_versioned:
                removed("s3:ObjectRemoved:Delete", None)  # even for an absent key, as AWS does
            elif deleted and version_id is None:
                removed("s3:ObjectRemoved:DeleteMarkerCreated", meta.get("version-id"))
            elif deleted:
                removed("s3:ObjectRemoved:Delete", version_id)
            return deleted, meta

    return delete_object


def _version(bucket, key_name: str, version_id: str | None):
    if version_id is None:
        return bucket.keys.get(key_name)
    for version in bucket.keys.getlist(key_name, default=[]):
        if str(version.version_id) == str(version_id):
            return version
    return None


def _complete_multipart_upload(original):
    def complete_multipart_upload(self, *args, **kwargs):
        # One lock for the change and its event: no other write to the key takes a sequencer
        # in between.
        with service_lock(S3_WRITE_LOCK):
            with hooks.quiet():
                key = original(self, *args, **kwargs)
            if key is not None:
                bucket = self.get_bucket(key.bucket_name)
                send_event(self.account_id, "s3:ObjectCreated:CompleteMultipartUpload", bucket, key)
        return key

    return complete_multipart_upload


# --- Notification configuration -------------------------------------------------------------


def _put_bucket_notification_configuration(original):
    def put_bucket_notification_configuration(self, bucket_name, notification_config):
        with service_lock(S3_WRITE_LOCK):
            bucket = self.get_bucket(bucket_name)
            previous = bucket.notification_configuration
            with hooks.quiet():
                original(self, bucket_name, notification_config)
            config = bucket.notification_configuration
            try:
                notification_rules.validate(config, bucket)
            except Exception:
                bucket.notification_configuration = previous
                raise
            if config is not None:
                send_test_event(self.account_id, bucket)

    return put_bucket_notification_configuration


def _get_bucket_notification(original):
    def get_bucket_notification(self):
        response = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return response
        status, headers, body = response
        text = body.decode() if isinstance(body, bytes) else body
        text = re.sub(
            r"<NotificationConfiguration([^>]*)/>",
            r"<NotificationConfiguration\1></NotificationConfiguration>",
            text,
        )
        text = text.replace(
            "</NotificationConfiguration>",
            "<EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>",
        )
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_bucket_notification


# --- versionId=null -------------------------------------------------------------------------


def _never_versioned(backend, bucket_name: str) -> bool:
    try:
        return backend.get_bucket(bucket_name).versioning_status is None
    except Exception:
        return False


def _get_object(original):
    def get_object(
        self, bucket_name, key_name, version_id=None, part_number=None, return_delete_marker=False
    ):
        if version_id == "null" and _never_versioned(self, bucket_name):
            version_id = None  # every object of such a bucket is its "null" version
        return original(self, bucket_name, key_name, version_id, part_number, return_delete_marker)

    return get_object


def _head_object(original):
    def head_object(self, bucket_name, query, key_name, headers):
        if query.get("versionId") == ["null"] and _never_versioned(self.backend, bucket_name):
            query = {name: value for name, value in query.items() if name != "versionId"}
        return original(self, bucket_name, query, key_name, headers)

    return head_object
