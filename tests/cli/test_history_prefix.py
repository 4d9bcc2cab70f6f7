"""`history --prefix`: an untracked prefix is an error that says what is tracked; a tracked one
with no points is an empty answer with a hint. And counts read as English does."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.checks import one_clean_error_line
from tests.cli.conftest import DEFAULT_BUCKET


@pytest.mark.parametrize(
    "prefix, words",
    [
        ("logs", "A tracked prefix ends with '/', e.g. 'logs/'"),
        ("logs/2026/", "Run `s3sizer setup --prefix-depth 2` to track it"),
        ("a/b/c/d/e/f/", "more than 5 slashes are never tracked"),
        ("", "Name one, e.g. 'logs/' (`s3sizer status --by-prefix` lists them)"),
    ],
)
def test_an_untracked_prefix_is_an_error_naming_the_depth_tracked(cli, aws, prefix, words):
    cli("setup", "--prefix-depth", "1")

    result = cli("history", "--prefix", prefix, "--json", code=1)

    line = one_clean_error_line(result)
    assert f"{prefix!r} is not a tracked prefix" in line
    assert "at most 1 slash" in line
    assert words in line
    assert result.stdout == ""


def test_no_prefix_is_tracked_at_depth_0(cli, aws):
    cli("setup", "--prefix-depth", "0")

    result = cli("history", "--prefix", "logs/", code=1)

    assert "--prefix-depth 1" in one_clean_error_line(result)


def test_a_tracked_prefix_with_no_points_is_empty_with_a_hint(cli, aws):
    cli("setup", "--prefix-depth", "2")

    result = cli("history", "--prefix", "logs/2026/", "--json")

    assert json.loads(result.stdout) == []
    assert "No points for 'logs/2026/'" in result.stderr
    assert "status --by-prefix" in result.stderr

    # Within --since, the hint is about the stretch, not the prefix's whole history.
    result = cli("history", "--prefix", "logs/2026/", "--since", "1h", "--json")
    assert "nothing under 'logs/2026/' changed in that stretch" in result.stderr
    assert "history --prefix logs/2026/` without --since" in result.stderr


def test_a_tracked_prefix_shows_its_points(cli, aws):
    cli("setup", "--prefix-depth", "1")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="logs/a", Body=b"abc")
    cli("reconcile")

    result = cli("history", "--prefix", "logs/", "--json")

    assert [p["total_size"] for p in json.loads(result.stdout)] == [3]
    assert result.stderr == ""


def test_one_object_is_one_object_not_one_objects(cli, aws):
    cli("setup")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="a", Body=b"x")

    reconciled = cli("reconcile").stdout
    status = cli("status").stdout

    assert reconciled.startswith("1 B in 1 object; drift +1 byte, +1 object (corrected)")
    assert "(1 byte)" in status
    assert "objects " not in reconciled


def test_a_stretch_with_no_points_is_empty_with_a_hint(cli, aws, monkeypatch):
    from s3sizer import reports

    cli("setup")
    monkeypatch.setattr(reports, "history", lambda stack, since, prefix: [])  # a quiet hour

    result = cli("history", "--since", "1h", "--json")

    assert json.loads(result.stdout) == []
    assert f"No points in the last 60 min: nothing in {DEFAULT_BUCKET} changed" in result.stderr
    assert "without --since" in result.stderr
