"""S3: notifications shaped and delivered as AWS does, serialized writes, and what moto drops.

- Every change of a key is captured once, with a sequencer, under one write lock, and sent to
  each matching destination: Lambda (asynchronous, retried), SQS and SNS (the same record
  document), and EventBridge when the configuration has EventBridgeConfiguration.
- The events moto misses are sent: a multipart completion without moto's extra
  ObjectCreated:Put (s3_versioning sends those of deletes and delete markers).
- s3:ObjectTagging:Put comes from PutObjectTagging only: moto also sends it from every
  PutObject, CopyObject and CompleteMultipartUpload, which set the new object's tags.
- CompleteMultipartUpload of an unknown upload answers NoSuchUpload, and one without parts
  MalformedXML (moto: 500).
- PutBucketNotificationConfiguration refuses overlapping entries and destinations S3 cannot
  validate (a function that does not let S3 invoke it, a queue that does not let S3 send), then
  sends s3:TestEvent; GetBucketNotificationConfiguration returns EventBridgeConfiguration.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading

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
    "complete_multipart": Target("one event per multipart completion", _MODELS, "S3Backend",
                                 "complete_multipart_upload",
                                 ("self", "bucket_name", "multipart_id", "body")),
    "put_notification": Target("notification configurations validated as S3 does", _MODELS,
                               "S3Backend", "put_bucket_notification_configuration",
                               ("self", "bucket_name", "notification_config")),
    "get_notification": Target("EventBridgeConfiguration returned", _RESPONSES, "S3Response",
                               "get_bucket_notification", ("self",)),
    "put_object_tagging": Target("s3:ObjectTagging:Put from PutObjectTagging only", _RESPONSES,
                                 "S3Response", "put_object_tagging", ("self",)),
    "notification_body": Target("filter rule names read as S3 reads them", _RESPONSES,
                                "S3Response", "_notification_config_from_body", ("self",)),
}  # fmt: skip
# A filter rule's Name, in any case: S3 takes "Prefix" as "prefix" (and answers with either).
_RULE_NAME = re.compile(r"(<(?:\w+:)?Name>)\s*(prefix|suffix)\s*(</(?:\w+:)?Name>)", re.IGNORECASE)
TAGGING_PUT = "s3:ObjectTagging:Put"
_TAGGING_API = threading.local()  # set while a PutObjectTagging request runs in this thread


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["send_event"], lambda original: send_event)
    patches.replace(TARGETS["send_test_event"], lambda original: send_test_event)
    patches.replace(TARGETS["complete_multipart"], _complete_multipart_upload)
    patches.replace(TARGETS["put_notification"], _put_bucket_notification_configuration)
    patches.replace(TARGETS["get_notification"], _get_bucket_notification)
    patches.replace(TARGETS["put_object_tagging"], _put_object_tagging)
    patches.replace(TARGETS["notification_body"], _notification_config_from_body)


def _notification_config_from_body(original):
    """moto asserts that a filter rule's Name is "prefix" or "suffix" in lower case, and a
    failed assert answers 500: the names are read in any case, and any other name (or an empty
    value) is refused as S3 refuses it, InvalidArgument."""
    from moto.s3.exceptions import InvalidFilterRuleName

    def notification_config_from_body(self):
        body = self.body.decode() if isinstance(self.body, bytes) else self.body
        self.body = _RULE_NAME.sub(lambda m: m[1] + m[2].lower() + m[3], body or "")
        try:
            return original(self)
        except AssertionError:
            raise InvalidFilterRuleName(_first_rule_name(self.body)) from None

    return notification_config_from_body


def _first_rule_name(body: str) -> str:
    names = re.findall(r"<FilterRule>.*?<Name>(.*?)</Name>", body, re.DOTALL)
    bad = [name for name in names if name.strip().lower() not in ("prefix", "suffix")]
    return (bad or names or [""])[0]


def _put_object_tagging(original):
    def put_object_tagging(self):
        _TAGGING_API.active = True
        try:
            return original(self)
        finally:
            _TAGGING_API.active = False

    return put_object_tagging


# --- Events ---------------------------------------------------------------------------------


def send_event(account_id, event_name, bucket, key) -> None:
    if hooks.is_quiet() or bucket.notification_configuration is None:
        return
    # moto passes a (str, Enum) member, whose str() is "S3NotificationEvent.X" on Python 3.11.
    event_name = getattr(event_name, "value", event_name)
    if event_name == TAGGING_PUT and not getattr(_TAGGING_API, "active", False):
        return  # the tags a new object was created with: S3 sends ObjectCreated only
    removal = event_name.startswith(s3_events.REMOVAL_PREFIXES)
    publish(
        account_id, event_name, bucket, key.name,
        size=None if removal else key.size, etag=key.etag.strip('"'),
        version_id=key.version_id if bucket.versioning_status is not None else None,
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


def publish(
    account_id, event_name, bucket, key_name, size, etag, version_id, storage_class=None
) -> None:
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
        storage_class=storage_class,
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


def _complete_multipart_upload(original):
    def complete_multipart_upload(self, *args, **kwargs):
        # One lock for the change and its event: no other write to the key takes a sequencer
        # in between.
        with service_lock(S3_WRITE_LOCK):
            with hooks.quiet():
                key = _completed(original, self, *args, **kwargs)
            if key is not None:
                bucket = self.get_bucket(key.bucket_name)
                send_event(self.account_id, "s3:ObjectCreated:CompleteMultipartUpload", bucket, key)
        return key

    return complete_multipart_upload


def _completed(original, backend, bucket_name, multipart_id, body):
    from xml.parsers.expat import ExpatError

    from moto.s3.exceptions import MalformedXML, NoSuchUpload

    if multipart_id not in backend.get_bucket(bucket_name).multiparts:
        raise NoSuchUpload(multipart_id)
    try:
        return original(backend, bucket_name, multipart_id, body)
    except ExpatError:  # an empty body: the parts are read lazily, while completing
        raise MalformedXML() from None


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
