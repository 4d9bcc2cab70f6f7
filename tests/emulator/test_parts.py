"""The emulator's pure parts, tested in-process: settings, S3 records, layers, async delivery."""

from __future__ import annotations

import threading
import zipfile

import pytest

from s3sizer.emulator import code_store, s3_events
from s3sizer.emulator.config import FaultDice, FaultRates, load_settings, parse_faults
from s3sizer.emulator.delivery import AsyncDelivery
from s3sizer.errors import EmulatorError


def test_fault_settings_parse_and_reject_nonsense():
    assert parse_faults("duplicate=0.1, reorder=0.2,crash=1,seed=7") == FaultRates(0.1, 0.2, 1.0, 7)
    assert parse_faults("") == FaultRates()
    for bad in ("explode=0.1", "crash=2", "crash=often", "seed"):
        with pytest.raises(EmulatorError, match="S3SIZER_EMULATOR_FAULTS"):
            parse_faults(bad)


def test_constructor_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("S3SIZER_EMULATOR_CONCURRENCY", "9")
    monkeypatch.setenv("S3SIZER_EMULATOR_RETRY_BACKOFF", "1.5")
    assert (load_settings().concurrency, load_settings().retry_backoff) == (9, 1.5)
    assert load_settings(concurrency=2, retry_backoff=0).concurrency == 2
    monkeypatch.setenv("S3SIZER_EMULATOR_CONCURRENCY", "0")
    with pytest.raises(EmulatorError, match="at least 1"):
        load_settings()


def _change(event_name: str, version_id: str | None = None) -> s3_events.ObjectChange:
    return s3_events.ObjectChange(
        event_name=event_name, account_id="123456789012", region="eu-west-1",
        bucket_name="b", bucket_arn="arn:aws:s3:::b", key="a b/ü+c", size=5, etag="abc",
        version_id=version_id, sequencer="0000000000000001", event_time=s3_events.event_time(),
        source_ip="127.0.0.1", request_id="R", host_id="H",
    )  # fmt: skip


def test_removal_records_carry_no_size_and_no_etag():
    created = s3_events.object_record(_change("s3:ObjectCreated:Put"), "cfg")
    removed = s3_events.object_record(_change("s3:ObjectRemoved:DeleteMarkerCreated", "v1"), "cfg")
    assert created["s3"]["object"] == {
        "key": "a+b/%C3%BC%2Bc",
        "size": 5,
        "eTag": "abc",
        "sequencer": "0000000000000001",
    }
    assert removed["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert removed["s3"]["object"] == {
        "key": "a+b/%C3%BC%2Bc",
        "versionId": "v1",
        "sequencer": "0000000000000001",
    }


def test_sequencers_are_upper_case_hex_and_always_grow():
    sequencer = s3_events.Sequencer()
    values = [sequencer.next() for _ in range(1000)]
    assert all(len(v) == 16 and v == v.upper() for v in values)
    assert values == sorted(values) and len(set(values)) == 1000


def _layer(tmp_path, *names: str):
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_pure_python_layers_run_here_and_foreign_extensions_do_not(tmp_path):
    assert code_store.why_not_runnable(_layer(tmp_path / "pure", "python/pkg/mod.py")) is None
    foreign = _layer(tmp_path / "foreign", "python/pkg/_c.cpython-39-aarch64-linux-gnu.so")
    assert "another Python" in code_store.why_not_runnable(foreign)
    windows = _layer(tmp_path / "windows", "python/pkg/_c.pyd")
    assert code_store.why_not_runnable(windows) is not None


def test_zips_are_extracted_once_per_content(tmp_path):
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", "X = 1")
    store = code_store.CodeStore()
    try:
        first = store.function_dir(archive.read_bytes())
        assert store.function_dir(archive.read_bytes()) == first
        assert (first / "app.py").read_text() == "X = 1"
    finally:
        store.remove()
    assert not store.root.exists()


class ScriptedDice(FaultDice):
    """Fault decisions taken from a list instead of a random source."""

    def __init__(self, decisions: list[bool]):
        super().__init__(FaultRates(duplicate=0.5, reorder=0.5))
        self.decisions = decisions

    def roll(self, rate: float) -> bool:
        return self.decisions.pop(0)


def test_a_failed_delivery_is_retried_twice_with_a_growing_back_off():
    delivery = AsyncDelivery(retry_backoff=0.01, dice=FaultDice(FaultRates()))
    attempts = []
    delivery.submit(lambda number: attempts.append(number) or False, "always failing")
    assert delivery.wait_idle(5)
    assert attempts == [1, 2, 3]
    delivery.stop()


def test_duplicates_are_delivered_twice_and_reordered_events_come_after_later_ones():
    # GIVEN "first" held back (no duplicate, reorder), then "second" duplicated (duplicate, no
    # reorder for either copy)
    delivery = AsyncDelivery(retry_backoff=0, dice=ScriptedDice([False, True, True, False, False]))
    delivered, lock = [], threading.Lock()

    def deliver(name):
        def attempt(number):
            with lock:
                delivered.append(name)
            return True

        return attempt

    delivery.submit(deliver("first"), "first")
    delivery.submit(deliver("second"), "second")
    assert delivery.wait_idle(5)
    assert delivered == ["second", "second", "first"]
    delivery.stop()
