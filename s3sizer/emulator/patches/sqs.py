"""SQS: event source mappings run by the emulator's pollers, and dead-letter queue redrive.

moto invokes a mapped function synchronously inside SendMessage, once per message, and deletes
the messages whatever the function returned. CreateEventSourceMapping is patched to take the
mapping off the queue's list that moto's SendMessage walks, and to start a poller
(sqs_poller.py), which reads the mapping's settings from moto at every batch: updates,
disabling and deletion through the Lambda API take effect by themselves.

moto's queues have no lock: DeleteMessage rebuilds the message list, so a message sent meanwhile
(by a client, or by S3) could be lost. Adding, deleting and receiving messages take one lock
here; a long-polling ReceiveMessage waits outside it, checking every 20 ms. moto checks each
received message's retention by computing every attribute of the queue, which counts all its
messages, so a receive costs the square of the queue's length; the emulator reads the retention
period alone. moto also reads the clock once per message to count a queue's messages (at every
SendMessage); the emulator reads it once per count. DeleteMessage looks the message up once
instead of twice.

moto lacks StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask; the emulator
adds them. A move runs to completion before StartMessageMoveTask returns.
"""

from __future__ import annotations

import threading
import time
import uuid

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "create_mapping": Target("SQS mappings polled by the emulator", "moto.awslambda.models",
                             "LambdaBackend", "create_event_source_mapping", ("self", "spec")),
    "send_path": Target("moto's invoke-on-send disabled; one lock for a queue's messages",
                        "moto.sqs.models", "Queue", "add_message", ("self", "message")),
    "delete": Target("one lock for a queue's messages", "moto.sqs.models", "Queue",
                     "delete_message", ("self", "receipt_handle")),
    "retention": Target("retention checked without counting the queue", "moto.sqs.models",
                        "SQSBackend", "is_message_valid_based_on_retention_period",
                        ("self", "queue_name", "message")),
    **{
        name: Target("queue counts read the clock once", "moto.sqs.models", "Queue", name, None)
        for name in ("messages", "approximate_number_of_messages",
                     "approximate_number_of_messages_not_visible",
                     "approximate_number_of_messages_delayed")
    },
    "receive": Target("one lock for a queue's messages", "moto.sqs.models", "SQSBackend",
                      "receive_message", ("self", "queue_name", "count", "wait_seconds_timeout",
                                          "visibility_timeout", "message_attribute_names")),
    "start_move": Target("message move tasks", "moto.sqs.responses", "SQSResponse",
                         "start_message_move_task", None, adds=True),
    "list_moves": Target("message move tasks", "moto.sqs.responses", "SQSResponse",
                         "list_message_move_tasks", None, adds=True),
    "cancel_move": Target("message move tasks", "moto.sqs.responses", "SQSResponse",
                          "cancel_message_move_task", None, adds=True),
}  # fmt: skip
_move_tasks: list[dict] = []
DETACHED = "sqs: mapping taken off moto's invoke-on-send"
RETENTION_READ = "sqs: retention read without computing every queue attribute"
ONE_CLOCK_READ = "sqs: a queue's messages counted with one clock reading"
DEFAULT_RETENTION_SECONDS = 4 * 86400
LONG_POLL_INTERVAL_SECONDS = 0.02
MESSAGES_LOCK = threading.RLock()  # re-entrant: a receive moves messages to a DLQ with add_message


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["send_path"], _locked)
    patches.replace(TARGETS["delete"], lambda original: _delete_message)
    patches.replace(TARGETS["receive"], _receive_message)
    patches.replace(TARGETS["retention"], lambda original: _within_retention)
    patches.replace(TARGETS["messages"], lambda original: property(_visible_messages))
    patches.replace(
        TARGETS["approximate_number_of_messages"],
        lambda original: property(lambda queue: len(_visible_messages(queue))),
    )
    patches.replace(
        TARGETS["approximate_number_of_messages_not_visible"],
        lambda original: property(_count_not_visible),
    )
    patches.replace(
        TARGETS["approximate_number_of_messages_delayed"],
        lambda original: property(_count_delayed),
    )
    patches.replace(TARGETS["create_mapping"], _create_event_source_mapping)
    _move_tasks.clear()
    patches.replace(TARGETS["start_move"], lambda absent: _start_message_move_task)
    patches.replace(TARGETS["list_moves"], lambda absent: _list_message_move_tasks)
    patches.replace(TARGETS["cancel_move"], lambda absent: _cancel_message_move_task)


def _create_event_source_mapping(original):
    def create_event_source_mapping(self, spec):
        mapping = original(self, spec)
        if mapping.event_source_arn.split(":")[2] != "sqs":
            return mapping
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            # Keyed by function ARN in moto; removing it stops moto invoking on send.
            if queue.queue_arn == mapping.event_source_arn and (
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            ):
                hooks.FAST_PATHS[DETACHED] += 1
        hooks.current().event_sources.start(self.account_id, self.region_name, mapping.uuid)
        return mapping

    return create_event_source_mapping


def _locked(method):
    def locked(*args, **kwargs):
        with MESSAGES_LOCK:
            return method(*args, **kwargs)

    return locked


def _delete_message(queue, receipt_handle) -> None:
    """Queue.delete_message, as moto does it, in one pass over the messages."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    with MESSAGES_LOCK:
        if receipt_handle in queue.deleted_messages:
            return  # deleting again succeeds, as on AWS
        found = next(
            (i for i, m in enumerate(queue._messages) if m.had_receipt_handle(receipt_handle)),
            None,
        )
        if found is None:
            raise ReceiptHandleIsInvalid()
        message = queue._messages.pop(found)
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)


def _receive_message(original):
    def receive_message(
        self, queue_name, count, wait_seconds_timeout, visibility_timeout,
        message_attribute_names=None,
    ):  # fmt: skip
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        while True:
            with MESSAGES_LOCK:
                received = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if received or time.monotonic() >= deadline:
                return received
            time.sleep(LONG_POLL_INTERVAL_SECONDS)

    return receive_message


def _now_ms() -> float:
    from moto.core.utils import unix_time_millis

    hooks.FAST_PATHS[ONE_CLOCK_READ] += 1
    return unix_time_millis()


def _visible_messages(queue) -> list:
    """Queue.messages: visible and not delayed, as moto's Message.visible and .delayed say."""
    now = _now_ms()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _count_not_visible(queue) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _count_delayed(queue) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _within_retention(self, queue_name, message) -> bool:
    queue = self.get_queue(queue_name)
    retention = int(getattr(queue, "message_retention_period", None) or DEFAULT_RETENTION_SECONDS)
    hooks.FAST_PATHS[RETENTION_READ] += 1
    return message.sent_timestamp / 1000 + retention > time.time()


def _start_message_move_task(self):
    """Move every message of a dead-letter queue to a queue, by default the one it came from."""
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import InvalidParameterValue

    source_arn = self._get_param("SourceArn")
    destination_arn = self._get_param("DestinationArn")
    backend = self.sqs_backend
    source = backend.get_queue(source_arn.split(":")[-1])
    origins = backend.list_dead_letter_source_queues(source.name)
    if not origins:
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    destination = (
        backend.get_queue(destination_arn.split(":")[-1]) if destination_arn else origins[0]
    )
    moved = 0
    while True:
        messages = backend.receive_message(source.name, 10, 0, 30, ["All"])
        if not messages:
            break
        for message in messages:
            backend.send_message(
                destination.name, message.body, message_attributes=message.message_attributes
            )
            backend.delete_message(source.name, message.receipt_handle)
            moved += 1
    task = {
        "TaskHandle": uuid.uuid4().hex,
        "Status": "COMPLETED",
        "SourceArn": source.queue_arn,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": moved,
        "StartedTimestamp": int(time.time() * 1000),
    }
    if destination_arn:
        task["DestinationArn"] = destination_arn
    _move_tasks.append(task)
    return ActionResult({"TaskHandle": task["TaskHandle"]})


def _list_message_move_tasks(self):
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    tasks = [t for t in reversed(_move_tasks) if t["SourceArn"] == source_arn]
    return ActionResult({"Results": tasks[: int(self._get_param("MaxResults") or 1)]})


def _cancel_message_move_task(self):
    from moto.sqs.exceptions import SQSException

    raise SQSException(
        "ResourceNotFoundException", "Only a RUNNING message move task can be cancelled"
    )
