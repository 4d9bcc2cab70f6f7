"""The planner against moto in-process: plans are compared by equality, as data."""

from __future__ import annotations

import pytest
from moto import mock_aws

from s3sizer.aws import Aws
from s3sizer.settings import Settings
from s3sizer.stack.state import Stack

ACCOUNT = "123456789012"


@pytest.fixture
def stack():
    with mock_aws():
        yield Stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
