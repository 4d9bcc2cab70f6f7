"""Every test runs with fake credentials and no profile, so nothing can reach real AWS.

Tests are marked in tiers by where they live and what they start, so that
`python -m pytest -m "not emulator and not reliability"` is the fast inner loop (moto in-process
and pure functions) while a plain `python -m pytest` still runs everything.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# moto's request recorder reads its file's path once, when moto is first imported: keep any
# recording (the emulators' and in-process moto's) out of the working tree.
os.environ.setdefault(
    "MOTO_RECORDER_FILEPATH", os.path.join(tempfile.gettempdir(), "s3sizer-tests.recording")
)

TESTS = Path(__file__).parent
# The directories whose every test belongs to a slower tier (tests/emulator also holds pure,
# in-process tests of its parts: those that start one are found by their fixtures).
TIER_OF_DIRECTORY = {"e2e": "emulator", "reliability": "reliability"}
# A test that takes one of these fixtures starts a local AWS subprocess, wherever it lives.
EMULATOR_FIXTURES = {"emulator", "faulty_emulator", "stack_cli", "faulty_stack_cli"}


def pytest_collection_modifyitems(items):
    for item in items:
        tiers = set()
        if item.path.is_relative_to(TESTS):
            directory = item.path.relative_to(TESTS).parts[0]
            tiers.add(TIER_OF_DIRECTORY.get(directory))
        if EMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())):
            tiers.add("emulator")
        for tier in sorted(tiers - {None}):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """boto3's default Session, which moto's mock drops each time it starts, built on the
    process's one botocore data loader, as the CLI's Sessions are (s3sizer.aws): otherwise each
    test that makes a client parses botocore's models again, about 90 ms of its setup."""
    import boto3

    from s3sizer.aws import new_session

    def setup_default_session(**kwargs) -> None:
        boto3.DEFAULT_SESSION = new_session(**kwargs)

    original, boto3.setup_default_session = boto3.setup_default_session, setup_default_session
    try:
        yield
    finally:
        boto3.setup_default_session = original


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_the_tests() -> Iterator[None]:
    """A shell that starts a job in the background (`pytest &`, `setsid … &`) makes it ignore
    SIGINT, and the processes it starts inherit that: every test of Ctrl-C, in this process or
    in a command it runs, would wait for a signal that never comes. Python's own handler puts
    SIGINT back for the session."""
    import signal

    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(autouse=True)
def _fresh_ctrl_c_state(monkeypatch) -> Iterator[None]:
    """A Ctrl-C a test presses (or one a stopped command left remembered) stays with that test:
    a later test's command would otherwise see it pending, or exit at once without joining
    its threads (interrupts.threads_may_run), which ends pytest's own process."""
    from s3sizer import interrupts

    monkeypatch.setattr(interrupts, "_pending", [False])
    monkeypatch.setattr(interrupts, "_finishing", [False])
    monkeypatch.setattr(interrupts, "_deferring", [None])
    monkeypatch.setattr(interrupts, "_received", [interrupts.signal.SIGINT])
    # A test that runs cli.main() installs the command's SIGTERM handler in pytest's own
    # process: a SIGTERM to pytest (a CI timeout) would then raise in whatever test runs.
    terminate = interrupts.signal.getsignal(interrupts.signal.SIGTERM)
    yield
    interrupts.signal.signal(interrupts.signal.SIGTERM, terminate)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch, tmp_path_factory):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "S3SIZER_STACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    # Never ask the EC2 metadata service (a non-loopback address) for credentials.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Newer botocore addresses DynamoDB Streams at <account>.streams-ddb.<region>, which moto
    # in-process does not route; the regional address is the one every moto answers.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("S3SIZER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    # moto in-process is not thread-safe (the emulator serves it under locks): a baseline run
    # in this process lists its ranges one at a time, unless a test asks for workers, and each
    # request to moto runs whole before another starts, as each is atomic on AWS.
    from moto.core.botocore_stubber import BotocoreStubber

    from s3sizer.stack import baseline_run

    monkeypatch.setattr(baseline_run, "DEFAULT_WORKERS", 1)
    monkeypatch.setattr(BotocoreStubber, "__call__", _one_at_a_time(BotocoreStubber.__call__))


_MOTO_IN_PROCESS = threading.RLock()


def _one_at_a_time(call):
    @functools.wraps(call)
    def locked(self, *args, **kwargs):
        with _MOTO_IN_PROCESS:
            return call(self, *args, **kwargs)

    return locked


@pytest.fixture(scope="session")
def emulator() -> Iterator:
    """One local AWS subprocess for the end-to-end tests; each test uses its own stack name."""
    from tests.emulator.helpers import emulator_env, start_emulator, wait_for_export_line

    running = wait_for_export_line(start_emulator("--port", "0", env=emulator_env()))
    yield running
    running.stop()


def pytest_sessionfinish(session, exitstatus):
    # The suite leaves a large heap behind (moto's models and backends); collecting it again at
    # exit took longer than most tests. Frozen objects are skipped by those last collections.
    import gc

    gc.freeze()
