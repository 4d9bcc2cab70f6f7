"""The stack's parts on their own: zips, IAM documents, the role-propagation retry."""

from __future__ import annotations

import zipfile
from io import BytesIO

import boto3
import pytest
from botocore.stub import Stubber

from s3sizer.stack import iam
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import FUNCTIONS, Names
from s3sizer.stack.package import code_sha256, function_zip
from s3sizer.stack.steps import CreateFunction

ARNS = iam.Arns(Names("s3sizer"), "aws", "123456789012", "us-east-1", "tracked")


def test_function_zips_are_deterministic_and_hold_only_their_modules():
    for spec in FUNCTIONS:
        data = function_zip(spec)
        names = zipfile.ZipFile(BytesIO(data)).namelist()

        assert code_sha256(data) == code_sha256(function_zip(spec))
        assert names == sorted(
            ["s3sizer_lambdas/__init__.py"] + [f"s3sizer_lambdas/{m}.py" for m in spec.modules]
        )


@pytest.mark.parametrize("short", [spec.short for spec in FUNCTIONS])
def test_policies_have_no_wildcard_action_and_only_the_stacks_own_resources(short):
    document = iam.policy_for(short, ARNS)
    own = (
        ARNS.table,
        ARNS.bucket_arn + "/",
        ARNS.function("plotting"),
        ARNS.log_group(short),
        ARNS.queue("s3sizer-events"),
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


STEP = CreateFunction(
    "s3sizer-driver",
    b"zip",
    {"Role": ARNS.role("driver"), "Handler": "h", "Runtime": "python3.12", "Layers": []},
    "x86_64",
)


def test_create_function_retries_while_a_new_role_propagates_then_waits_until_active():
    client = boto3.client("lambda", region_name="us-east-1")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_function",
                service_error_code="InvalidParameterValueException",
                service_message="The role defined for the function cannot be assumed by Lambda.",
            )
        stub.add_response("create_function", {"FunctionName": "s3sizer-driver"})
        # botocore's function_active_v2 waiter reads GetFunction until the state is Active.
        stub.add_response("get_function", {"Configuration": {"State": "Active"}})

        make_executor(client, sleeps).execute(STEP)

        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0]


def test_create_function_does_not_retry_other_errors():
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException", "Bad handler")

        with pytest.raises(client.exceptions.InvalidParameterValueException):
            make_executor(client, []).execute(STEP)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.short)
def test_each_zip_imports_its_handler_with_nothing_but_itself_and_boto3(spec, tmp_path):
    import subprocess
    import sys

    zipfile.ZipFile(BytesIO(function_zip(spec))).extractall(tmp_path)
    probe = (
        "import importlib, sys; "
        "sys.modules.pop('s3sizer', None); "
        f"module = importlib.import_module({spec.handler.rsplit('.', 1)[0]!r}); "
        "assert callable(module.handler); "
        "assert not any(m == 's3sizer' or m.startswith('s3sizer.') for m in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
