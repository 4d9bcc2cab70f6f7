"""Section 3: the reads and wall time of `plot --local` as the history grows."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.emulator_process import EmulatorProcess
from benchmarks.measure import (
    RequestLog,
    Section,
    Table,
    count_by_operation,
    median,
    ms,
    per_event,
    ratio,
    seconds_in,
)

STACK = "bench-plot"
WINDOW_POINTS = 60  # the plot's window holds the newest minute: one point a second
WRITERS = 4  # client threads: moto serializes the writes, but the clients' work overlaps


def run(emulator: EmulatorProcess, sizes: tuple[int, int], repeats: int) -> Section:
    from s3sizer import lifecycle
    from s3sizer.aws import Aws
    from s3sizer.settings import resolve
    from s3sizer.stack.state import Stack

    settings = resolve(stack=STACK, region="us-east-1", endpoint_url=emulator.endpoint_url)
    aws = Aws(settings, placeholder_credentials=True)
    lifecycle.setup(aws, None)
    stack = Stack(aws)
    table, bucket = stack.names.table, stack.require_config().bucket
    newest = datetime.now(UTC)
    rows, written = [], 0
    for size in sizes:
        # Older points are added behind the ones already there: the newest stay the newest.
        started = time.perf_counter()
        _write_points(aws, table, bucket, newest, written, size)
        write_seconds, written = time.perf_counter() - started, size
        rows.append((size, write_seconds, _plot(aws, newest, repeats)))
    return _section(rows)


def _write_points(aws, table: str, bucket: str, newest: datetime, start: int, end: int) -> None:
    """Points number start..end-1, one a second back from ``newest``, in the schema of
    docs/architecture.md, by BatchWriteItem."""

    def item(age: int) -> dict:
        ts = newest - timedelta(seconds=age)
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        size = 10_000 + (age * 37) % 5_000
        return {
            "pk": {"S": f"B#{bucket}"},
            "sk": {"S": f"H#{stamp}#{1_000_000_000 - age:012d}"},
            "ts": {"S": stamp},
            "total_size": {"N": str(size)},
            "object_count": {"N": str(100 + age % 50)},
            "prev_total_size": {"N": str(size - 37)},
            "prev_object_count": {"N": str(100 + age % 50)},
            "key": {"S": f"data/{age:07d}"},
            "event": {"S": "ObjectCreated:Put"},
        }

    client = aws.client("dynamodb")

    def write(first: int) -> None:
        batch = [{"PutRequest": {"Item": item(age)}} for age in range(first, min(first + 25, end))]
        request = {table: batch}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems")

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(start, end, 25)))


def _plot(aws, newest: datetime, repeats: int) -> dict:
    """`plot --local` (reports.plot_local) over a window ending now that starts
    WINDOW_POINTS seconds before the newest point; the first run warms matplotlib up."""
    from s3sizer import reports
    from s3sizer.context import open_stack

    log = RequestLog(aws.client("dynamodb"))
    walls, reads, queries, calls, points = [], [], [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(repeats + 1):
            window = (datetime.now(UTC) - newest).total_seconds() + WINDOW_POINTS
            log.take()
            started = time.perf_counter()
            # As the CLI does: open the stack (its config), then draw.
            result = reports.plot_local(open_stack(aws), window, Path(tmp) / "plot.png")
            wall = time.perf_counter() - started
            taken = log.take()
            if turn:
                walls.append(wall)
                reads.append(seconds_in(taken))
                queries.append(seconds_in(taken, "dynamodb:Query"))
                calls, points = taken, result["points"]
    drawing = [wall - read for wall, read in zip(walls, reads, strict=True)]
    return {
        "wall": walls, "reads": reads, "query": queries, "drawing": drawing, "calls": calls,
        "points": points,
    }  # fmt: skip


def _section(rows) -> Section:
    table = Table(
        ["points in the history", "written in", "points in the window", "read requests",
         "by operation", "reading: median", "of which Query", "drawing: median",
         "wall time: median", "wall time against the smallest"]
    )  # fmt: skip
    smallest = median(rows[0][2]["wall"])
    for size, write_seconds, plot in rows:
        table.add(
            f"{size:,}", f"{write_seconds:.1f} s", plot["points"], len(plot["calls"]),
            per_event(count_by_operation(plot["calls"]), 1), ms(median(plot["reads"])),
            ms(median(plot["query"])), ms(median(plot["drawing"])), ms(median(plot["wall"])), ratio(median(plot["wall"]), smallest),
        )  # fmt: skip
    section = Section("3. Plotting", METHOD, [table], [MOTO_QUERY])
    (small, _, first), (large, _, last) = rows[0], rows[-1]
    section.highlights.append(
        f"`plot --local` makes {len(first['calls'])} read requests for a history of {small:,} "
        f"points and {len(last['calls'])} for {large:,}. Drawing takes "
        f"{ms(median(first['drawing']))} and {ms(median(last['drawing']))}; the wall time goes "
        f"from {ms(median(first['wall']))} to {ms(median(last['wall']))} on the emulator, "
        "because moto's Query scans the whole table (AWS reads only the window)."
    )
    return section


METHOD = """
A stack is set up on the same emulator process (no deploy needed), then history points are
written straight into its table with BatchWriteItem, one a second back from a fixed newest
point: first the smaller history, then older points are added until it holds the larger one.
Each measurement is `reports.plot_local` (what `s3sizer plot --local` calls: read the stack's
config, the totals and the window, then draw the PNG) over a window that covers the newest
minute of points, timed after one warm-up run (matplotlib imported, clients open). Read
requests are every API call the DynamoDB client makes; "reading" is the time spent in them, the
rest of the wall time is drawing the PNG.
"""

MOTO_QUERY = """
The read requests stay the same whatever the history holds: one GetItem (the stack's config),
one GetItem (the totals) and one Query page (the window). On AWS that
Query reads only the window's items. moto's Query scans every item of the table and sorts the
matches, so on the emulator the reading time grows with the history while the drawing does not.
"""
