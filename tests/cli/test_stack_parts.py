"""The stack's parts on their own: zips, IAM documents, the role-propagation retry, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from io import BytesIO

import boto3
import pytest
from botocore.stub import Stubber

from s3sizer.settings import resolve
from s3sizer.stack import iam
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import FUNCTIONS, Names, StackConfig
from s3sizer.stack.package import code_sha256, function_zip
from s3sizer.stack.plan import Step

ARNS = iam.Arns(Names("s3sizer"), "aws", "123456789012", "us-east-1", "tracked")


def test_function_zips_are_deterministic_and_hold_only_their_modules():
    for spec in FUNCTIONS:
        data = function_zip(spec)
        names = zipfile.ZipFile(BytesIO(data)).namelist()

        assert code_sha256(data) == code_sha256(function_zip(spec))
        assert names == sorted(
            ["s3sizer_lambdas/__init__.py"] + [f"s3sizer_lambdas/{m}.py" for m in spec.modules]
        )


def test_lambda_modules_import_nothing_else_from_s3sizer():
    import ast
    from importlib import resources

    for path in resources.files("s3sizer.lambdas").iterdir():
        if not path.name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("s3sizer") for a in node.names), path.name
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("s3sizer"), path.name


@pytest.mark.parametrize("short", [spec.short for spec in FUNCTIONS])
def test_policies_have_no_wildcard_action_and_only_the_stacks_own_resources(short):
    document = iam.policy_for(short, ARNS)
    own = (
        ARNS.table,
        ARNS.bucket_arn + "/",
        ARNS.function("plotting"),
        ARNS.log_group(short),
    )

    for statement in document["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        assert all("*" not in action for action in actions), statement
        for resource in resources:
            assert resource.startswith(own), resource
            # The one exception: the log streams of the function's own group.
            if "*" in resource:
                assert resource == ARNS.log_group(short) + ":*", resource


def make_executor(client, sleeps):
    class FakeStack:
        names = Names("s3sizer")

        def client(self, service):
            return client

    return Executor(FakeStack(), sleep=sleeps.append)


def test_create_function_retries_while_a_new_role_propagates():
    client = boto3.client("lambda", region_name="us-east-1")
    sleeps: list[float] = []
    step = Step(
        "create_function",
        "s3sizer-driver",
        {
            "short": "driver",
            "zip": b"zip",
            "config": StackConfig("s3sizer", "tracked", True, "us-east-1"),
            "settings": {
                "Role": ARNS.role("driver"),
                "Handler": "h",
                "Runtime": "python3.12",
                "Layers": [],
            },
        },
    )
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_function",
                service_error_code="InvalidParameterValueException",
                service_message="The role defined for the function cannot be assumed by Lambda.",
            )
        stub.add_response("create_function", {"FunctionName": "s3sizer-driver"})
        stub.add_response("get_function_configuration", {"State": "Pending"})
        stub.add_response("get_function_configuration", {"State": "Active"})

        make_executor(client, sleeps).create_function(step)

        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0, 1.0]


def test_create_function_does_not_retry_other_errors():
    client = boto3.client("lambda", region_name="us-east-1")
    step = Step(
        "create_function",
        "f",
        {
            "short": "driver",
            "zip": b"z",
            "config": StackConfig("s3sizer", "b", True, "us-east-1"),
            "settings": {"Role": "r", "Layers": []},
        },
    )
    with Stubber(client) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException", "Bad handler")

        with pytest.raises(client.exceptions.InvalidParameterValueException):
            make_executor(client, []).create_function(step)


def test_help_imports_no_boto3_matplotlib_or_moto():
    code = (
        "import sys\n"
        "from s3sizer.cli import app\n"
        "try:\n    app(['--help'], prog_name='s3sizer')\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['status', '--help'], prog_name='s3sizer')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'matplotlib', 'moto') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert "HEAVY []" in result.stdout


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "s3sizer", "--version"], capture_output=True, text=True, check=True
    )

    assert result.stdout.startswith("s3sizer ")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("S3SIZER_STACK", "team-a")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    settings = resolve()

    assert (settings.stack, settings.region, settings.is_local) == ("team-a", "eu-west-1", True)
    assert json.dumps(Names(settings.stack).table) == '"team-a-S3-object-size-history"'
