"""The plotting function: draw the last N seconds of history and save it as a PNG in the bucket.

The PNG goes to ``.s3sizer/plot.png`` by default (own_keys.PLOT_KEY), which the size-tracking
function ignores, so writing the plot never adds a point to what it plots.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile

import boto3

from . import history, render
from .own_keys import PLOT_KEY as DEFAULT_PLOT_KEY

DEFAULT_WINDOW_SECONDS = 10.0
DEFAULT_TOP_PREFIXES = 5


def window_seconds(event, default) -> float:
    """The window asked for (event first, then the default), as a positive finite float."""
    raw = event.get("window_seconds") if isinstance(event, dict) else None
    raw = default if raw is None else raw
    try:
        if isinstance(raw, bool):
            raise TypeError
        seconds = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"window_seconds must be a number of seconds, not {raw!r}") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"window_seconds must be more than 0, not {raw!r}")
    return seconds


def by_prefix(event) -> int:
    """How many of the largest prefixes to stack under the total (event ``by_prefix``: true for
    5, or a count); 0 draws the total alone."""
    raw = event.get("by_prefix") if isinstance(event, dict) else None
    if raw is None or raw is False:
        return 0
    if raw is True:
        return DEFAULT_TOP_PREFIXES
    if isinstance(raw, int) and 0 <= raw <= 20:
        return raw
    raise ValueError(f"by_prefix must be true, false or a count of 0 to 20, not {raw!r}")


def draw(hist: history.History, bucket: str, seconds: float, top_prefixes: int = 0):
    """(window, PNG): the one drawing the plotting function and ``plot --local`` share."""
    window = hist.window(bucket, seconds)
    prefixes = hist.prefix_windows(bucket, seconds, top=top_prefixes) if top_prefixes else None
    return window, render.render_png(window, prefixes=prefixes)


def plot(s3, hist: history.History, bucket: str, key: str, seconds: float, top_prefixes=0) -> dict:
    """Render the window and upload it; what was drawn."""
    window, png = draw(hist, bucket, seconds, top_prefixes)
    s3.put_object(Bucket=bucket, Key=key, Body=png, ContentType="image/png")
    return {
        "bucket": bucket,
        "key": key,
        "points": len(window.points),
        "max_size": window.totals.max_size,
        "total_size": window.totals.total_size,
        "window_seconds": seconds,
    }


@functools.cache
def _config() -> dict:
    """Built once per warm container: clients and settings from the environment."""
    missing = [name for name in ("TABLE_NAME", "BUCKET_NAME") if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} not set: the plotting function needs them")
    # Lambda's home directory is read-only; matplotlib wants somewhere to keep its font cache.
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))
    return {
        "s3": boto3.client("s3"),
        "history": history.History(os.environ["TABLE_NAME"], boto3.client("dynamodb")),
        "bucket": os.environ["BUCKET_NAME"],
        "key": os.environ.get("PLOT_KEY") or DEFAULT_PLOT_KEY,
        "default_window": os.environ.get("WINDOW_SECONDS") or DEFAULT_WINDOW_SECONDS,
    }


def handler(event, context):
    config = _config()
    seconds = window_seconds(event, config["default_window"])
    top = by_prefix(event)
    return plot(config["s3"], config["history"], config["bucket"], config["key"], seconds, top)
