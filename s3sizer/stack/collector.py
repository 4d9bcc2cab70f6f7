"""A baseline's pace of garbage collection (s3sizer.collector says why it is slower)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from s3sizer import collector

THRESHOLD = (20_000, 50, 100)


@contextmanager
def collecting_seldom() -> Iterator[None]:
    """While inside: what was alive on entry is frozen, and young collections are rarer."""
    token = collector.slower(THRESHOLD, freeze=True)
    try:
        yield
    finally:
        collector.restore(token)
