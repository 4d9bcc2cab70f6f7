"""The command line's value types, and the settings, as plain functions."""

from __future__ import annotations

import pytest
import typer

from s3sizer.cli.inputs import TEN_YEARS, Duration, FunctionSetting
from s3sizer.settings import is_loopback_url, resolve
from s3sizer.stack.model import Names
from tests.checks import one_clean_error_line


@pytest.mark.parametrize(
    "text, seconds",
    [("90", 90), ("90s", 90), ("1.5", 1.5), ("10m", 600), ("2h", 7200), ("1d", 86400)],
)
def test_a_duration_is_seconds_or_a_number_with_a_unit(text, seconds):
    assert Duration()(text) == seconds


def test_a_default_given_as_a_number_passes_through():
    assert Duration()(300.0) == 300


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e3", "10 minutes", "", "m", "1w", "--1"])
def test_what_is_not_a_duration_is_refused(text):
    with pytest.raises(typer.BadParameter, match="is not a duration"):
        Duration()(text)


def test_a_negative_duration_says_what_is_allowed():
    with pytest.raises(typer.BadParameter, match="must be more than 0 seconds"):
        Duration()("-1")
    with pytest.raises(typer.BadParameter, match="must be 0 seconds or more"):
        Duration(zero_ok=True)("-2m")

    assert Duration(zero_ok=True)("-0") == 0


def test_zero_is_refused_unless_it_means_something():
    with pytest.raises(typer.BadParameter, match="more than 0"):
        Duration()("0s")

    assert Duration(zero_ok=True)("0") == 0


def test_a_duration_has_an_upper_bound():
    assert Duration()("3650d") == TEN_YEARS
    with pytest.raises(typer.BadParameter, match="too long: at most 3650 days"):
        Duration()("3651d")
    with pytest.raises(typer.BadParameter, match="at most 60 seconds"):
        Duration(at_most=60)("61")


def test_a_function_setting_names_a_function_and_a_number_in_range():
    memory = FunctionSetting(128, 10240)

    assert memory("plotting=2048") == ("plotting", 2048)
    with pytest.raises(typer.BadParameter, match="FUNCTION=NUMBER"):
        memory("uploader=2048")
    with pytest.raises(typer.BadParameter, match="FUNCTION=NUMBER"):
        memory("plotting")
    with pytest.raises(typer.BadParameter, match="whole number from 128 to 10240"):
        memory("driver=64")
    with pytest.raises(typer.BadParameter, match="whole number from 128 to 10240"):
        memory("driver=-5")


@pytest.mark.parametrize(
    "url, local",
    [
        ("http://127.0.0.1:4566", True),
        ("http://127.1.2.3:4566", True),
        ("http://localhost:4566", True),
        ("http://[::1]:4566", True),
        ("http://127.example.com:4566", False),
        ("https://s3.us-east-1.amazonaws.com", False),
        (None, False),
    ],
)
def test_only_a_loopback_endpoint_is_local(url, local):
    assert is_loopback_url(url) is local


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("S3SIZER_STACK", "team-a")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    settings = resolve()

    assert (settings.stack, settings.region, settings.is_local) == ("team-a", "eu-west-1", True)
    assert Names(settings.stack).table == "team-a-S3-object-size-history"


def duration_options() -> list[tuple[str, str]]:
    """(command, option) for every option of the CLI named like a length of time."""
    from typer.main import get_command

    from s3sizer.cli import app

    group = get_command(app)
    return [
        (name, option)
        for name, command in group.commands.items()
        for param in command.params
        for option in param.opts
        if option in {"--since", "--window", "--interval", "--pause"}
    ]


def test_the_cli_has_duration_options_everywhere_they_are_expected():
    assert {command for command, _ in duration_options()} == {
        "run-driver",
        "plot",
        "history",
        "logs",
        "watch",
    }


@pytest.mark.parametrize("command, option", duration_options())
def test_every_duration_option_reads_the_same_durations(cli, command, option):
    args = [command, *(["driver"] if command == "logs" else []), option]

    assert "is not a duration" in one_clean_error_line(cli(*args, "soon", code=2))
    assert "is negative" in one_clean_error_line(cli(*args, "-1s", code=2))
