"""The CLI against moto in-process: every command through Typer's CliRunner."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from s3sizer.cli import app

ACCOUNT = "123456789012"
DEFAULT_BUCKET = f"s3sizer-{ACCOUNT}-us-east-1"


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, input: str | None = None):
        result = self.runner.invoke(app, list(args), input=input)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result


@pytest.fixture
def cli():
    return Cli()


@pytest.fixture
def aws():
    with mock_aws():
        yield


def inventory() -> dict[str, list[str]]:
    """Everything in the mocked account that s3sizer could have created."""
    iam = boto3.client("iam")
    lam = boto3.client("lambda")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    return {
        "buckets": [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]],
        "tables": boto3.client("dynamodb").list_tables()["TableNames"],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "layers": [layer["LayerName"] for layer in lam.list_layers()["Layers"]],
        "roles": roles,
        "inline_policies": [
            p for r in roles for p in iam.list_role_policies(RoleName=r)["PolicyNames"]
        ],
        "managed_policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
        "log_groups": [
            g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]
        ],
    }
