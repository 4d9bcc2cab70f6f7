"""The CLI as a shell runs it: start-up, `python -m s3sizer`, and completion as bash asks."""

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
        (["logs", ""], ["driver", "size-tracking", "plotting", "fold"]),
        (["deploy", "--architecture", ""], ["x86_64", "arm64"]),
        (["deploy", "--runtime", ""], ["python3.12", "python3.13", "python3.14"]),
        (["wa"], ["watch"]),
    ],
)
def test_completion_offers_exactly_the_valid_choices(words, choices):
    assert complete(*words) == choices


def test_help_imports_no_boto3_matplotlib_or_moto():
    code = (
        "import sys\n"
        "from s3sizer.cli import app\n"
        "try:\n    app(['--help'], prog_name='s3sizer')\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['status', '--help'], prog_name='s3sizer')\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['metrics', '--help'], prog_name='s3sizer')\nexcept SystemExit:\n    pass\n"
        "heavy = ('boto3', 'botocore', 'matplotlib', 'moto', 'prometheus_client')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )

    assert "HEAVY []" in result.stdout


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "s3sizer", "--version"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.startswith("s3sizer ")
