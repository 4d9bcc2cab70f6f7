"""Shell completion, as bash asks for it: the choices come from the options' own types."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.emulator.helpers import REPO_ROOT


def complete(*words: str) -> list[str]:
    env = {
        **os.environ,
        "_S3SIZER_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(["s3sizer", *words]),
        "COMP_CWORD": str(len(words)),
    }
    result = subprocess.run(
        [sys.executable, "-m", "s3sizer"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    "words, choices",
    [
        (["logs", ""], ["driver", "size-tracking", "plotting"]),
        (["deploy", "--architecture", ""], ["x86_64", "arm64"]),
        (["deploy", "--runtime", ""], ["python3.11", "python3.12", "python3.13"]),
        (["wa"], ["watch"]),
    ],
)
def test_completion_offers_exactly_the_valid_choices(words, choices):
    assert complete(*words) == choices
