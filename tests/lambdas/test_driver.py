"""The driver's workload against moto, with a fake tracker and a fake Lambda; no real waiting."""

from __future__ import annotations

import dataclasses
import io
import json
from types import SimpleNamespace

import boto3
import pytest

from s3sizer.lambdas import driver, plotting
from s3sizer.lambdas.size_tracking import apply_event
from s3sizer.lambdas.versions import normalise

from . import events
from .conftest import BUCKET

PLOTTING = "s3sizer-plotting"


class FakeTime:
    """monotonic() and sleep() on one fake clock: sleeping only moves the clock."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NotifyingS3:
    """The real (moto) S3 client; each write queues the record S3 would send for it."""

    def __init__(self, client):
        self._client, self.pending, self.bodies = client, [], []
        self._sequencers: dict[str, int] = {}

    def _sequencer(self, key: str) -> str:
        self._sequencers[key] = self._sequencers.get(key, 0) + 1
        return events.sequencer(self._sequencers[key])

    def put_object(self, *, Bucket, Key, Body, **kwargs):
        self.bodies.append((Key, Body))
        response = self._client.put_object(Bucket=Bucket, Key=Key, Body=Body, **kwargs)
        self.pending.append(events.created(Bucket, Key, len(Body), self._sequencer(Key)))
        return response

    def delete_object(self, *, Bucket, Key):
        self.bodies.append((Key, None))
        response = self._client.delete_object(Bucket=Bucket, Key=Key)
        self.pending.append(events.removed(Bucket, Key, self._sequencer(Key)))
        return response

    def __getattr__(self, name):
        return getattr(self._client, name)


class LaggingTracker:
    """The history the driver reads, fed by a size-tracking function that runs late.

    Queued records are applied only every ``lag``-th time the driver looks, so the driver must
    poll; with ``lag=None`` the tracker never runs.
    """

    def __init__(self, hist, s3: NotifyingS3, lag: int | None = 3):
        self._hist, self._s3, self._lag, self.looks = hist, s3, lag, 0

    def key_state(self, bucket, key):
        self.looks += 1
        if self._lag and self.looks % self._lag == 0:
            self.run_tracker()
        return self._hist.key_state(bucket, key)

    def run_tracker(self):
        batch, self._s3.pending[:] = list(self._s3.pending), []
        apply_event(self._hist, events.envelope(*batch))

    def __getattr__(self, name):
        return getattr(self._hist, name)


class FakeLambda:
    """Records each Invoke; runs the plotting function in-process when given its parts."""

    def __init__(self, plot=None, fail: bool = False):
        self.invokes, self._plot, self._fail = [], plot, fail

    def invoke(self, **kwargs):
        self.invokes.append(kwargs)
        if self._fail:
            payload = b'{"errorMessage": "boom", "errorType": "ValueError"}'
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(payload)}
        result = self._plot(json.loads(kwargs["Payload"])) if self._plot else {}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return NotifyingS3(client)


def run(s3, lambda_client, tracker, fake_time, **kw):
    return driver.run(
        s3,
        lambda_client,
        tracker,
        BUCKET,
        PLOTTING,
        pause=kw.pop("pause", 1.5),
        deadline=kw.pop("deadline", 20),
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        **kw,
    )


def test_the_workload_waits_for_the_tracker_then_plots(s3, hist):
    fake_time, lam = FakeTime(), FakeLambda()
    tracker = LaggingTracker(hist, s3, lag=3)

    result = run(s3, lam, tracker, fake_time)

    assert result == {
        "bucket": BUCKET,
        "operations": [
            {
                "op": "create",
                "key": "assignment1.txt",
                "bytes": 18,
                "total_size": 18,
                "object_count": 1,
            },
            {
                "op": "overwrite",
                "key": "assignment1.txt",
                "bytes": 27,
                "total_size": 27,
                "object_count": 1,
            },
            {
                "op": "delete",
                "key": "assignment1.txt",
                "bytes": 0,
                "total_size": 0,
                "object_count": 0,
            },
            {
                "op": "create",
                "key": "assignment2.txt",
                "bytes": 2,
                "total_size": 2,
                "object_count": 1,
            },
        ],
    }
    assert s3.bodies == [
        ("assignment1.txt", b"Empty Assignment 1"),
        ("assignment1.txt", b"Empty Assignment 2222222222"),
        ("assignment1.txt", None),
        ("assignment2.txt", b"33"),
    ]
    assert [p.total_size for p in hist.points(BUCKET)][-4:] == [18, 27, 0, 2]
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.max_size) == (2, 1, 27)
    assert [(i["FunctionName"], i["InvocationType"]) for i in lam.invokes] == [
        (PLOTTING, "RequestResponse")
    ] * 4
    # three pauses between the four operations, and polls while the tracker lagged: all injected
    assert fake_time.sleeps.count(1.5) == 3
    assert fake_time.sleeps.count(driver.POLL_SECONDS) >= 4


class FoldingTracker(LaggingTracker):
    """As a fold stack shows it: key items marked, the totals ``behind`` reads behind them."""

    def __init__(self, hist, s3, behind: int = 3):
        super().__init__(hist, s3, lag=2)
        self.behind, self.shown, self.stale_reads = behind, None, 0

    def key_state(self, bucket, key):
        state = super().key_state(bucket, key)
        return state and dataclasses.replace(state, folded=True)

    def totals(self, bucket):
        real = self._hist.totals(bucket)
        if self.shown is None or self.stale_reads >= self.behind:
            self.shown, self.stale_reads = real, 0
        elif real != self.shown:
            self.stale_reads += 1
        return self.shown


def test_on_the_fold_path_each_operation_reports_the_totals_once_folded(s3, hist):
    fake_time = FakeTime()
    tracker = FoldingTracker(hist, s3)

    result = run(s3, FakeLambda(), tracker, fake_time)

    shown = [(o["total_size"], o["object_count"]) for o in result["operations"]]
    assert shown == [(18, 1), (27, 1), (0, 0), (2, 1)]


def test_on_the_fold_path_another_writer_s_change_ends_the_wait(s3, hist):
    fake_time = FakeTime()
    tracker = FoldingTracker(hist, s3, behind=0)
    s3.put_object(Bucket=BUCKET, Key="theirs.txt", Body=b"12345")  # lands with the first change

    result = run(s3, FakeLambda(), tracker, fake_time, deadline=60)

    assert result["operations"][0]["total_size"] == 23
    assert fake_time.now - 1000.0 < 60  # never waited for figures it could not see


def test_plotting_is_invoked_only_once_the_operation_is_recorded(s3, hist):
    fake_time, tracker = FakeTime(), LaggingTracker(hist, s3, lag=4)
    seen = []

    def plot(payload):
        seen.append(hist.totals(BUCKET).total_size)
        return {}

    run(s3, FakeLambda(plot), tracker, fake_time, window_seconds=30)
    assert seen == [18, 27, 0, 2]


def test_the_window_is_passed_to_the_plotting_function(s3, hist):
    lam = FakeLambda()
    run(s3, lam, LaggingTracker(hist, s3, lag=1), FakeTime(), window_seconds=30)
    assert json.loads(lam.invokes[0]["Payload"]) == {"window_seconds": 30}


def test_a_tracker_that_never_records_times_out_clearly(s3, hist):
    fake_time, lam = FakeTime(), FakeLambda()
    with pytest.raises(TimeoutError, match=r"did not record the create of s3://.*assignment1.txt"):
        run(s3, lam, LaggingTracker(hist, s3, lag=None), fake_time, deadline=5)
    assert lam.invokes == []
    assert 5 <= sum(fake_time.sleeps) <= 5 + driver.POLL_SECONDS


def test_a_failing_plotting_function_fails_the_run(s3, hist):
    with pytest.raises(RuntimeError, match=r"plotting function s3sizer-plotting failed: .*boom"):
        run(s3, FakeLambda(fail=True), LaggingTracker(hist, s3, lag=1), FakeTime())


def test_a_second_run_still_waits_for_a_same_size_rewrite(s3, hist):
    # assignment2.txt already holds 2 bytes after a first run: its "create" rewrites 2 bytes,
    # which must not look recorded before the tracker has seen it.
    tracker = LaggingTracker(hist, s3, lag=1)
    run(s3, FakeLambda(), tracker, FakeTime())
    seen = []
    lagging = LaggingTracker(hist, s3, lag=5)
    lam = FakeLambda(lambda _: seen.append(hist.key_state(BUCKET, "assignment2.txt").sequencer))
    run(s3, lam, lagging, FakeTime())
    assert seen[-1] == normalise(events.sequencer(2))


def test_the_whole_loop_in_process_never_counts_the_plot(s3, hist):
    # The fake Lambda runs the real plotting function, writing plot.png through the same
    # notifying client: its record reaches the tracker, which must ignore it.
    tracker = LaggingTracker(hist, s3, lag=2)

    def plot(payload):
        return plotting.plot(s3, hist, BUCKET, ".s3sizer/plot.png", payload["window_seconds"])

    run(s3, FakeLambda(plot), tracker, FakeTime(), window_seconds=60)
    tracker.run_tracker()
    assert [p.total_size for p in hist.points(BUCKET)] == [18, 27, 0, 2]
    assert hist.key_state(BUCKET, ".s3sizer/plot.png") is None
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [".s3sizer/plot.png", "assignment2.txt"]


def test_handler_takes_its_settings_and_the_pause_override(monkeypatch, s3, hist):
    fake_time, lam = FakeTime(), FakeLambda()
    config = {
        "s3": s3,
        "lambda_client": lam,
        "history": LaggingTracker(hist, s3, lag=1),
        "bucket": BUCKET,
        "plotting_function": PLOTTING,
        "pause": 1.5,
        "deadline": 20.0,
    }
    monkeypatch.setattr(driver, "_config", lambda: config)
    fake_clock = SimpleNamespace(sleep=fake_time.sleep, monotonic=fake_time.monotonic)
    monkeypatch.setattr(driver, "time", fake_clock)
    result = driver.handler({"pause_seconds": 0.25, "window_seconds": 12}, None)
    assert [o["total_size"] for o in result["operations"]] == [18, 27, 0, 2]
    assert fake_time.sleeps == [0.25] * 3
    assert json.loads(lam.invokes[-1]["Payload"]) == {"window_seconds": 12}


def test_driver_config_reads_the_environment(monkeypatch, aws):
    driver._config.cache_clear()
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("PLOTTING_FUNCTION", PLOTTING)
    monkeypatch.setenv("DRIVER_PAUSE_SECONDS", "0.5")
    try:
        config = driver._config()
        assert (config["pause"], config["deadline"], config["plotting_function"]) == (
            0.5,
            120.0,  # S3 documents that an event can take a minute or longer
            PLOTTING,
        )
        driver._config.cache_clear()
        monkeypatch.delenv("PLOTTING_FUNCTION")
        with pytest.raises(RuntimeError, match="PLOTTING_FUNCTION"):
            driver._config()
    finally:
        driver._config.cache_clear()
