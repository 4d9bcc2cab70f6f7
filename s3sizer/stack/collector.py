"""The garbage collector's pace while a baseline merges a bucket key by key.

The process holds botocore's service models and endpoints, some hundreds of thousands of
objects that live as long as it does, and a baseline allocates a dozen containers per key. At
the collector's default pace (a young collection per 700 allocations, and a full one, which
walks every object alive, every hundred young ones) collections took about a fifth of the
process's time on a bucket of 30,000 objects. Freezing what is alive when the run starts takes
those objects out of every collection; rarer young collections do the rest. Nothing in a
baseline relies on prompt collection of cycles: its pages, chunks and items are freed by their
reference counts.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLD = (20_000, 50, 100)

_lock = threading.Lock()
_inside = 0  # runs inside now (a process may run several side by side: a test suite's threads)
_previous: tuple[int, ...] = ()


@contextmanager
def collecting_seldom() -> Iterator[None]:
    """While any run is inside: what was alive when the first entered is frozen, and young
    collections are rarer. The last one out undoes both, so that a process that runs many
    baselines (a test suite) still collects what they leave, at its own pace."""
    global _inside, _previous
    with _lock:
        if _inside == 0:
            _previous = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*THRESHOLD)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_previous)
                gc.unfreeze()
