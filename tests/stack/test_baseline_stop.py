"""A baseline stopped while its ranges wait for pages keeps every page S3 answered: the same
command run again lists almost none of the keys the stopped run was given, whichever thread
asked for them (a range's listing, or a worker reading a folder's first page to decide a split).
"""

from __future__ import annotations

import threading
import time

import pytest

from s3sizer.stack import listing
from s3sizer.stack.baseline_ranges import baseline_state
from s3sizer.stack.baseline_run import Interrupted, listing_client
from tests.stack import test_baseline_run as base
from tests.stack.test_baseline_ranges import new_run
from tests.stack.test_baseline_run import BUCKET, assert_exact

stack, live = base.stack, base.live

FOLDERS, PER_FOLDER, PAGE = 6, 120, 50
OPERATIONS = ("ListObjectsV2", "ListObjectVersions")


@pytest.fixture(params=[False, True], ids=["unversioned", "versioned"])
def versioned(request) -> bool:
    return request.param


@pytest.fixture
def folders(live, monkeypatch, versioned) -> int:
    """Six folders of 120 keys, listed in pages of 50, and five keys at the top level; on a
    versioned bucket a third of them have a noncurrent version or a delete marker too."""
    monkeypatch.setattr(listing, "PAGE_SIZE", PAGE)
    names = [f"f{d}/k{i:03d}" for d in range(FOLDERS) for i in range(PER_FOLDER)]
    names += [f"top{i}" for i in range(5)]
    if versioned:
        live.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for i, key in enumerate(names):
        live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"s" * (i % 5 + 1))
        if versioned and i % 6 == 0:
            live.s3.delete_object(Bucket=BUCKET, Key=key)
        elif versioned and i % 3 == 0:
            live.s3.put_object(Bucket=BUCKET, Key=key, Body=b"s")
    return len(names)


class Listed:
    """Every key each listing page gave, from any thread, per run (not the one-key requests
    that find where a folder's keys lie, to split it)."""

    def __init__(self, s3, stop_when=None, stop_after=None, late=0.5):
        self.keys: list[str] = []
        self.late = late  # how long the answer to the request that stops the run takes
        self.stop_when = stop_when  # (params) -> bool, checked as each request goes out
        self.stop_after = stop_after  # (answer) -> bool, checked as each answer comes in
        self._lock = threading.Lock()
        self._events = s3.meta.events  # the session's clients are shared: unhooked when done
        for name in OPERATIONS:
            self._events.register(f"before-parameter-build.s3.{name}", self._asking)
            self._events.register(f"after-call.s3.{name}", self._answered)

    def done(self) -> set[str]:
        for name in OPERATIONS:
            self._events.unregister(f"before-parameter-build.s3.{name}", self._asking)
            self._events.unregister(f"after-call.s3.{name}", self._answered)
        return set(self.keys)

    def _asking(self, params, **_) -> None:
        if self.stop_when is not None and self.stop_when(params):
            self.stop_when = None
            self.on_stop()
            time.sleep(self.late)  # the page comes late: the merge waits for it, stopped

    def _answered(self, parsed, **_) -> None:
        if parsed.get("MaxKeys") == 1:
            return
        with self._lock:
            for part in ("Contents", "Versions", "DeleteMarkers"):
                self.keys += [item["Key"] for item in parsed.get(part, [])]
        if self.stop_after is not None and self.stop_after(parsed):
            self.stop_after = None
            self.on_stop()

    def on_stop(self) -> None:
        raise NotImplementedError


def stopped_run(
    stack, versioned: bool, workers: int, stop_when=None, stop_after=None, late=0.5
) -> set[str]:
    """The keys S3 gave a run stopped as ``stop_when(params)`` first holds for a request (its
    answer ``late`` seconds later), or ``stop_after(answer)`` for an answer."""
    s3 = listing_client(stack.aws)
    run = new_run(stack, s3, workers=workers, versioned=versioned)
    listed = Listed(s3, stop_when, stop_after, late)
    listed.on_stop = run._stop.set  # what Ctrl-C in the main thread does to the workers
    with pytest.raises(Interrupted):
        run.run()
    return listed.done()


def run_again(stack, versioned: bool) -> set[str]:
    """The keys S3 gives the same baseline run again, to its end."""
    s3 = listing_client(stack.aws)
    listed = Listed(s3)
    new_run(stack, s3, workers=4, versioned=versioned).run()
    return listed.done()


def is_a_folders_first_page(params: dict) -> bool:
    return params.get("Prefix", "").startswith("f") and not is_a_next_page(params)


def is_a_next_page(params: dict) -> bool:
    """A page after the first: ListObjectsV2's token, ListObjectVersions' markers."""
    return any(params.get(name) for name in ("ContinuationToken", "StartAfter", "KeyMarker"))


def is_a_read_ahead(params: dict) -> bool:
    """A range's next page, asked for while it merges the one before (not the one-key requests
    that decide a split, which start after a name too)."""
    return params.get("MaxKeys") != 1 and any(
        params.get(name) for name in ("ContinuationToken", "KeyMarker")
    )


@pytest.mark.parametrize(
    "stop_when",
    [
        # a folder's first page, asked for by its worker (to decide a split) or by its listing
        pytest.param(is_a_folders_first_page, id="while-a-first-page-is-read"),
        # a range's next page, read ahead while the one before is merged
        pytest.param(is_a_read_ahead, id="while-a-page-reads-ahead"),
    ],
)
def test_a_stop_keeps_the_pages_s3_answered_and_the_run_again_lists_them_no_more(
    stack, live, versioned, folders, stop_when
):
    # GIVEN a run stopped as one of its requests goes out, its answer coming half a second later
    first = stopped_run(stack, versioned, workers=8, stop_when=stop_when)
    assert baseline_state(live.h, BUCKET)["state"] == "in_progress"

    # WHEN the same baseline runs again
    second = run_again(stack, versioned)

    # THEN it ends exact, and lists again none of the keys the stopped run was given, except,
    # of a versioned bucket, a range's last key before the stop (its versions might have gone
    # on in the next page): nothing like a page of 50
    assert_exact(live)
    assert len(first & second) <= (FOLDERS + 1 if versioned else 0), sorted(first & second)
    assert len(first & second) <= len(first) // 10
    assert baseline_state(live.h, BUCKET) == {"state": "complete"}


def test_a_range_whose_last_page_was_read_ends_done_after_a_stop(stack, live, versioned, folders):
    # GIVEN a run stopped as the last folder's last page comes in
    last = f"f{FOLDERS - 1}/"

    def its_last_page(answer: dict) -> bool:
        return answer.get("Prefix") == last and not answer.get("IsTruncated")

    first = stopped_run(stack, versioned, workers=2, stop_after=its_last_page)
    assert {k for k in first if k.startswith(last)}

    # WHEN the same baseline runs again
    second = run_again(stack, versioned)

    # THEN it lists nothing of that folder: the range ended done, its listing's end costing no
    # request after the stop, and so it has no last key to list again
    assert not [k for k in second if k.startswith(last)]
    assert_exact(live)


def test_a_stopped_range_gives_up_a_page_that_does_not_come(
    stack, live, versioned, folders, monkeypatch
):
    # GIVEN a stop that waits 0.3 s for a page in flight, and a page that takes 3 s to come
    monkeypatch.setattr(listing, "WAIT_AFTER_STOP_SECONDS", 0.3)
    late_folder = []

    def a_folders_next_page(params: dict) -> bool:
        if is_a_read_ahead(params) and params.get("Prefix", "").startswith("f"):
            late_folder.append(params["Prefix"])
            return True
        return False

    # WHEN the run stops as that page is asked for
    stopped_run(stack, versioned, workers=8, stop_when=a_folders_next_page, late=3.0)
    second = run_again(stack, versioned)

    # THEN it ended without it (a stalled request does not hold Ctrl-C), and the run again
    # lists it, and ends exact
    (prefix,) = late_folder
    assert f"{prefix}k050" in second  # that folder's second page
    assert_exact(live)
