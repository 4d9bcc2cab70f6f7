"""What a function reads from its environment when its container starts."""

from __future__ import annotations


def quiet_library_lines() -> None:
    """Lambda sets the root logger to the function's ApplicationLogLevel (INFO for the tracker
    and the fold), so botocore's INFO lines ("Found credentials in environment variables.",
    and where it found an endpoint) would open every cold start's log, where a reader looks
    for the batch lines. Its warnings still show."""
    import logging

    logging.getLogger("botocore").setLevel(logging.WARNING)


def table_from_environment(function: str) -> tuple[str, float]:
    """A function's table and history retention, from its environment (TABLE_NAME,
    HISTORY_TTL_DAYS); one line naming the variable when either is wrong."""
    import os

    table = os.environ.get("TABLE_NAME")
    if not table:
        raise RuntimeError(f"TABLE_NAME is not set: the {function} function needs its table")
    ttl = os.environ.get("HISTORY_TTL_DAYS", "0") or "0"
    try:
        return table, float(ttl)
    except ValueError:
        raise RuntimeError(f"HISTORY_TTL_DAYS must be a number of days, not {ttl!r}") from None
