"""The plot (render.py) and the plotting function that uploads it."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from s3sizer.lambdas import plotting, render
from s3sizer.lambdas.history import Point, Totals, Window, iso_ms

from .conftest import BUCKET

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
END = datetime(2026, 11, 24, 21, 6, 5, 123000, tzinfo=UTC)


def window(points=(), start_size=0, max_size=27, seconds=10.0) -> Window:
    pts = [Point(iso_ms(END - timedelta(seconds=ago)), size, 1) for ago, size in points]
    totals = Totals(pts[-1].total_size if pts else start_size, 1, max_size, None, len(pts))
    start = END - timedelta(seconds=seconds)
    return Window(BUCKET, start, END, seconds, pts, start_size, 1, totals)


def read_png(data: bytes):
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (2, "2 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (27 * 1024**2, "27 MiB"),
        (5 * 1024**3 + 1024**3 // 10, "5.1 GiB"),
        (3 * 1024**6, "3 EiB"),
        (-2048, "-2 KiB"),
    ],
)
def test_human_bytes(n, text):
    assert render.human_bytes(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "10 s"), (1.5, "1.5 s"), (90, "90 s"), (300, "5 min"), (86400, "24 h")],
)
def test_duration_in_the_title(seconds, text):
    assert render.duration(seconds) == text


def test_the_step_line_is_carried_in_from_the_window_start_to_its_end():
    times, sizes = render.series(window(points=[(8, 18), (5, 27)], start_size=4))
    assert sizes == [4, 18, 27, 27]
    assert times[0] == END - timedelta(seconds=10)
    assert times[1] == END - timedelta(seconds=8)
    assert times[-1] == END


def test_a_history_that_begins_inside_the_window_is_drawn_from_its_first_point():
    """Before its first point the bucket was not tracked: no line at the 0 B it started from."""
    began = window(points=[(8, 5000), (5, 5027)], start_size=0)
    began = dataclasses.replace(began, began=began.points[0].time)
    times, sizes = render.series(began)
    assert sizes == [5000, 5027, 5027]
    assert times[0] == END - timedelta(seconds=8) and times[-1] == END
    assert render.render_png(began).startswith(PNG_SIGNATURE)


def test_only_points_that_moved_a_figure_are_drawn_as_changes():
    """A point that repeats the figures before it (a reconcile that found nothing, a fold
    step's receipt that moved nothing) is no change: no marker."""
    w = window([(8, 18), (6, 18), (4, 27), (2, 27)], start_size=18)

    assert [p.total_size for p in render.changes(w)] == [27]
    began = dataclasses.replace(w, began=w.points[0].time)  # its first point is a change
    assert [p.total_size for p in render.changes(began)] == [18, 27]


def test_an_empty_window_is_a_flat_line_at_the_current_size():
    times, sizes = render.series(window(start_size=2))
    assert sizes == [2, 2]
    assert times == [END - timedelta(seconds=10), END]


def test_render_png_gives_a_png_that_reads_back():
    png = render.render_png(window(points=[(8, 18), (6, 27), (4, 0), (2, 2)], start_size=0))
    assert png.startswith(PNG_SIGNATURE)
    height, width, _ = read_png(png).shape
    assert (width, height) == (800, 450)


@pytest.mark.parametrize(
    "w",
    [
        window(),  # nothing ever happened
        window(start_size=3 * 1024**3, max_size=5 * 1024**3),  # large sizes, flat
        window(points=[(1, 5)], seconds=86400 * 30),  # a long window
    ],
)
def test_render_png_draws_any_window(w):
    assert render.render_png(w, now=END + timedelta(seconds=1)).startswith(PNG_SIGNATURE)


def test_matplotlib_is_imported_only_when_drawing():
    import subprocess
    import sys

    probe = (
        "import sys; import s3sizer.lambdas.render, s3sizer.lambdas.plotting;"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the plotting function ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "default", "expected"),
    [({}, "10", 10.0), ({"window_seconds": 2.5}, "10", 2.5), (None, 7, 7.0), ({"x": 1}, 10, 10.0)],
)
def test_window_seconds_from_the_event_then_the_default(event, default, expected):
    assert plotting.window_seconds(event, default) == expected


@pytest.mark.parametrize("bad", [0, -5, "0", "soon", float("nan"), float("inf"), True, [10]])
def test_window_seconds_must_be_positive(bad):
    with pytest.raises(ValueError, match="window_seconds must be"):
        plotting.window_seconds({"window_seconds": bad}, 10)


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_plot_uploads_the_png_and_says_what_it_drew(s3, hist, clock):
    hist.apply(BUCKET, "a", "01", 18, event="ObjectCreated:Put")
    clock.advance(20)
    hist.apply(BUCKET, "a", "02", 27, event="ObjectCreated:Put")
    result = plotting.plot(s3, hist, BUCKET, ".s3sizer/plot.png", 10.0)
    assert result == {
        "bucket": BUCKET,
        "key": ".s3sizer/plot.png",
        "points": 1,
        "max_size": 27,
        "total_size": 27,
        "window_seconds": 10.0,
    }
    got = s3.get_object(Bucket=BUCKET, Key=".s3sizer/plot.png")
    assert got["ContentType"] == "image/png"
    assert got["Body"].read().startswith(PNG_SIGNATURE)


@pytest.fixture
def plotting_env(s3, ddb, function_env):
    return function_env(plotting)


def test_handler_uses_the_environment_defaults(plotting_env, s3):
    plotting_env.setenv("WINDOW_SECONDS", "30")
    plotting_env.setenv("PLOT_KEY", ".s3sizer/custom.png")
    result = plotting.handler({}, None)
    assert (result["key"], result["window_seconds"], result["points"]) == (
        ".s3sizer/custom.png",
        30.0,
        0,
    )
    assert s3.head_object(Bucket=BUCKET, Key=".s3sizer/custom.png")["ContentLength"] > 0


def test_handler_default_key_and_window(plotting_env, s3):
    result = plotting.handler({"window_seconds": 5}, None)
    assert (result["key"], result["window_seconds"]) == (".s3sizer/plot.png", 5.0)


def test_handler_rejects_a_window_of_zero(plotting_env):
    with pytest.raises(ValueError, match="window_seconds must be more than 0"):
        plotting.handler({"window_seconds": 0}, None)


def test_handler_without_its_settings_says_so(plotting_env):
    plotting_env.delenv("BUCKET_NAME")
    with pytest.raises(RuntimeError, match="BUCKET_NAME"):
        plotting.handler({}, None)
