"""The reliability suite: the deployed system under load, faults and bad input, from outside.

Run it alone with `pytest -m reliability`; it is part of the normal run too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import StackCli
from tests.emulator.helpers import (
    RunningEmulator,
    emulator_env,
    start_emulator,
    wait_for_export_line,
)

FAULTS = "duplicate=0.1,reorder=0.1,crash=0.1,seed=20261124"
_numbers = itertools.count()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def faulty_emulator() -> Iterator[RunningEmulator]:
    """An emulator that duplicates, reorders and crashes deliveries at the rates of FAULTS."""
    env = emulator_env(S3SIZER_EMULATOR_FAULTS=FAULTS, S3SIZER_EMULATOR_RETRY_BACKOFF="0.05")
    running = wait_for_export_line(start_emulator("--port", "0", env=env))
    yield running
    running.stop()


@pytest.fixture
def stack_cli(emulator) -> StackCli:
    return StackCli(emulator, f"rel{next(_numbers)}")


@pytest.fixture
def faulty_stack_cli(faulty_emulator) -> StackCli:
    return StackCli(faulty_emulator, f"flt{next(_numbers)}")
