"""Every change the emulator makes to moto, in one place.

- LambdaFunction.invoke runs the handler in the emulator's runtime (worker processes), not Docker.
- S3 notifications for Lambda targets are shaped as AWS documents them and delivered
  asynchronously with retries; SQS and SNS targets get the same documents, sent as moto sends them.
- S3 writes are serialized, so each key's changes and their sequencers happen in one order, and the
  events moto misses are sent: delete markers, deletes of versions and of absent keys, and a
  multipart completion without moto's extra ObjectCreated:Put.
- Invoke takes its qualifier from the query string only: moto also looks for a "qualifier" key in
  the payload, and fails on a payload that is valid JSON but not an object (null, a string).
- CreateFunction and UpdateFunctionConfiguration refuse the environment variables Lambda reserves;
  DeleteFunction stops the function's workers.
- PutBucketNotificationConfiguration checks, as S3 does, that each Lambda target exists and that
  its resource policy lets S3 invoke it; moto accepts any ARN.
- FilterLogEvents always interleaves the streams by time, as CloudWatch Logs has done since 2019.
- TransactWriteItems backs up only the items it writes, not whole tables: moto deep-copies every
  table a transaction touches, which makes each write cost as much as the table is large.

The patches stay installed once made; while no emulator is active in the process they hand
every call to moto's own code, so moto's in-process mock (mock_aws) behaves as before.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import inspect
import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import s3_events
from .config import FaultDice
from .delivery import AsyncDelivery
from .runtime import LambdaRuntime
from .wsgi import S3_WRITE_LOCK, client_address, holding_service_lock, service_lock

logger = logging.getLogger("s3sizer.emulator")


@dataclass
class Hooks:
    """What the patched code needs from the running emulator."""

    runtime: LambdaRuntime
    delivery: AsyncDelivery
    dice: FaultDice
    sequencer: s3_events.Sequencer


_hooks: Hooks | None = None
_originals: dict[str, Any] = {}
_install_lock = threading.Lock()
_thread = threading.local()


def activate(hooks: Hooks) -> None:
    global _hooks
    _install()
    _hooks = hooks


def deactivate() -> None:
    global _hooks
    _hooks = None


def _install() -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.awslambda.responses import LambdaResponse
    from moto.logs.models import LogGroup
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    with _install_lock:
        if _originals:
            return
        _originals.update(
            invoke=LambdaFunction.invoke,
            invoke_response=LambdaResponse.invoke,
            create_function=LambdaBackend.create_function,
            update_function_configuration=LambdaBackend.update_function_configuration,
            delete_function=LambdaBackend.delete_function,
            send_event=notifications.send_event,
            send_test_event=notifications.send_test_event,
            delete_object=S3Backend.delete_object,
            complete_multipart_upload=S3Backend.complete_multipart_upload,
            transact_write_items=dynamodb_models.DynamoDBBackend.transact_write_items,
            put_bucket_notification_configuration=S3Backend.put_bucket_notification_configuration,
            filter_log_events=LogGroup.filter_log_events,
        )
        LambdaFunction.invoke = _invoke
        LambdaResponse.invoke = _invoke_response
        LambdaBackend.create_function = _create_function
        LambdaBackend.update_function_configuration = _update_function_configuration
        LambdaBackend.delete_function = _delete_function
        notifications.send_event = _send_event
        notifications.send_test_event = _send_test_event
        S3Backend.put_object = _serialized(S3Backend.put_object)
        S3Backend.copy_object = _serialized(S3Backend.copy_object)
        S3Backend.delete_object = _delete_object
        S3Backend.complete_multipart_upload = _complete_multipart_upload
        S3Backend.put_bucket_notification_configuration = _put_bucket_notification_configuration
        dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items
        dynamodb_models.copy = _CopyKeepingTablesInTransactions(dynamodb_models.Table)
        LogGroup.filter_log_events = _filter_log_events


# --- Lambda ---------------------------------------------------------------------------------


def _invoke(self, body, request_headers, response_headers):
    """LambdaFunction.invoke, for `lambda.invoke`, InvokeAsync and moto's own event sources."""
    hooks = _hooks
    if hooks is None:
        return _originals["invoke"](self, body, request_headers, response_headers)
    event = _parse_event(body)
    invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event" or holding_service_lock():
        # Inside a serialized request (say a DynamoDB stream feeding a function), running the
        # handler now would deadlock as soon as it called back; Lambda polls those later anyway.
        _submit(hooks, self.account_id, self.region, self.function_arn, event)
        return b""
    result = hooks.runtime.invoke(self, event)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = result.log_tail
    response_headers["x-amz-executed-version"] = str(self.version)
    return result.payload


def _invoke_response(self):
    """LambdaResponse.invoke, reading the qualifier from the query string and never the payload."""
    original = _originals["invoke_response"]
    if _hooks is None:
        return original(self)
    qualifiers = [v for k, v in self.querystring.items() if k.lower() == "qualifier"]
    qualifier = qualifiers[0][0] if qualifiers else None
    read_param = self._get_param

    def get_param(name: str, if_none: Any = None) -> Any:
        return qualifier if name == "qualifier" else read_param(name, if_none)

    self._get_param = get_param  # this response object serves this one request only
    return original(self)


# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})  # fmt: skip


def _create_function(self, spec):
    if _hooks is not None:
        _refuse_reserved_variables(spec)
    return _originals["create_function"](self, spec)


def _update_function_configuration(self, function_name, qualifier, body):
    if _hooks is not None:
        _refuse_reserved_variables(body)
    return _originals["update_function_configuration"](self, function_name, qualifier, body)


def _delete_function(self, function_name, qualifier=None):
    hooks = _hooks
    original = _originals["delete_function"]
    if hooks is None:
        return original(self, function_name, qualifier)
    arn = self.get_function(function_name).function_arn  # raises as moto does when it is absent
    result = original(self, function_name, qualifier)
    hooks.runtime.retire(f"{arn}:{qualifier}" if qualifier else arn)
    return result


def _refuse_reserved_variables(spec: dict) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    names = set((spec.get("Environment") or {}).get("Variables") or {})
    reserved = sorted(names & RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )


def _parse_event(body) -> Any:
    from moto.core.exceptions import JsonRESTError

    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise JsonRESTError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None


def _submit(hooks: Hooks, account_id: str, region: str, function_arn: str, event: Any) -> None:
    """Queue one asynchronous invocation; the function is looked up again at each attempt."""

    def attempt(number: int) -> bool:
        from moto.awslambda.utils import get_backend

        try:
            fn = get_backend(account_id, region).get_function(function_arn)
        except Exception:
            logger.warning("%s no longer exists; its event is dropped", function_arn)
            return True
        # Only first attempts crash, so that the retries show whether a crash was survived.
        crash_rate = hooks.dice.rates.crash if number == 1 else 0.0
        result = hooks.runtime.invoke(fn, event, crash_rate, hooks.dice.new_seed())
        if crash_rate and b"Runtime.ExitError" in result.payload:
            logger.warning("injected fault: worker crashed mid-invocation of %s", function_arn)
        return result.function_error is None

    hooks.delivery.submit(attempt, f"asynchronous invocation of {function_arn}")


# --- S3 notifications -----------------------------------------------------------------------


def _send_event(account_id, event_name, bucket, key) -> None:
    hooks = _hooks
    if hooks is None:
        return _originals["send_event"](account_id, event_name, bucket, key)
    if getattr(_thread, "quiet", False) or bucket.notification_configuration is None:
        return None
    # moto passes a (str, Enum) member, whose str() is "S3NotificationEvent.X" on Python 3.11.
    event_name = getattr(event_name, "value", event_name)
    removal = event_name.startswith(s3_events.REMOVAL_PREFIXES)
    _publish(
        hooks, account_id, event_name, bucket, key.name, key,
        size=None if removal else key.size,
        etag=None if removal else key.etag.strip('"'),
        version_id=key.version_id if bucket.is_versioned else None,
    )  # fmt: skip
    return None


def _send_test_event(account_id, bucket) -> None:
    hooks = _hooks
    if hooks is None:
        return _originals["send_test_event"](account_id, bucket)
    if getattr(_thread, "quiet", False):
        return None
    from moto.s3 import notifications

    config = bucket.notification_configuration
    document = s3_events.test_event(bucket.name)
    for arn in {n.arn for n in config.cloud_function}:
        _submit(hooks, arn.split(":")[4], arn.split(":")[3], arn, document)
    for arn in {n.arn for n in config.queue}:
        notifications._send_sqs_message(account_id, document, arn.split(":")[-1], arn.split(":")[3])
    for arn in {n.arn for n in config.topic}:
        notifications._send_sns_message(account_id, document, arn, arn.split(":")[3])
    return None


def _publish(hooks, account_id, event_name, bucket, key_name, key, size, etag, version_id) -> None:
    """Capture one change of one key and send it to every target that matches it."""
    from moto.s3 import notifications

    config = bucket.notification_configuration
    if config is None:
        return
    change = s3_events.ObjectChange(
        event_name=event_name, account_id=account_id, region=bucket.region_name,
        bucket_name=bucket.name, bucket_arn=bucket.arn, key=key_name, size=size, etag=etag,
        version_id=version_id, sequencer=hooks.sequencer.next(),
        event_time=s3_events.event_time(), source_ip=client_address(),
        request_id=s3_events.new_request_id(), host_id=s3_events.new_host_id(),
    )  # fmt: skip
    for target in config.cloud_function:
        if target.matches(event_name, key_name):
            document = s3_events.event_document(change, target.id)
            _submit(hooks, target.arn.split(":")[4], target.arn.split(":")[3], target.arn, document)
    for target in config.queue:
        if target.matches(event_name, key_name):
            document = s3_events.event_document(change, target.id)
            queue_name, region = target.arn.split(":")[-1], target.arn.split(":")[3]
            notifications._send_sqs_message(account_id, document, queue_name, region)
    for target in config.topic:
        if target.matches(event_name, key_name):
            document = s3_events.event_document(change, target.id)
            notifications._send_sns_message(
                account_id, document, target.arn, target.arn.split(":")[3]
            )
    if config.event_bridge is not None and key is not None:
        notifications._send_event_bridge_message(account_id, bucket, event_name, key)


def _put_bucket_notification_configuration(self, bucket_name, notification_config):
    original = _originals["put_bucket_notification_configuration"]
    if _hooks is None:
        return original(self, bucket_name, notification_config)
    with service_lock(S3_WRITE_LOCK):
        bucket = self.get_bucket(bucket_name)
        previous = bucket.notification_configuration
        with _quiet():
            original(self, bucket_name, notification_config)
        config = bucket.notification_configuration
        refused = [
            n.arn
            for n in (config.cloud_function if config else [])
            if not _s3_may_invoke(n.arn, bucket)
        ]
        if refused:
            bucket.notification_configuration = previous
            raise _destination_error(refused)
        if config is not None:
            _send_test_event(self.account_id, bucket)


def _s3_may_invoke(function_arn: str, bucket) -> bool:
    """Whether the function exists and its resource policy lets S3 invoke it for this bucket."""
    from moto.awslambda.utils import get_backend

    try:
        account_id, region = function_arn.split(":")[4], function_arn.split(":")[3]
        statements = get_backend(account_id, region).get_function(function_arn).policy.statements
    except Exception:
        return False
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        if (
            statement.get("Effect", "Allow") == "Allow"
            and service in ("s3.amazonaws.com", "*")
            and statement.get("Action") in ("lambda:InvokeFunction", "lambda:*", "*")
            and (source is None or fnmatch.fnmatchcase(bucket.arn, source))
        ):
            return True
    return False


def _destination_error(function_arns: list[str]):
    from moto.s3.exceptions import S3ClientError

    return S3ClientError(
        "InvalidArgument",
        "Unable to validate the following destination configurations: "
        + ", ".join(function_arns)
        + " (the function must exist and allow s3.amazonaws.com to call lambda:InvokeFunction)",
    )


# --- S3 writes ------------------------------------------------------------------------------


def _serialized(method):
    @functools.wraps(method)
    def serialized(*args, **kwargs):
        with service_lock(S3_WRITE_LOCK):
            return method(*args, **kwargs)

    return serialized


@contextmanager
def _quiet():
    """moto's own events are silenced here; the caller sends the right ones."""
    previous, _thread.quiet = getattr(_thread, "quiet", False), True
    try:
        yield
    finally:
        _thread.quiet = previous


def _delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
    hooks = _hooks
    original = _originals["delete_object"]
    if hooks is None:
        return original(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
    with service_lock(S3_WRITE_LOCK):
        bucket = self.get_bucket(bucket_name)
        current = bucket.keys.get(key_name)
        with _quiet():
            deleted, meta = original(
                self, bucket_name, key_name, version_id=version_id, bypass=bypass
            )

        def removed(event_name: str, version: str | None) -> None:
            _publish(
                hooks, self.account_id, event_name, bucket, key_name, current, None, None, version
            )

        if not bucket.is_versioned:
            removed("s3:ObjectRemoved:Delete", None)  # even for an absent key, as AWS does
        elif deleted and version_id is None:
            removed("s3:ObjectRemoved:DeleteMarkerCreated", meta.get("version-id"))
        elif deleted:
            removed("s3:ObjectRemoved:Delete", version_id)
        return deleted, meta


def _complete_multipart_upload(self, *args, **kwargs):
    original = _originals["complete_multipart_upload"]
    if _hooks is None:
        return original(self, *args, **kwargs)
    # One lock for the change and its event, so no other write to the key takes a sequencer between.
    with service_lock(S3_WRITE_LOCK):
        with _quiet():
            key = original(self, *args, **kwargs)
        if key is not None:
            bucket = self.get_bucket(key.bucket_name)
            _send_event(self.account_id, "s3:ObjectCreated:CompleteMultipartUpload", bucket, key)
    return key


# --- DynamoDB -------------------------------------------------------------------------------


class _CopyKeepingTablesInTransactions:
    """Stands in for the `copy` module inside moto.dynamodb.models.

    Within the emulator's TransactWriteItems, moto's whole-table backup becomes the table itself
    (so moto's own rollback is a no-op); everywhere else it copies as `copy` does.
    """

    def __init__(self, table_class: type):
        self.table_class = table_class

    def deepcopy(self, value, memo=None):
        if getattr(_thread, "in_transaction", False) and isinstance(value, self.table_class):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str):
        return getattr(copy, name)


def _transact_write_items(self, transact_items):
    original = _originals["transact_write_items"]
    if _hooks is None:
        return original(self, transact_items)
    backups = [_backup(self, item) for item in transact_items]
    _thread.in_transaction = True
    try:
        return original(self, transact_items)
    except Exception:
        for backup in reversed(backups):
            if backup is not None:
                _restore(*backup)
        raise
    finally:
        _thread.in_transaction = False


def _backup(backend, transact_item):
    """(table, hash key, range key, a copy of the item or None), or None if it names no item."""
    try:
        _, operation = next(iter(transact_item.items()))
        table = backend.get_table(operation["TableName"])
        attributes = operation.get("Key") or operation["Item"]
        hash_key, range_key = backend.get_keys_value(table, attributes)
    except Exception:
        return None  # moto rejects this operation before it writes anything
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _restore(table, hash_key, range_key, item) -> None:
    """Put one item back as it was, without a stream record: the transaction never happened."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


# --- CloudWatch Logs ------------------------------------------------------------------------


def _filter_log_events(self, *args, **kwargs):
    """AWS ignores `interleaved` and always interleaves; moto groups events by stream otherwise."""
    original = _originals["filter_log_events"]
    if _hooks is not None:
        arguments = inspect.signature(original).bind(self, *args, **kwargs).arguments
        arguments["interleaved"] = True
        return original(**arguments)
    return original(self, *args, **kwargs)
