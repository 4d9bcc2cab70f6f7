"""The progress bars of a baseline and of an untrack's deletions (s3sizer/progress.py)."""

from __future__ import annotations

import io

from rich.console import Console

from s3sizer import progress as progress_module
from s3sizer.stack.baseline_run import Progress


def _terminal(monkeypatch) -> io.StringIO:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system=None, width=120)
    monkeypatch.setattr(progress_module, "err", console)
    return screen


def test_a_run_that_never_reports_shows_no_bar(monkeypatch):
    # A second baseline refused at its lease ends before its first report: its one line alone.
    screen = _terminal(monkeypatch)
    with progress_module.baseline_bar("bucket-a"):
        pass
    assert screen.getvalue() == ""


def test_the_bar_appears_at_the_first_report_and_counts_ranges(monkeypatch):
    screen = _terminal(monkeypatch)
    with progress_module.baseline_bar("bucket-a") as on_progress:
        assert screen.getvalue() == ""
        report = Progress()
        report.ranges, report.ranges_done, report.objects = 4, 1, 1500
        on_progress(report)
        report.ranges_done, report.objects = 3, 4200
        on_progress(report)
    shown = screen.getvalue()
    assert "baseline of bucket-a" in shown
    assert "3/4 ranges" in shown
    assert "4,200 objects listed" in shown


def test_before_its_ranges_are_known_the_bar_counts_them_as_unknown(monkeypatch):
    screen = _terminal(monkeypatch)
    with progress_module.baseline_bar("bucket-a") as on_progress:
        on_progress(Progress(objects=10))
    assert "0/? ranges" in screen.getvalue()
    assert "None" not in screen.getvalue()


def _pipe(monkeypatch) -> tuple[io.StringIO, list[float]]:
    """stderr as a pipe, and the clock the bars read (set now[0])."""
    log = io.StringIO()
    monkeypatch.setattr(progress_module, "err", Console(file=log, force_terminal=False))
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return log, now


def test_in_a_pipe_a_line_comes_every_30_seconds_instead_of_a_bar(monkeypatch):
    log, now = _pipe(monkeypatch)
    with progress_module.baseline_bar("bucket-a") as on_progress:
        for second in range(0, 95, 5):  # a report every 5 s for 90 s
            now[0] = 1000.0 + second
            on_progress(Progress(objects=second * 100, ranges_done=second // 30, ranges=4))
    lines = log.getvalue().splitlines()
    assert lines == [
        "baseline of bucket-a: 3,000 objects listed (100/s), 1/4 ranges done",
        "baseline of bucket-a: 6,000 objects listed (100/s), 2/4 ranges done",
        "baseline of bucket-a: 9,000 objects listed (100/s), 3/4 ranges done",
    ]


def test_of_a_bucket_counted_before_the_bar_counts_its_objects(monkeypatch):
    # A reconcile, or a change of route or depth: the bar fills by objects, so that one large
    # folder is not one range among small ones; the ranges are still shown done of all.
    screen = _terminal(monkeypatch)
    with progress_module.baseline_bar("bucket-a") as on_progress:
        on_progress(Progress(objects=1500, ranges_done=1, ranges=4, expected=30000, carried=6000))
    shown = screen.getvalue()
    assert "1/4 ranges" in shown
    assert "1,500 objects listed" in shown


def test_in_a_pipe_a_bucket_counted_before_shows_of_how_many(monkeypatch):
    log, now = _pipe(monkeypatch)
    with progress_module.baseline_bar("bucket-a") as on_progress:
        now[0] = 1030.0
        on_progress(Progress(objects=3000, ranges_done=1, ranges=4, expected=30000, carried=6000))
    assert log.getvalue().splitlines() == [
        # a run stopped before had merged 6,000: 9,000 of the 30,000 the bucket held
        "baseline of bucket-a: 9,000 of about 30,000 objects listed (100/s), 1/4 ranges done",
    ]


def test_a_bar_shows_under_the_command_s_spinner(monkeypatch):
    # Every command runs its steps under a spinner (cli/app.py StepProgress): a second live
    # display on one console needs rich 14.1, the floor; rich before it raised LiveError.
    screen = _terminal(monkeypatch)
    with progress_module.err.status("Untracking…"):
        with progress_module.deletion_bar("bucket-a") as on_deleted:
            on_deleted(25)
        with progress_module.baseline_bar("bucket-a") as on_progress:
            on_progress(Progress(objects=10))
    assert "deleting bucket-a's items" in screen.getvalue()


def test_the_deletion_count_adds_up_reports_from_every_worker(monkeypatch):
    screen = _terminal(monkeypatch)
    with progress_module.deletion_bar("bucket-a") as on_deleted:
        assert screen.getvalue() == ""
        for count in (25, 25, 7):
            on_deleted(count)
    assert "57 deleted" in screen.getvalue()


def test_in_a_pipe_the_deletions_are_a_line_every_30_seconds(monkeypatch):
    log, now = _pipe(monkeypatch)
    with progress_module.deletion_bar("bucket-a") as on_deleted:
        for second in range(5, 65, 5):
            now[0] = 1000.0 + second
            on_deleted(500)
    assert log.getvalue().splitlines() == [
        "untrack of bucket-a: 3,000 items deleted (100/s)",
        "untrack of bucket-a: 6,000 items deleted (100/s)",
    ]


def test_a_versioned_bucket_s_progress_counts_its_objects_not_its_versions(monkeypatch):
    # The bucket held 4,450 objects (its current versions); a listing of its versions reads
    # three times as many entries, which must not show as 12,761 of about 4,450.
    log, now = _pipe(monkeypatch)
    with progress_module.baseline_bar("bucket-v") as on_progress:
        now[0] = 1030.0
        on_progress(Progress(listed=12_761, objects=3_000, ranges_done=20, ranges=21,
                             expected=4_450))  # fmt: skip
    assert log.getvalue().splitlines() == [
        "baseline of bucket-v: 3,000 of about 4,450 objects listed (100/s), 20/21 ranges done",
    ]
