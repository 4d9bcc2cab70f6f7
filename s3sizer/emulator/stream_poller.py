"""Event source mappings on DynamoDB streams, polled as Lambda polls them.

One poller per mapping reads its stream's shard in order, one batch at a time: up to BatchSize
records, waiting up to MaximumBatchingWindowInSeconds for a batch to fill. Each batch is one
synchronous invocation with the event Lambda sends. The shard moves on only past records that
succeeded, or that were given up on:

- A function error retries the batch (after the retry back-off, doubling), MaximumRetryAttempts
  times (-1: until the records are older than MaximumRecordAgeInSeconds, or 24 hours, the
  stream's retention). With BisectBatchOnFunctionError the failed batch is split in two and each
  half run in turn, without spending a retry, so a bad record ends up alone.
- With FunctionResponseTypes ["ReportBatchItemFailures"], the records before the lowest reported
  sequence number have succeeded; the rest is retried. An invalid response fails the batch.
- Records given up on go, as Lambda describes them (DDBStreamBatchInfo, not the records), to the
  SQS queue or SNS topic of DestinationConfig.OnFailure, and the shard moves past them.
- Records that none of the FilterCriteria patterns match are dropped, as if processed.

Only the `crash` fault applies, to a batch's first invocation: a stream is never reordered, and
a retry after a crash delivers the batch again, as Lambda may.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from .config import FaultDice
from .lambda_metrics import ITERATOR_AGE, put_age
from .runtime import LambdaRuntime
from .stream_failures import ExhaustedBatch, lowest_failure, send_to_destination

logger = logging.getLogger("s3sizer.emulator")

RECHECK_SECONDS = 0.25  # how often an idle poller looks at its mapping again
RETENTION_SECONDS = 24 * 3600  # DynamoDB Streams keeps records for 24 hours
MAX_BACKOFF_DOUBLINGS = 5


class _Stopped(Exception):
    """The mapping was deleted or disabled, or the emulator stops: the batch is left where it is."""


class StreamEventSources:
    def __init__(self, runtime: LambdaRuntime, dice: FaultDice, retry_backoff: float):
        self.runtime = runtime
        self.dice = dice
        self.retry_backoff = retry_backoff
        # Notified when a shard holds as many records as a poller waits for (or on stop).
        self.arrived = threading.Condition()
        self._wanted: dict[int, list[int]] = {}  # id(shard) -> the counts its pollers wait for
        self._pollers: list[_ShardPoller] = []
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def start(self, account_id: str, region: str, uuid: str, shard: Any, position: int) -> None:
        poller = _ShardPoller(self, account_id, region, uuid, shard, position)
        with self._lock:
            # A poller whose mapping was deleted has ended: kept, it held its shard, and with it
            # every record the shard had, for the life of the emulator.
            self._pollers = [p for p in self._pollers if p.thread.is_alive()]
            self._pollers.append(poller)
        poller.thread.start()

    def notify(self) -> None:
        with self.arrived:
            self.arrived.notify_all()

    def added(self, shard) -> None:
        """A record was appended to ``shard``: wake its pollers if one waits for this many.

        A poller gathering a batch waits for the batch to fill or its window to pass; waking it
        at every record only to wait again cost the emulator a thread switch per write. Nor is
        a lock taken unless a poller is to be woken: this runs inside the write's request, which
        holds the table's lock, and waiting for another lock would let go of the interpreter."""
        wanted = tuple(self._wanted.get(id(shard), ()))  # one step under the interpreter's lock
        if not wanted or len(shard.items) < min(wanted):
            return  # a poller registering after this look finds the record when it counts
        with self.arrived:
            self.arrived.notify_all()

    def wait_for(self, shard, count: int, seconds: float) -> None:
        """Wait until ``shard`` holds ``count`` records, for at most ``seconds``."""
        with self.arrived:
            # Registered before counting: a record appended after the count sees the wish.
            wanted = self._wanted.setdefault(id(shard), [])
            wanted.append(count)
            try:
                if len(shard.items) < count and not self.stopping:
                    self.arrived.wait(max(seconds, 0))
            finally:
                wanted.remove(count)
                if not wanted:
                    del self._wanted[id(shard)]

    def idle(self) -> bool:
        """True when every enabled mapping has processed every record of its shard."""
        with self._lock:
            pollers = [p for p in self._pollers if p.thread.is_alive()]
        return all(p.idle() for p in pollers)

    def stop(self) -> None:
        self.stopped.set()
        self.notify()

    @property
    def stopping(self) -> bool:
        return self.stopped.is_set()


class _ShardPoller:
    def __init__(self, owner: StreamEventSources, account_id, region, uuid, shard, position):
        self.owner, self.account_id, self.region, self.uuid = owner, account_id, region, uuid
        self.shard = shard
        self.position = position  # index in the shard of the first record not yet done
        self.thread = threading.Thread(target=self._run, name=f"stream-poller-{uuid}", daemon=True)

    def idle(self) -> bool:
        mapping = self._mapping()
        return mapping is None or not mapping.enabled or self.position >= len(self.shard.items)

    def _mapping(self):
        from moto.awslambda.utils import get_backend

        return get_backend(self.account_id, self.region).get_event_source_mapping(self.uuid)

    def _run(self) -> None:
        while not self.owner.stopping:
            mapping = self._mapping()
            if mapping is None:
                return  # deleted through the Lambda API
            try:
                seen = len(self.shard.items)
                batch = self._read(mapping) if mapping.enabled else []
                if not batch:
                    if mapping.enabled:
                        self._wait_for_records(seen, RECHECK_SECONDS)
                    else:
                        self._wait(RECHECK_SECONDS)
                    continue
                self._settle(batch)
            except _Stopped:
                continue
            except Exception:
                logger.exception("the stream mapping %s could not process a batch", self.uuid)
                self._wait(RECHECK_SECONDS)

    def _read(self, mapping) -> list:
        """Up to BatchSize records from the checkpoint, waiting up to the batching window."""
        size = int(mapping.batch_size or 100)
        items = self.shard.items
        if len(items) <= self.position:
            return []
        window = float(mapping.max_batch_window or 0)
        deadline = items[self.position].arrival + window
        while len(items) - self.position < size and time.time() < deadline:
            if self.owner.stopping:
                raise _Stopped
            # Woken when the batch is full, else at the window's end (or to recheck the mapping).
            seconds = min(deadline - time.time(), RECHECK_SECONDS)
            self.owner.wait_for(self.shard, self.position + size, seconds)
        return items[self.position : self.position + size]

    def _settle(self, batch: list) -> None:
        """Run one batch until the shard can move past it (or the mapping stops)."""
        invocations = retries = 0
        last_error = None
        kept = _matching(self._live_mapping(), batch)
        if not kept:
            self._advance(batch)  # records no filter matches are dropped, as processed
            return
        batch = kept
        while batch:
            mapping = self._live_mapping()
            batch = self._drop_expired(mapping, batch, invocations, last_error)
            if not batch:
                return
            fn = self._function(mapping)
            if fn is None:  # before the invocation: retried until the records are too old
                self._wait(self._backoff(retries + 1))
                continue
            crash_rate = self.owner.dice.rates.crash if invocations == 0 else 0.0
            event = {"Records": [lambda_record(e, mapping.event_source_arn) for e in batch]}
            result = self.owner.runtime.invoke(
                fn, event, crash_rate, self.owner.dice.new_seed(),
                on_start=functools.partial(
                    put_age, fn.function_arn, ITERATOR_AGE, batch[-1].arrival
                ),
            )  # fmt: skip
            invocations += 1
            if crash_rate and b"Runtime.ExitError" in result.payload:
                logger.warning(
                    "injected fault: worker crashed mid-invocation of %s", fn.function_arn
                )
            if result.function_error is None:
                failed_at = self._first_failure(mapping, result.payload, batch)
                if failed_at is None:
                    self._advance(batch)
                    return
                # The records before the lowest reported failure succeeded; the rest is retried.
                self._advance(batch[:failed_at])
                batch = batch[failed_at:]
            elif mapping.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2  # splitting spends no retry
                self._settle(batch[:half])
                self._settle(batch[half:])
                return
            last_error = result.function_error
            retries += 1
            limit = int(
                mapping.max_retry_attempts if mapping.max_retry_attempts is not None else -1
            )
            if 0 <= limit < retries:
                self._give_up(mapping, batch, "RetryAttemptsExhausted", invocations, last_error)
                return
            self._wait(self._backoff(retries))

    def _first_failure(self, mapping, payload: bytes, batch: list) -> int | None:
        """None when the batch succeeded, else the index the retry starts from (0: all of it)."""
        if "ReportBatchItemFailures" not in (mapping.function_response_types or []):
            return None
        sequence_numbers = [e.record["dynamodb"]["SequenceNumber"] for e in batch]
        return lowest_failure(payload, sequence_numbers)

    def _drop_expired(self, mapping, batch: list, invocations: int, error) -> list:
        """Records older than MaximumRecordAgeInSeconds (or the retention) are given up on."""
        age = int(mapping.max_record_age if mapping.max_record_age is not None else -1)
        oldest_kept = time.time() - (RETENTION_SECONDS if age < 0 else age)
        expired = 0
        while expired < len(batch) and batch[expired].arrival < oldest_kept:
            expired += 1
        if expired:
            self._give_up(mapping, batch[:expired], "RecordAgeExceeded", invocations, error)
        return batch[expired:]

    def _give_up(self, mapping, batch: list, condition: str, invocations: int, error) -> None:
        destination = ((mapping.destination_config or {}).get("OnFailure") or {}).get("Destination")
        logger.warning(
            "the stream mapping %s gave up on %d record(s) (%s)%s",
            self.uuid, len(batch), condition, "; to its destination" if destination else "",
        )  # fmt: skip
        if destination:
            exhausted = ExhaustedBatch(
                mapping.function_arn, mapping.event_source_arn, self.shard.id, batch,
                condition, invocations, error,
            )  # fmt: skip
            send_to_destination(destination, exhausted.record())
        self._advance(batch)

    def _advance(self, done: list) -> None:
        if done:
            last = int(done[-1].record["dynamodb"]["SequenceNumber"])
            self.position = max(self.position, last - self.shard.starting_sequence_number + 1)

    def _live_mapping(self):
        mapping = self._mapping()
        if mapping is None or not mapping.enabled or self.owner.stopping:
            raise _Stopped
        return mapping

    def _function(self, mapping):
        from moto.awslambda.utils import get_backend

        try:
            return get_backend(self.account_id, self.region).get_function(mapping.function_arn)
        except Exception:
            logger.warning("%s no longer exists; its stream batch waits", mapping.function_arn)
            return None

    def _backoff(self, retries: int) -> float:
        return self.owner.retry_backoff * 2 ** min(retries - 1, MAX_BACKOFF_DOUBLINGS)

    def _wait(self, seconds: float) -> None:
        """Sleep, waking early when the emulator stops."""
        self.owner.stopped.wait(max(seconds, 0))

    def _wait_for_records(self, seen: int, seconds: float) -> None:
        """Wait until the shard holds more than `seen` records, for at most `seconds`."""
        self.owner.wait_for(self.shard, seen + 1, seconds)


def _matching(mapping, batch: list) -> list:
    """The records any of the mapping's FilterCriteria patterns matches (all, without any)."""
    from moto.events.models import EventPattern

    filters = (mapping.filter_criteria or {}).get("Filters") or []
    if not filters:
        return batch
    patterns = [EventPattern.load(f.get("Pattern")) for f in filters]
    return [
        entry for entry in batch
        if any(p.matches_event(lambda_record(entry, mapping.event_source_arn)) for p in patterns)
    ]  # fmt: skip


def lambda_record(entry, event_source_arn: str) -> dict:
    """One record of the event Lambda sends for a DynamoDB stream batch."""
    record = entry.record
    dynamodb = dict(record["dynamodb"])
    dynamodb["ApproximateCreationDateTime"] = float(
        int(dynamodb["ApproximateCreationDateTime"].timestamp())
    )
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": record["eventSource"],
        "awsRegion": record["awsRegion"],
        "dynamodb": dynamodb,
        "eventSourceARN": event_source_arn,
    }
