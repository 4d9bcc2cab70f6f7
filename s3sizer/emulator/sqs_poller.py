"""SQS event source mappings, polled as Lambda polls them.

One poller per mapping forms batches: it receives up to BatchSize messages, waiting up to
MaximumBatchingWindowInSeconds for a batch to fill, and runs up to MaximumConcurrency batches at
once. Each batch is one synchronous invocation with the event AWS sends. Succeeded messages are
deleted. Failed ones (the whole batch when the function fails; only the listed ones when it
reports batch item failures) become visible again after the retry delay, so the queue's
RedrivePolicy moves a message that keeps failing to its dead-letter queue after maxReceiveCount
receives, as on AWS.

Injected faults act on first receives: `duplicate` leaves a succeeded message in the queue to be
delivered once more (SQS delivers at least once), `reorder` holds a message back so later ones
overtake it, and `crash` may kill the worker of a batch whose messages are all first receives.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import threading
import time
from typing import Any

from .config import FaultDice
from .runtime import LambdaRuntime

logger = logging.getLogger("s3sizer.emulator")

DEFAULT_MAXIMUM_CONCURRENCY = 5  # the concurrent batches Lambda starts an SQS mapping with
# A failed message is visible again after this many retry back-offs (2 s at the default 0.2 s),
# where AWS waits for the queue's visibility timeout.
RETRY_VISIBILITY_BACKOFFS = 10
POLL_INTERVAL_SECONDS = 0.02
REORDER_HOLD_SECONDS = 0.5


class SqsEventSources:
    def __init__(self, runtime: LambdaRuntime, dice: FaultDice, retry_backoff: float):
        self.runtime = runtime
        self.dice = dice
        self.retry_delay = retry_backoff * RETRY_VISIBILITY_BACKOFFS
        self._pollers: list[_Poller] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, account_id: str, region: str, mapping_uuid: str) -> None:
        poller = _Poller(self, account_id, region, mapping_uuid)
        with self._lock:
            self._pollers.append(poller)
        poller.start()

    def idle(self) -> bool:
        """True when no batch runs and no mapped queue holds a message (visible or not)."""
        with self._lock:
            pollers = [p for p in self._pollers if p.alive]
        return all(p.idle() for p in pollers)

    def stop(self) -> None:
        self._stopping.set()


class _Poller:
    def __init__(self, owner: SqsEventSources, account_id: str, region: str, uuid: str):
        self.owner, self.account_id, self.region, self.uuid = owner, account_id, region, uuid
        self.running = 0  # batches being processed
        self.changed = threading.Condition()
        self.retries: list[tuple[float, str, str]] = []  # (when, queue name, receipt handle)
        self.thread = threading.Thread(target=self._run, name=f"sqs-poller-{uuid}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def idle(self) -> bool:
        with self.changed:
            if self.running:
                return False
        mapping = self._mapping()
        if mapping is None or not mapping.enabled:
            return True
        queue = self._queue(mapping)
        return queue is None or not (
            queue.approximate_number_of_messages
            or queue.approximate_number_of_messages_not_visible
            or queue.approximate_number_of_messages_delayed
        )

    def _mapping(self):
        from moto.awslambda.utils import get_backend

        return get_backend(self.account_id, self.region).get_event_source_mapping(self.uuid)

    def _sqs(self):
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account_id][self.region]

    def _queue(self, mapping):
        try:
            return self._sqs().get_queue(mapping.event_source_arn.split(":")[5])
        except Exception:
            return None

    def _run(self) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist

        stopping = self.owner._stopping
        while not stopping.is_set():
            self._release_due_retries()
            mapping = self._mapping()
            if mapping is None:
                return  # deleted through the Lambda API
            queue = self._queue(mapping) if mapping.enabled else None
            # A batch formed while every worker of the function is busy would only wait, holding
            # its messages, while the next ones make smaller batches: as on AWS, where each
            # concurrent batch has a poller of its own, a batch forms when it can run.
            limit = min(_maximum_concurrency(mapping), self.owner.runtime.concurrency)
            with self.changed:
                busy = self.running >= limit
            if queue is None or busy:
                stopping.wait(POLL_INTERVAL_SECONDS * 5)
                continue
            try:
                batch = self._collect(mapping, queue)
            except QueueDoesNotExist:
                # Deleted between the look-up and the receive (a teardown): the next turn finds
                # no queue and waits, as a mapping whose queue is gone polls nothing.
                continue
            if not batch:
                stopping.wait(POLL_INTERVAL_SECONDS)
                continue
            with self.changed:
                self.running += 1
            threading.Thread(
                target=self._process, args=(mapping, queue.name, batch),
                name=f"sqs-batch-{self.uuid}", daemon=True,
            ).start()  # fmt: skip

    def _collect(self, mapping, queue) -> list:
        """Up to BatchSize messages, waiting up to the batching window once one has come."""
        sqs, batch_size = self._sqs(), int(mapping.batch_size or 10)
        window = float(mapping.max_batch_window or 0)
        visibility = int(queue.visibility_timeout or 30)
        batch: list = []
        deadline = None
        while len(batch) < batch_size and not self.owner._stopping.is_set():
            received = sqs.receive_message(
                queue.name, batch_size - len(batch), 0, visibility, ["All"]
            )
            batch += received
            if deadline is None and batch:
                deadline = time.monotonic() + window
            if deadline is None or time.monotonic() >= deadline:
                break
            if not received:
                time.sleep(POLL_INTERVAL_SECONDS)
        return batch

    def _process(self, mapping, queue_name: str, batch: list) -> None:
        try:
            dice = self.owner.dice
            held = [m for m in batch if _first(m) and dice.roll(dice.rates.reorder)]
            for message in held:
                logger.warning("injected fault: reordered delivery of SQS message %s", message.id)
                self._retry_later(queue_name, message.receipt_handle, REORDER_HOLD_SECONDS)
            batch = [m for m in batch if m not in held]
            failed = self._invoke(mapping, batch) if batch else set()
            sqs = self._sqs()
            for message in batch:
                again = _first(message) and dice.roll(dice.rates.duplicate)
                if again:
                    logger.warning(
                        "injected fault: duplicate delivery of SQS message %s", message.id
                    )
                if message.id in failed or again:
                    self._retry_later(queue_name, message.receipt_handle)
                else:
                    with contextlib.suppress(Exception):  # the queue or message is gone already
                        sqs.delete_message(queue_name, message.receipt_handle)
        except Exception:
            logger.exception("the SQS mapping %s could not process a batch", self.uuid)
        finally:
            with self.changed:
                self.running -= 1

    def _invoke(self, mapping, batch: list) -> set[str]:
        """The ids of the messages that failed."""
        from moto.awslambda.utils import get_backend

        everything = {message.id for message in batch}
        try:
            fn = get_backend(self.account_id, self.region).get_function(mapping.function_arn)
        except Exception:
            logger.warning("%s no longer exists; its batch waits", mapping.function_arn)
            return everything
        event = {"Records": [sqs_record(m, mapping.event_source_arn, self.region) for m in batch]}
        # A crash may strike a batch whose messages were received at most twice: each message
        # then has receives left, free of injected crashes, before the DLQ's maxReceiveCount.
        early = all(m.approximate_receive_count <= CRASHABLE_RECEIVES for m in batch)
        crash_rate = self.owner.dice.rates.crash if early else 0.0
        result = self.owner.runtime.invoke(fn, event, crash_rate, self.owner.dice.new_seed())
        if crash_rate and b"Runtime.ExitError" in result.payload:
            logger.warning("injected fault: worker crashed mid-invocation of %s", fn.function_arn)
        if result.function_error:
            return everything
        if "ReportBatchItemFailures" not in (mapping.function_response_types or []):
            return set()
        return batch_item_failures(result.payload, everything)

    def _retry_later(
        self, queue_name: str, receipt_handle: str, delay: float | None = None
    ) -> None:
        when = time.monotonic() + (self.owner.retry_delay if delay is None else delay)
        with self.changed:
            heapq.heappush(self.retries, (when, queue_name, receipt_handle))

    def _release_due_retries(self) -> None:
        now = time.monotonic()
        due = []
        with self.changed:
            while self.retries and self.retries[0][0] <= now:
                due.append(heapq.heappop(self.retries))
        for _, queue_name, receipt_handle in due:
            with contextlib.suppress(Exception):  # deleted meanwhile, by a client or a purge
                self._sqs().change_message_visibility(queue_name, receipt_handle, 0)


CRASHABLE_RECEIVES = 2


def _first(message) -> bool:
    return message.approximate_receive_count == 1


def _maximum_concurrency(mapping) -> int:
    scaling = mapping.scaling_config or {}
    return int(scaling.get("MaximumConcurrency") or DEFAULT_MAXIMUM_CONCURRENCY)


def batch_item_failures(payload: bytes, batch_ids: set[str]) -> set[str]:
    """The failed ids from a ReportBatchItemFailures response; an invalid one fails them all.

    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    """
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return batch_ids
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()  # null, {} or an empty list: the whole batch succeeded
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return batch_ids
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return batch_ids
        failed.add(identifier)
    return failed


def sqs_record(message: Any, queue_arn: str, region: str) -> dict:
    """One record of the event Lambda sends for an SQS batch."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.group_id:
        attributes.update(MessageGroupId=message.group_id, SequenceNumber=message.sequence_number)
        if message.deduplication_id:
            attributes["MessageDeduplicationId"] = message.deduplication_id
    record = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.message_attributes.items()
        },
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def _message_attribute(value: dict) -> dict:
    attribute: dict = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        attribute["binaryValue"] = binary.decode() if isinstance(binary, bytes) else binary
    return attribute
