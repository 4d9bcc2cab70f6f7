"""The plot with the largest prefixes stacked under the total (``by_prefix``)."""

from __future__ import annotations

import pytest

from s3sizer.lambdas import plotting, render
from s3sizer.lambdas.history import History

from .conftest import BUCKET, TABLE
from .test_render_plotting import PNG_SIGNATURE, read_png


@pytest.fixture
def tracked(ddb, clock) -> History:
    hist = History(TABLE, ddb, now=clock, prefix_depth=2)
    for i, (key, size) in enumerate([("a/x", 100), ("b/y", 40), ("a/sub/z", 10), ("top", 5)]):
        clock.advance(1)
        hist.apply(BUCKET, key, f"{i + 1:02X}", size, event="ObjectCreated:Put")
    return hist


def test_prefix_windows_are_the_largest_first_level_prefixes(tracked):
    windows = tracked.prefix_windows(BUCKET, 2.5, top=5)
    assert [w.prefix for w in windows] == ["a/", "b/"]  # depth 1 only: the areas never overlap
    a, b = windows
    assert (a.start_size, [p.total_size for p in a.points]) == (100, [110])
    assert (b.start_size, b.points[0].total_size) == (0, 40)
    assert tracked.prefix_windows(BUCKET, 60, top=1)[0].prefix == "a/"


def test_the_stacked_series_holds_each_prefix_between_its_points(tracked, clock):
    window = tracked.window(BUCKET, 2.5)
    prefixes = tracked.prefix_windows(BUCKET, 2.5)
    times = [window.start, *(p.time for p in window.points), window.end]
    assert render.stacked(prefixes, times) == [[100, 100, 110, 110, 110], [0, 40, 40, 40, 40]]


def test_draw_stacks_the_prefixes_under_the_total(tracked):
    _, png = plotting.draw(tracked, BUCKET, 60, top_prefixes=5)
    assert png.startswith(PNG_SIGNATURE)
    assert read_png(png).shape[:2] == (450, 800)
    _, plain = plotting.draw(tracked, BUCKET, 60)
    assert plain != png


@pytest.mark.parametrize(
    ("event", "top"),
    [({}, 0), ({"by_prefix": True}, 5), ({"by_prefix": 3}, 3), ({"by_prefix": False}, 0)],
)
def test_by_prefix_from_the_event(event, top):
    assert plotting.by_prefix(event) == top


@pytest.mark.parametrize("bad", ["yes", -1, 21, 1.5])
def test_by_prefix_must_be_a_flag_or_a_count(bad):
    with pytest.raises(ValueError, match="by_prefix"):
        plotting.by_prefix({"by_prefix": bad})


def test_a_bucket_without_prefixes_draws_the_total_alone(hist):
    hist.apply(BUCKET, "top", "01", 5, event="ObjectCreated:Put")
    window, png = plotting.draw(hist, BUCKET, 60, top_prefixes=5)
    assert png.startswith(PNG_SIGNATURE) and window.totals.total_size == 5
