"""A function's log lines, written to CloudWatch Logs in moto's backend as Lambda writes them."""

from __future__ import annotations

import json
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


# Lambda's levels, most detailed first: a line is sent when its level is at or below the one set.
_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def platform_lines(
    config: dict, request_id: str, version: str, report: dict, started_ms: int, now_ms: int
) -> list[tuple[int, str]]:
    """The START, END and REPORT lines of one invocation, as its LoggingConfig has them.

    As text they are Lambda's classic lines. With the JSON log format each is one object of the
    Telemetry API's shape (``time``, ``type``, ``record``): ``platform.start``,
    ``platform.runtimeDone`` and ``platform.report``; and SystemLogLevel filters them. They are
    INFO when the invocation succeeded, which a level of WARN leaves out; a failed one's are
    WARN, so a timeout or a crash stays in the log (docs/emulator.md).
    """
    status = report.get("status")
    if config.get("LogFormat") != "JSON":
        return [
            (started_ms, f"START RequestId: {request_id} Version: {version}"),
            (now_ms, f"END RequestId: {request_id}"),
            (now_ms, report_line(request_id, **report)),
        ]
    level = "INFO" if status is None else "WARN"
    if not _sent(level, config.get("SystemLogLevel", "INFO")):
        return []
    outcome = status or "success"
    metrics = {
        "durationMs": round(report["duration_ms"], 3),
        "billedDurationMs": math.ceil(report["duration_ms"]),
        "memorySizeMB": report["memory_size"],
    }
    if report.get("max_memory_mb") is not None:
        metrics["maxMemoryUsedMB"] = report["max_memory_mb"]
    if report.get("init_ms") is not None:
        metrics["initDurationMs"] = round(report["init_ms"], 3)
    done = {
        "requestId": request_id,
        "status": outcome,
        "metrics": {"durationMs": metrics["durationMs"]},
    }
    reported = {"requestId": request_id, "status": outcome, "metrics": metrics}
    records = [
        (started_ms, "platform.start", {"requestId": request_id, "version": version}),
        (now_ms, "platform.runtimeDone", done),
        (now_ms, "platform.report", reported),
    ]
    return [
        (ts, json.dumps({"time": _iso(ts), "type": kind, "record": record}))
        for ts, kind, record in records
    ]


def application_lines(config: dict, lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The function's own lines that ApplicationLogLevel lets through (JSON format only): a
    JSON object's ``level`` says its level, and anything else counts as INFO, as on Lambda."""
    if config.get("LogFormat") != "JSON":
        return lines
    floor = config.get("ApplicationLogLevel", "INFO")
    return [(ts, line) for ts, line in lines if _sent(_level_of(line), floor)]


def _level_of(line: str) -> str:
    if line.startswith("{"):
        try:
            document = json.loads(line)
        except ValueError:
            return "INFO"
        level = document.get("level") if isinstance(document, dict) else None
        if isinstance(level, str):
            level = _LEVEL_ALIASES.get(level.upper(), level.upper())
            if level in _LEVELS:
                return level
    return "INFO"


def _sent(level: str, floor: str) -> bool:
    floor = _LEVEL_ALIASES.get(floor.upper(), floor.upper())
    return _LEVELS.index(level) >= _LEVELS.index(floor if floor in _LEVELS else "INFO")


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def write_log_events(
    account_id: str,
    region: str,
    group: str,
    stream: str,
    events: list[tuple[int, str]],
    role_arn: str | None = None,
) -> None:
    """Append (epoch ms, message) events, creating the stream if needed, as Lambda does.

    A missing group is created only when the function's role allows logs:CreateLogGroup on it:
    Lambda creates it with the role's credentials, and without that permission the lines are
    lost. So a stack that made its groups itself and does not grant it leaves none behind when
    an invocation ends after its group was deleted."""
    from moto.logs.models import logs_backends

    # A stable sort by time only: lines printed in the same millisecond keep their order.
    events = sorted(((ts, message) for ts, message in events if message), key=lambda e: e[0])
    if not events:
        return
    backend = logs_backends[account_id][region]
    with service_lock(LOGS_LOCK):
        if group not in backend.groups:
            arn = f"arn:aws:logs:{region}:{account_id}:log-group:{group}:*"
            if role_arn is not None and not role_allows(role_arn, "logs:CreateLogGroup", arn):
                return
            backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": t, "message": m} for t, m in events])
    emf.put_metrics(account_id, region, (message for _, message in events))


def role_allows(role_arn: str, action: str, resource: str) -> bool:
    """Whether the role's own policies, inline and attached, allow the action on the resource
    (an explicit Deny wins), by moto's reading of each policy. Permissions boundaries and
    resource policies are not read: nothing here uses them."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends

    account_id, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    backend = iam_backends[account_id]["aws"]
    try:
        policies = [backend.get_role_policy(name, p)[1] for p in backend.list_role_policies(name)]
        policies += backend.list_attached_role_policies(name)[0]
    except Exception:  # no such role: Lambda could not act as it
        return False
    results = {IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies}
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results
