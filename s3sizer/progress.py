"""The baseline's progress bar on stderr: objects listed, their rate, ranges done and an ETA."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from s3sizer.output import err

# In a pipe (a CI log, a file), a plain line this often instead of a bar.
PIPE_EVERY_SECONDS = 30.0


@contextmanager
def baseline_bar(bucket: str) -> Iterator[Callable]:
    """A callback for BaselineRun's progress; a bar on a terminal, a line every 30 s in a pipe.

    The bar appears at the first report, once the run holds the bucket's baseline and knows its
    ranges: a run refused because another one holds it ends with its one line and no bar."""
    start = time.monotonic()
    if not err.is_terminal:
        yield _lines(bucket, start)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("baseline of {task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}/{task.fields[ranges]} ranges"),
        TextColumn("{task.fields[listed]:,} objects listed, {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
    )
    with ExitStack() as shown:
        bars: list = []  # the bar and its task, once shown

        def update(progress) -> None:
            if not bars:
                bar = shown.enter_context(Progress(*columns, console=err, transient=True))
                task = bar.add_task(bucket, total=None, listed=0, rate=0.0, done=0, ranges="?")
                bars.extend((bar, task))
            bar, task = bars
            elapsed = max(time.monotonic() - start, 1e-3)
            if progress.expected:  # a bucket counted before: its objects, so the ETA is theirs
                completed = progress.carried + progress.objects
                total = max(progress.expected, completed)
            else:
                completed, total = progress.ranges_done, progress.ranges or None
            bar.update(
                task,
                total=total,
                completed=completed,
                done=progress.ranges_done,
                ranges=progress.ranges or "?",  # none named yet: the top level is being read
                listed=progress.objects,
                rate=progress.objects / elapsed,
            )

        yield update


def _lines(bucket: str, start: float) -> Callable:
    """Progress as a line on stderr at most every PIPE_EVERY_SECONDS: a log keeps each."""
    last, lock = [start], threading.Lock()  # 16 workers report

    def report(progress) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < PIPE_EVERY_SECONDS:
                return
            last[0] = now
        # Objects, not a versioned bucket's versions: `expected` counts the current objects.
        rate = progress.objects / max(now - start, 1e-3)
        count, about = progress.objects, ""
        if progress.expected:  # a bucket counted before: of how many, with a stopped run's
            count, about = count + progress.carried, f" of about {progress.expected:,}"
        err.print(
            f"baseline of {bucket}: {count:,}{about} objects listed ({rate:,.0f}/s), "
            f"{progress.ranges_done}/{progress.ranges or '?'} ranges done",
            highlight=False,
            soft_wrap=True,
        )

    return report


@contextmanager
def deletion_bar(bucket: str) -> Iterator[Callable[[int], None]]:
    """A callback of items deleted (how many more, from any thread); a count on a terminal,
    a line every 30 s in a pipe. Nothing is shown before the first deletion."""
    start, deleted, lock = time.monotonic(), [0], threading.Lock()
    shown = ExitStack()
    bars: list = []
    last = [start]

    def report(count: int) -> None:
        with lock:
            deleted[0] += count
            now = time.monotonic()
            rate = deleted[0] / max(now - start, 1e-3)
            if not err.is_terminal:
                if now - last[0] >= PIPE_EVERY_SECONDS:
                    last[0] = now
                    err.print(
                        f"untrack of {bucket}: {deleted[0]:,} items deleted ({rate:,.0f}/s)",
                        highlight=False,
                        soft_wrap=True,
                    )
                return
            if not bars:
                from rich.progress import Progress, SpinnerColumn, TextColumn

                columns = (
                    SpinnerColumn(),
                    TextColumn("deleting {task.description}'s items:"),
                    TextColumn("{task.completed:,} deleted, {task.fields[rate]:,.0f}/s"),
                )
                bar = shown.enter_context(Progress(*columns, console=err, transient=True))
                task = bar.add_task(bucket, total=None, completed=deleted[0], rate=rate)
                bars.extend((bar, task))
            bar, task = bars
            bar.update(task, completed=deleted[0], rate=rate)

    with shown:
        yield report
