"""The emulator's own test controls (`POST /_s3sizer/...?<amount>=N`): one JSON answer each."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs


def json_answer(start_response, status: str, document: dict) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def serve_advance(
    environ,
    start_response,
    *,
    path: str,
    amount: str,
    maximum: float,
    advance: Callable[[float], dict] | None,
    stopped: str,
) -> list[bytes]:
    """POST ``path``?``amount``=N, with N from 0 to ``maximum``: ``advance(N)``'s report, or
    the error a client can act on (404 another path, 405 another method, 400 a bad number, 503
    when the part that would advance is stopped)."""
    if environ.get("PATH_INFO") != path:
        return json_answer(
            start_response, "404 Not Found", {"message": f"Unknown control; try POST {path}"}
        )
    if environ.get("REQUEST_METHOD") != "POST":
        return json_answer(
            start_response, "405 Method Not Allowed", {"message": f"Use POST {path}?{amount}=N"}
        )
    raw = parse_qs(environ.get("QUERY_STRING", "")).get(amount, ["0"])[0]
    try:
        value = float(raw)
        if not 0 <= value <= maximum:
            raise ValueError
    except ValueError:
        message = f"{amount} must be a number from 0 to {maximum:g}, got {raw!r}"
        return json_answer(start_response, "400 Bad Request", {"message": message})
    if advance is None:
        return json_answer(start_response, "503 Service Unavailable", {"message": stopped})
    return json_answer(start_response, "200 OK", advance(value))
