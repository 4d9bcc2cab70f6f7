"""One emulator subprocess shared by the tests that do not change its process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import RunningEmulator, start_emulator, stderr_of, wait_for_export_line


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """One emulator for every test that does not change its process; tests use distinct names."""
    running = wait_for_export_line(start_emulator("--port", "0"))
    yield running
    running.stop()
    print(stderr_of(running.process))  # shown by pytest when a test failed
