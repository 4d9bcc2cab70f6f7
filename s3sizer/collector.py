"""The garbage collector's pace, shared by the parts of one process that each want their own.

moto (in the emulator) and botocore (in every command) hold hundreds of thousands of objects
for as long as the process runs, and a baseline or an emulator's request allocates a dozen
containers per key or item. At the collector's default pace (a young collection per 700
allocations, and a full one, which walks every object alive, after ten of the next generation)
collections took about a fifth of a baseline's own time on a bucket of 30,000 objects, and of
a BatchWriteItem's time in an emulator holding 30,000 items. Nothing in either relies on prompt
collection of cycles: pages, chunks and items are freed by their reference counts.

A test process runs emulators and baselines side by side, which start and stop in any order.
So each asks for a pace (``slower``) and gives it back (``restore``): the newest request that
is still held sets the pace, and when none is held the process's own pace comes back. What was
alive when the first request to freeze came is frozen (left out of every collection) while any
such request is held, unless something else had frozen objects before: that stays as it was.

Python 3.14's collector scans the old generation a step at a time, and reads the thresholds
differently: there only the freeze is asked for.
"""

from __future__ import annotations

import gc
import itertools
import sys
import threading

_TUNED = sys.version_info < (3, 14)
_lock = threading.Lock()
_held: dict[int, tuple[tuple[int, ...], bool]] = {}  # token -> (threshold, freeze), in order
_tokens = itertools.count(1)
_own: tuple[int, ...] = ()  # the process's pace before the first request
_thaw = False  # whether this module froze objects, and so unfreezes them


def slower(threshold: tuple[int, int, int], *, freeze: bool = False) -> int:
    """Collect at ``threshold`` (and freeze what is alive, with ``freeze``) until ``restore``
    of the token returned."""
    global _own, _thaw
    with _lock:
        if not _held:
            _own = gc.get_threshold()
        if freeze and not any(f for _, f in _held.values()):
            _thaw = gc.get_freeze_count() == 0
            if _thaw:
                gc.freeze()
        token = next(_tokens)
        _held[token] = (threshold, freeze)
        _apply()
        return token


def restore(token: int) -> None:
    global _thaw
    with _lock:
        if _held.pop(token, None) is None:
            return
        if _thaw and not any(f for _, f in _held.values()):
            gc.unfreeze()
            _thaw = False
        _apply()


def _apply() -> None:
    if not _TUNED:
        return
    gc.set_threshold(*(list(_held.values())[-1][0] if _held else _own))
