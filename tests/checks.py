"""Checks shared by the CLI and reliability tests."""

from __future__ import annotations

import socket


def one_clean_error_line(result) -> str:
    """The single `Error: ...` line a failing command printed on stderr, with no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def unused_port() -> int:
    """A loopback port nothing listens on (free when this returns)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
