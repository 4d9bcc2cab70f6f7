"""The baseline's progress bar on stderr: objects listed, their rate, ranges done and an ETA."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from s3sizer.output import err


@contextmanager
def baseline_bar(bucket: str) -> Iterator[Callable]:
    """A callback for BaselineRun's progress; a bar on a terminal, nothing in a pipe.

    The bar appears at the first report, once the run holds the bucket's baseline and knows its
    ranges: a run refused because another one holds it ends with its one line and no bar."""
    if not err.is_terminal:
        yield lambda progress: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("baseline of {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} ranges"),
        TextColumn("{task.fields[listed]:,} objects listed, {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
    )
    start = time.monotonic()
    with ExitStack() as shown:
        bars: list = []  # the bar and its task, once shown

        def update(progress) -> None:
            if not bars:
                bar = shown.enter_context(Progress(*columns, console=err, transient=True))
                bars.extend((bar, bar.add_task(bucket, total=None, listed=0, rate=0.0)))
            bar, task = bars
            elapsed = max(time.monotonic() - start, 1e-3)
            bar.update(
                task,
                total=progress.ranges or None,
                completed=progress.ranges_done,
                listed=progress.listed,
                rate=progress.listed / elapsed,
            )

        yield update
