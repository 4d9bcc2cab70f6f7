"""The driver function: a small, fixed workload on the bucket, plotted after each step.

After each operation it waits, with a deadline, until the size-tracking function has recorded
that very operation (the key's state in the history table says so), and only then invokes the
plotting function; a fixed sleep would plot too early on a cold start and waste time otherwise.
"""

from __future__ import annotations

import functools
import json
import os
import time

import boto3

from . import history

# (operation, key, body): 18 B, then 27 B, then gone, then 2 B.
WORKLOAD = (
    ("create", "assignment1.txt", b"Empty Assignment 1"),
    ("overwrite", "assignment1.txt", b"Empty Assignment 2222222222"),
    ("delete", "assignment1.txt", None),
    ("create", "assignment2.txt", b"33"),
)
POLL_SECONDS = 0.2
# S3 documents that an event notification "can sometimes take a minute or longer".
DEFAULT_DEADLINE_SECONDS = 120.0


def run(
    s3,
    lambda_client,
    history: history.History,
    bucket: str,
    plotting_function: str,
    *,
    pause: float,
    deadline: float,
    sleep=time.sleep,
    monotonic=time.monotonic,
    window_seconds: float | None = None,
    key_prefix: str = "",
) -> dict:
    """Run the workload; after each step the totals the tracker recorded for it.

    In a bucket s3sizer adopted, the keys get a prefix of their own, so that the driver can never
    overwrite a user's object and teardown can remove exactly what the driver wrote.
    """
    operations = []
    for i, (op, name, body) in enumerate(WORKLOAD):
        key = key_prefix + name
        if i:
            sleep(pause)  # keeps the points apart on the plot
        before, start = history.key_state(bucket, key), history.totals(bucket)
        if body is None:
            s3.delete_object(Bucket=bucket, Key=key)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        after = _wait_recorded(history, bucket, op, key, body, before, deadline, sleep, monotonic)
        if after is not None and after.folded:
            totals = _wait_folded(history, bucket, start, deadline, sleep, monotonic)
        else:
            totals = history.totals(bucket)
        _invoke_plotting(lambda_client, plotting_function, window_seconds)
        operations.append(
            {
                "op": op,
                "key": key,
                "bytes": len(body or b""),
                "total_size": totals.total_size,
                "object_count": totals.object_count,
            }
        )
    return {"bucket": bucket, "operations": operations}


def _wait_recorded(history, bucket, op, key, body, before, deadline, sleep, monotonic):
    """Poll the key's recorded state until it shows this operation; that state.

    The state must also differ from the one read before the operation: rewriting a key with a
    body of the same size would otherwise look recorded before the tracker saw anything.
    """
    give_up = monotonic() + deadline
    while True:
        state = history.key_state(bucket, key)
        if body is None:
            done = state is None or not state.exists
        else:
            done = state is not None and state.exists and state.size == len(body)
        # A delete of a key the tracker never knew leaves no state at all: nothing to wait for.
        if done and (state != before or state is None):
            return state
        if monotonic() >= give_up:
            raise TimeoutError(
                f"the size-tracking function did not record the {op} of s3://{bucket}/{key} "
                f"within {deadline:g} s; check its logs and the bucket's event notification"
            )
        sleep(POLL_SECONDS)


def _wait_folded(history, bucket, start, deadline, sleep, monotonic):
    """On the fold path the totals follow the key item a few seconds later (the table's stream,
    then the fold): poll until a fold has moved them since before the operation (every fold
    step stamps them, even one that moves nothing), so that the figures reported and the plot
    drawn are the operation's; at the deadline, what they show."""
    give_up = monotonic() + deadline
    totals = history.totals(bucket)
    while totals.updated_at == start.updated_at and monotonic() < give_up:
        sleep(POLL_SECONDS)
        totals = history.totals(bucket)
    return totals


def _invoke_plotting(lambda_client, function: str, window_seconds: float | None) -> None:
    payload = {} if window_seconds is None else {"window_seconds": window_seconds}
    response = lambda_client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode(),
    )
    if response.get("FunctionError"):
        detail = response["Payload"].read().decode(errors="replace")
        raise RuntimeError(f"the plotting function {function} failed: {detail}")


@functools.cache
def _config() -> dict:
    """Built once per warm container: clients and settings from the environment."""
    names = ("BUCKET_NAME", "TABLE_NAME", "PLOTTING_FUNCTION")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set: the driver function needs them")
    return {
        "s3": boto3.client("s3"),
        "lambda_client": boto3.client("lambda"),
        "history": history.History(os.environ["TABLE_NAME"], boto3.client("dynamodb")),
        "bucket": os.environ["BUCKET_NAME"],
        "plotting_function": os.environ["PLOTTING_FUNCTION"],
        "pause": float(os.environ.get("DRIVER_PAUSE_SECONDS") or 1.5),
        "deadline": float(os.environ.get("DRIVER_DEADLINE_SECONDS") or DEFAULT_DEADLINE_SECONDS),
        "key_prefix": os.environ.get("DRIVER_KEY_PREFIX", ""),
    }


def handler(event, context):
    config = dict(_config())
    event = event if isinstance(event, dict) else {}
    if event.get("pause_seconds") is not None:
        config["pause"] = float(event["pause_seconds"])
    if event.get("deadline_seconds") is not None:
        config["deadline"] = float(event["deadline_seconds"])
    return run(
        **config,
        window_seconds=event.get("window_seconds"),
        sleep=time.sleep,
        monotonic=time.monotonic,
    )
