"""The lifecycle clock: AWS's rounding with real days, a sped-up day from the environment, and
the emulator's control endpoint that runs the rules as of a later day."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from s3sizer.emulator import Emulator
from s3sizer.emulator.config import LIFECYCLE_DAY_ENV, load_settings
from s3sizer.emulator.lifecycle_rules import LifecycleClock, colder, parse_rule
from s3sizer.errors import EmulatorError

from .helpers import poll
from .lifecycle_helpers import Bucket


def test_real_days_round_up_to_the_next_midnight_utc():
    clock = LifecycleClock()
    assert clock.due(datetime(2026, 1, 15, 10, 30), 3) == datetime(2026, 1, 19)
    assert clock.due(datetime(2026, 1, 15), 3) == datetime(2026, 1, 18)  # already a midnight
    assert clock.sweep_interval == 60


def test_a_sped_up_day_counts_seconds_without_rounding():
    clock = LifecycleClock(day_seconds=2)
    assert clock.due(datetime(2026, 1, 15, 10, 30), 3) == datetime(2026, 1, 15, 10, 30, 6)
    assert clock.sweep_interval == 1
    assert LifecycleClock(day_seconds=0.4).sweep_interval == 0.2


def test_the_day_comes_from_the_environment_and_must_be_positive(monkeypatch):
    monkeypatch.setenv(LIFECYCLE_DAY_ENV, "2")
    assert load_settings().lifecycle_day_seconds == 2
    assert load_settings(lifecycle_day_seconds=5).lifecycle_day_seconds == 5
    for bad in ("0", "-1", "soon", "inf"):
        monkeypatch.setenv(LIFECYCLE_DAY_ENV, bad)
        with pytest.raises(EmulatorError, match=LIFECYCLE_DAY_ENV):
            load_settings()


def test_rules_are_read_as_sent_including_what_moto_drops():
    deprecated = parse_rule({"ID": "a", "Status": "Enabled", "Prefix": "logs/"})
    assert deprecated.filter.prefix == "logs/"
    both = parse_rule(
        {
            "Status": "Enabled",
            "Filter": {"And": {"Tag": {"Key": "k", "Value": "v"}, "ObjectSizeGreaterThan": "5"}},
            "NoncurrentVersionExpiration": {"NoncurrentDays": "3", "NewerNoncurrentVersions": "2"},
        }
    )
    assert (both.filter.tags, both.filter.size_greater_than) == ({"k": "v"}, 5)
    assert (both.noncurrent_days, both.newer_noncurrent_versions) == (3, 2)
    assert not parse_rule({"Status": "Disabled", "Filter": None}).enabled


def _post(url: str, method: str = "POST") -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method)) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_with_a_sped_up_day_objects_expire_on_their_own(monkeypatch):
    monkeypatch.setenv(LIFECYCLE_DAY_ENV, "0.3")
    with Emulator(port=0) as aws:
        bucket = Bucket(aws, "clock-fast", versioning="Enabled")
        bucket.put("soon", 1)
        bucket.put("later", 1)
        bucket.rules(
            {"ID": "soon", "Status": "Enabled", "Prefix": "soon", "Expiration": {"Days": 1}},
            {"ID": "later", "Status": "Enabled", "Prefix": "later", "Expiration": {"Days": 1000}},
        )

        def expired():
            return bucket.keys() == ["later"]

        poll(expired, timeout=20)
        assert [r["eventName"] for r in bucket.records()] == [
            "LifecycleExpiration:DeleteMarkerCreated"
        ]


def test_the_control_endpoint_runs_the_rules_as_of_a_later_day():
    with Emulator(port=0) as aws:
        bucket = Bucket(aws, "clock-advance")
        bucket.put("tmp/a", 1)
        bucket.rules({"ID": "t", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 7}})
        advance = f"{aws.endpoint_url}/_s3sizer/lifecycle/advance"

        status, report = _post(f"{advance}?days=3")
        assert (status, report["objects_expired"], bucket.keys()) == (200, 0, ["tmp/a"])
        status, report = _post(f"{advance}?days=8.5")
        assert (status, report["objects_expired"], bucket.keys()) == (200, 1, [])

        assert _post(f"{advance}?days=-1")[0] == 400
        assert _post(f"{advance}?days=soon")[0] == 400
        assert _post(advance, method="GET")[0] == 405
        assert _post(f"{aws.endpoint_url}/_s3sizer/nothing")[0] == 404


@pytest.mark.parametrize(
    "current, target, moves",
    [
        ("STANDARD", "GLACIER", True),
        ("ONEZONE_IA", "GLACIER", True),
        ("GLACIER", "STANDARD", False),  # up the waterfall
        ("STANDARD", "REDUCED_REDUNDANCY", False),  # no rule moves into it
        ("ONEZONE_IA", "GLACIER_IR", False),  # down, yet unsupported
        ("INTELLIGENT_TIERING", "STANDARD_IA", False),
    ],
)
def test_a_rule_moves_only_what_s3_s_lifecycle_supports(current, target, moves):
    assert colder(target, current) is moves
