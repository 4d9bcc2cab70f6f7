"""The fold stack's parts (docs/architecture.md, "The fold stack"): the table's stream, the fold
function's dead-letter queue and its stream mapping, and the rule that a stack once on the fold
path stays there. The fold function and its role are planned with the others
(`model.functions_of`); the tracker learns `WRITE_PATH=fold` only after all of this exists."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from s3sizer.errors import StackError
from s3sizer.stack import steps as st
from s3sizer.stack import stream_steps as sst
from s3sizer.stack.delivery import DLQ_RETENTION_SECONDS
from s3sizer.stack.model import FOLD_FUNCTION, StackConfig

if TYPE_CHECKING:
    from s3sizer.stack.iam import Arns
    from s3sizer.stack.state import Stack

STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
# The fold's stream mapping (fold-spec): one batch of a shard at a time, each record retried
# (bisected down to the one that fails) before it is given up on to the fold's DLQ.
FOLD_MAPPING = {
    "BatchSize": 1000,
    "MaximumBatchingWindowInSeconds": 4,
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 10,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    # Only key items a fold-path writer marked (``f`` = 1): the fold's own rows and points, and
    # everything else in the table, never invoke it. Lambda drops what no filter matches.
    "FilterCriteria": {
        "Filters": [
            {"Pattern": json.dumps({"dynamodb": {image: {"f": {"N": ["1"]}}}})}
            for image in ("NewImage", "OldImage")
        ]
    },
}
# Only at creation: Lambda does not change where an existing mapping reads from.
STARTING_POSITION = {"StartingPosition": "TRIM_HORIZON"}


def is_fold(config: StackConfig | None) -> bool:
    return config is not None and config.write_path == "fold"


def as_running(stack: Stack, config: StackConfig) -> StackConfig:
    """The config, on the fold path when the deployed tracker writes for the fold: a deploy
    that moved the tracker there and stopped before its last step (which stores the choice)
    left the stored config on the transaction path, and a baseline that took it from there
    would set the base totals beside fold rows (counting changes twice), or a plain deploy
    would move the tracker back."""
    if is_fold(config):
        return config
    found = stack.function_configuration("size-tracking") or {}
    running = found.get("Environment", {}).get("Variables", {}).get("WRITE_PATH")
    return replace(config, write_path="fold") if running == "fold" else config


def check_write_path(existing: StackConfig | None, asked: str | None) -> None:
    """Before anything changes: a deployed fold stack's totals live partly in the fold's rows,
    which the transaction path neither reads into its totals nor keeps up to date."""
    if asked == "transaction" and is_fold(existing) and existing.delivery is not None:
        raise StackError(
            f"Stack {existing.stack!r} is deployed on the fold write path, and its totals live "
            "partly in the fold's rows: it cannot go back to the transaction path",
            "keep --write-path fold, or `s3sizer teardown` and set the stack up again",
        )


def stream_arn(stack: Stack) -> str | None:
    """The table's stream, when it is on with the view the fold needs."""
    table = stack.table_description() or {}
    spec = table.get("StreamSpecification") or {}
    if spec.get("StreamEnabled") and spec.get("StreamViewType") == STREAM_VIEW_TYPE:
        return table.get("LatestStreamArn")
    return None


def stream_steps(stack: Stack, config: StackConfig) -> list[st.Step]:
    """The table's stream, turned on with both images (a table this plan creates too)."""
    if not is_fold(config) or stream_arn(stack):
        return []
    spec = (stack.table_description() or {}).get("StreamSpecification") or {}
    if spec.get("StreamEnabled"):
        raise StackError(
            f"Table {stack.names.table!r} has a stream of view type {spec.get('StreamViewType')}, "
            f"and the fold needs {STREAM_VIEW_TYPE}",
            "turn the table's stream off (`aws dynamodb update-table --stream-specification "
            "StreamEnabled=false`), then run this again",
        )
    return [sst.EnableStream(stack.names.table, STREAM_VIEW_TYPE)]


def dead_letter_steps(stack: Stack, config: StackConfig, tags) -> list[st.Step]:
    """The fold's DLQ: Lambda sends it with the fold's role, so it needs no queue policy."""
    if not is_fold(config):
        return []
    name = stack.names.fold_dead_letter_queue
    attributes = {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    url = stack.queue_url(name)
    if url is None:
        return [st.CreateQueue(name, attributes, tags)]
    have = stack.queue_attributes(url)
    if any(have.get(k) != v for k, v in attributes.items()):
        return [st.SetQueueAttributes(name, url, attributes)]
    return []


def mapping_settings(arns: Arns) -> dict:
    destination = arns.queue(arns.names.fold_dead_letter_queue)
    return {**FOLD_MAPPING, "DestinationConfig": {"OnFailure": {"Destination": destination}}}


def mapping_steps(stack: Stack, config: StackConfig, arns: Arns) -> list[st.Step]:
    """The fold's mapping on the table's current stream: created, or brought to its settings
    and enabled; a mapping of a stream turned off since is deleted."""
    if not is_fold(config):
        return []
    function = stack.names.function(FOLD_FUNCTION.short)
    settings, current = mapping_settings(arns), stream_arn(stack)
    out: list[st.Step] = []
    kept = None
    for mapping in stack.event_source_mappings(FOLD_FUNCTION.short):
        if current is not None and mapping.get("EventSourceArn") == current and kept is None:
            kept = mapping
        else:
            out.append(st.DeleteEventSourceMapping(mapping["UUID"], function))
    if kept is None:
        created = {**STARTING_POSITION, **settings}
        return [*out, sst.CreateStreamMapping(function, stack.names.table, created)]
    have = {key: kept.get(key) for key in settings}
    if have != settings or kept.get("State") in ("Disabled", "Disabling"):
        out.append(
            st.UpdateEventSourceMapping(kept["UUID"], function, {**settings, "Enabled": True})
        )
    return out


def teardown_steps(stack: Stack) -> list[st.Step]:
    """The fold's mappings (its function, role and log group go with the others')."""
    function = stack.names.function(FOLD_FUNCTION.short)
    return [
        st.DeleteEventSourceMapping(mapping["UUID"], function)
        for mapping in stack.event_source_mappings(FOLD_FUNCTION.short)
    ]


def dead_letter_count(stack: Stack) -> int | None:
    """The fold DLQ's messages, waiting or being received; None when it does not exist."""
    url = stack.queue_url(stack.names.fold_dead_letter_queue)
    if url is None:
        return None
    return stack.messages_held(url)


# How long reconcile on a fold stack waits for the fold to count what it just read (its own
# mends, and the changes just before it): the stream's delay and the fold's 4 s window, twice.
FOLD_SETTLE_SECONDS = 10.0


def unfolded(
    stack: Stack,
    history,
    total_size: int,
    object_count: int,
    *,
    settle: float = FOLD_SETTLE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """What a fold stack's totals lack after reconcile (the fold counts its mends; nothing sets
    the totals): the keys as the run read them, less the totals once the fold had a few seconds
    to count them (docs/tracking.md, "The fold path"); no wait while a dead letter explains it."""
    letters = dead_letter_count(stack) or 0
    deadline = clock() + (0 if letters else settle)
    while True:
        now = history.totals()
        size, count = total_size - now.total_size, object_count - now.object_count
        if not (size or count) or clock() >= deadline:
            break
        sleep(0.5)
    return {"fold_dead_letters": letters, "unfolded_bytes": size, "unfolded_objects": count}
