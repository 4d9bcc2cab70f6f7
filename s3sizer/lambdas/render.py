"""The plot of a bucket's size over a window, shared by the plotting function and `plot --local`.

matplotlib is imported inside ``render_png`` only: it takes a second or more to import, and
nothing else (the CLI's other commands, the other functions) should pay for it. The figure is
drawn on an explicit Agg canvas, so no pyplot state or global backend choice is involved.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from .history import Window

_AREA_COLORS = ("tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def _unit(n: float) -> tuple[str, int]:
    """The largest binary unit that keeps ``n`` at 1 or more, and its factor."""
    n, i = abs(n), 0
    while n >= 1024 and i < len(_UNITS) - 1:
        n, i = n / 1024, i + 1
    return _UNITS[i], 1024**i


def human_bytes(n: float) -> str:
    """``18 B``, ``1.5 KiB``, ``27 MiB``: binary units, at most one decimal."""
    unit, factor = _unit(n)
    if factor == 1:
        return f"{n:g} {unit}" if isinstance(n, float) else f"{n} {unit}"
    return f"{n / factor:.1f}".removesuffix(".0") + f" {unit}"


def duration(seconds: float) -> str:
    """``10 s``, ``5 min``, ``2 h``, ``3 d``: the window as a title says it."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def series(window: Window, end: datetime | None = None) -> tuple[list[datetime], list[int]]:
    """The step line's vertices: the carried-in size at the start, each point, held to the end.

    A window with no point is a flat line at the current size, not an empty plot. A history
    that begins inside the window starts at its first point: before it the bucket was not
    tracked, and a line at the first point's "before" (0 B) would draw a size nobody measured.
    """
    times = [p.time for p in window.points]
    sizes = [p.total_size for p in window.points]
    if window.began is None or not window.points:
        times, sizes = [window.start, *times], [window.start_size, *sizes]
    end = max(end or window.end, times[-1])
    return [*times, end], [*sizes, sizes[-1]]


def changes(window: Window) -> list:
    """The points that moved the size or the count: a point that repeats the figures before it
    (a reconcile that found nothing, a fold step's receipt that moved nothing) is no change."""
    before = (window.start_size, window.start_count) if window.began is None else None
    out = []
    for point in window.points:
        figures = (point.total_size, point.object_count)
        if figures != before:
            out.append(point)
        before = figures
    return out


def stacked(prefixes: list[Window], times: list[datetime]) -> list[list[int]]:
    """Each prefix's size at each of ``times`` (its step held between its points)."""
    out = []
    for w in prefixes:
        changes = [(p.time, p.total_size) for p in w.points]
        sizes, size, i = [], w.start_size, 0
        for t in times:
            while i < len(changes) and changes[i][0] <= t:
                size, i = changes[i][1], i + 1
            sizes.append(size)
        out.append(sizes)
    return out


def render_png(
    window: Window, *, now: datetime | None = None, prefixes: list[Window] | None = None
) -> bytes:
    """A PNG of size over the window; ``now`` is the right edge (default: the window's end).

    ``prefixes`` (History.prefix_windows) are drawn as stacked areas under the total.
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    times, sizes = series(window, now)
    peak = window.totals.max_size
    unit, factor = _unit(max([*sizes, peak]))
    fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    if prefixes:
        edges = sorted(
            {*times, *(p.time for w in prefixes for p in w.points if p.time >= times[0])}
        )
        edges = [t for t in edges if t <= times[-1]]
        layers = [[s / factor for s in sizes] for sizes in stacked(prefixes, edges)]
        # Blue and red stay the total's and the peak's.
        colors = [_AREA_COLORS[i % len(_AREA_COLORS)] for i in range(len(layers))]
        labels = [w.prefix for w in prefixes]
        ax.stackplot(edges, layers, step="post", alpha=0.45, labels=labels, colors=colors)
    # Size holds between changes, hence a step that keeps each value until the next point.
    ax.step(
        times,
        [s / factor for s in sizes],
        where="post",
        linewidth=2,
        label="size",
        color="tab:blue",
    )
    moved = changes(window)
    if moved:
        ax.plot(
            [p.time for p in moved],
            [p.total_size / factor for p in moved],
            "o",
            color="tab:blue",
            label="change",
        )
    ax.axhline(peak / factor, linestyle="--", color="tab:red", label="largest ever")
    ax.annotate(
        f"largest ever: {human_bytes(peak)}",
        xy=(1, peak / factor),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        va="bottom",
        color="tab:red",
    )

    top = max([*sizes, peak]) / factor
    ax.set_ylim(0, top * 1.2 if top > 0 else 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g} {unit}"))
    if unit == "B":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlim(min(window.start, times[0]), times[-1])  # the whole window, drawn or not
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel("size")
    ax.set_title(f"Size of {window.bucket}, last {duration(window.seconds)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")

    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
