"""A function's log lines, written to CloudWatch Logs in moto's backend as Lambda writes them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from . import emf
from .wsgi import LOGS_LOCK, service_lock


def log_group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def log_stream_name(version: str, worker_id: str) -> str:
    """One stream per execution environment, named as Lambda names them."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{worker_id}"


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_memory_mb: int | None,
    init_ms: float | None,
    status: str | None = None,
) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(duration_ms)} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_mb if max_memory_mb is not None else '-'} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    return "\t".join(parts)


def write_log_events(
    account_id: str, region: str, group: str, stream: str, events: list[tuple[int, str]]
) -> None:
    """Append (epoch ms, message) events, creating the group and stream if needed, as Lambda does."""
    from moto.logs.models import logs_backends

    # A stable sort by time only: lines printed in the same millisecond keep their order.
    events = sorted(((ts, message) for ts, message in events if message), key=lambda e: e[0])
    if not events:
        return
    backend = logs_backends[account_id][region]
    with service_lock(LOGS_LOCK):
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": t, "message": m} for t, m in events])
    emf.put_metrics(account_id, region, (message for _, message in events))
