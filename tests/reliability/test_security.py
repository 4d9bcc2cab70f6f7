"""Security from the outside: the deployed policies, the bucket's guards, the bind, the secret."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.emulator.helpers import emulator_env, start_emulator, wait_for_export_line

LOGS_EXCEPTION = ":log-group:/aws/lambda/{function}:*"  # stream names are chosen at run time
POLL_ACTIONS = ["s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"]


def deployed_policies(cli) -> dict[str, dict]:
    iam = cli.aws.client("iam")
    documents = {}
    for role in [r["RoleName"] for r in iam.list_roles()["Roles"]]:
        if not role.startswith(f"{cli.stack}-"):
            continue
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            documents[role] = (
                json.loads(unquote(document)) if isinstance(document, str) else document
            )
    return documents


def test_every_policy_lists_exact_actions_on_the_stacks_own_arns(stack_cli):
    cli = stack_cli
    cli("setup")
    cli("deploy")
    own = (
        f"arn:aws:dynamodb:us-east-1:123456789012:table/{cli.stack}-S3-object-size-history",
        f"arn:aws:s3:::{cli.bucket}/",
        f"arn:aws:lambda:us-east-1:123456789012:function:{cli.stack}-",
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{cli.stack}-",
        f"arn:aws:sqs:us-east-1:123456789012:{cli.stack}-events",
    )

    bucket = f"arn:aws:s3:::{cli.bucket}"

    policies = deployed_policies(cli)

    assert len(policies) == 3
    for role, document in policies.items():
        function = role.removesuffix("-role")
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            assert statement["Effect"] == "Allow"
            assert not any("*" in action for action in actions), (role, actions)
            for resource in resources:
                assert resource.startswith(own) or resource == bucket, (role, resource)
                if statement.get("Sid") == "PollUnfinishedUploads":
                    # ListParts is authorised on objects: the keys of uploads are not known
                    # beforehand, so it takes the bucket's objects, with only the two lists.
                    assert actions == POLL_ACTIONS, actions
                    assert resource in (bucket, f"{bucket}/*"), resource
                elif "*" in resource:
                    assert resource.endswith(LOGS_EXCEPTION.format(function=function)), resource
    cli("teardown", "--yes")


def test_a_new_bucket_blocks_public_access_and_is_encrypted(stack_cli):
    cli = stack_cli
    cli("setup")
    s3 = cli.aws.client("s3")

    block = s3.get_public_access_block(Bucket=cli.bucket)["PublicAccessBlockConfiguration"]
    encryption = s3.get_bucket_encryption(Bucket=cli.bucket)["ServerSideEncryptionConfiguration"]

    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    cli("teardown", "--yes")


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the process's listening TCP sockets, from /proc."""
    import os

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address = fields[1].split(":")[0]
                found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_the_emulator_serves_on_loopback_only_unless_asked():
    running = wait_for_export_line(start_emulator("--port", "0", env=emulator_env()))
    try:
        assert listening_addresses(running.process.pid) == {"127.0.0.1"}
        assert running.endpoint_url.startswith("http://127.0.0.1:")
    finally:
        running.stop()


# Heavy (8 s): every command of the lifecycle, its output and logs read.
@pytest.mark.heavy
def test_no_output_or_log_line_contains_the_secret_key(stack_cli, monkeypatch):
    secret = "s3sizerTESTsecretKEYwJalrXUtnFEMI0123456789"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAS3SIZERTEST00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    cli = stack_cli

    outputs = [
        cli("setup"),
        cli("--debug", "deploy"),
        cli("run-driver", "--pause", "0", "--json"),
        cli("status"),
        cli("--debug", "logs", "driver"),
        cli("--debug", "logs", "size-tracking"),
        cli("--debug", "plot", "--local", "--window", "0", code=2),
        cli("teardown", "--yes"),
    ]

    assert not [r for r in outputs if secret in r.stdout + r.stderr]
