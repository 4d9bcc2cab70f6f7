"""setup, deploy and teardown against moto: the plan, idempotence, and nothing left behind."""

from __future__ import annotations

import json

import boto3

from tests.cli.conftest import DEFAULT_BUCKET, inventory

SETUP_PLAN = [
    "create table: S3-object-size-history",
    "put config: S3-object-size-history",
    f"put bucket settings: {DEFAULT_BUCKET} (first bucket)",
    f"create bucket: {DEFAULT_BUCKET}",
    "create role: s3sizer-driver-role",
    "put role policy: s3sizer-driver-policy",
    "create role: s3sizer-size-tracking-role",
    "put role policy: s3sizer-size-tracking-policy",
    "create role: s3sizer-plotting-role",
    "put role policy: s3sizer-plotting-policy",
    f"record baseline: {DEFAULT_BUCKET}",
]


def plan_lines(stdout: str) -> list[str]:
    return [line.strip()[2:] for line in stdout.splitlines() if line.startswith("  - ")]


def nothing_exists() -> bool:
    return all(not names for names in inventory().values())


def test_setup_dry_run_on_an_empty_account_plans_everything_and_creates_nothing(cli, aws):
    result = cli("setup", "--dry-run")

    assert plan_lines(result.stdout) == SETUP_PLAN
    assert nothing_exists()


def test_setup_twice_changes_nothing_the_second_time(cli, aws):
    cli("setup")
    before = inventory()

    second = cli("setup")

    assert "Nothing to do" in second.stdout
    assert inventory() == before


def test_a_bucket_setup_creates_is_private_encrypted_and_tagged(cli, aws):
    cli("setup", "--bucket", "my-tracked-bucket")
    s3 = boto3.client("s3")

    block = s3.get_public_access_block(Bucket="my-tracked-bucket")["PublicAccessBlockConfiguration"]
    rules = s3.get_bucket_encryption(Bucket="my-tracked-bucket")[
        "ServerSideEncryptionConfiguration"
    ]
    tags = s3.get_bucket_tagging(Bucket="my-tracked-bucket")["TagSet"]

    assert all(block.values())
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert {"Key": "s3sizer:stack", "Value": "s3sizer"} in tags


def test_later_commands_find_the_bucket_without_repeating_it(cli, aws):
    cli("setup", "--bucket", "remembered-bucket")

    status = json.loads(cli("status", "--json").stdout)

    assert status["bucket"] == "remembered-bucket"


def test_deploy_then_deploy_again_changes_nothing(cli, aws):
    cli("setup")
    first = cli("deploy", "--no-layer")
    assert "create function: s3sizer-size-tracking" in plan_lines(first.stdout)

    second = cli("deploy", "--no-layer")

    assert "Nothing to do" in second.stdout


def test_deploy_updates_only_the_function_whose_code_changed(cli, aws, monkeypatch):
    cli("setup")
    cli("deploy", "--no-layer")
    from s3sizer.stack import plan_deploy as planner

    original = planner.function_zip

    def changed(spec):
        data = original(spec)
        return data + b"\0" if spec.short == "plotting" else data

    monkeypatch.setattr(planner, "function_zip", changed)

    result = cli("deploy", "--no-layer")

    assert plan_lines(result.stdout) == ["update function code: s3sizer-plotting"]


def test_deploy_on_the_direct_route_wires_a_lambda_entry_and_a_scoped_invoke_permission(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer", "--delivery", "direct")

    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=DEFAULT_BUCKET)
    policy = json.loads(
        boto3.client("lambda").get_policy(FunctionName="s3sizer-size-tracking")["Policy"]
    )

    [entry] = config["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"].endswith(":function:s3sizer-size-tracking")
    assert set(entry["Events"]) == {
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
        "s3:LifecycleExpiration:*",
    }
    # S3's statement, beside the uploads poll's schedule's (tests/stack/test_uploads_schedule.py).
    [statement] = [s for s in policy["Statement"] if s["Sid"] == "s3sizer-s3-invoke"]
    condition = json.dumps(statement["Condition"])
    assert f"arn:aws:s3:::{DEFAULT_BUCKET}" in condition
    assert "123456789012" in condition


def test_deploy_before_setup_says_what_to_do(cli, aws):
    result = cli("deploy", "--no-layer", code=1)

    assert "Run `s3sizer setup` first" in result.stderr


def test_teardown_leaves_nothing_behind(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key="data.bin", Body=b"x" * 10)

    cli("teardown", "--yes")

    assert nothing_exists(), inventory()


def test_teardown_twice_and_of_a_missing_stack_exits_zero(cli, aws):
    cli("setup")
    cli("teardown", "--yes")

    again = cli("teardown", "--yes")

    assert "does not exist" in again.stdout


def test_teardown_empties_every_version_of_an_owned_versioned_bucket(cli, aws):
    cli("setup")
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=DEFAULT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=DEFAULT_BUCKET, Key="a", Body=b"1")
    s3.put_object(Bucket=DEFAULT_BUCKET, Key="a", Body=b"22")
    s3.delete_object(Bucket=DEFAULT_BUCKET, Key="a")

    cli("teardown", "--yes")

    assert nothing_exists()


def test_setup_and_deploy_print_each_plan_line_once(cli, aws):
    setup = cli("setup")
    deploy = cli("deploy", "--no-layer")

    for result, first in ((setup, "create table: S3-object-size-history"),
                          (deploy, "create function: s3sizer-size-tracking")):  # fmt: skip
        printed = result.stdout + result.stderr
        assert printed.count(first) == 1, printed
        assert "•" not in printed
    assert plan_lines(setup.stdout) == SETUP_PLAN


def test_setup_and_deploy_end_with_one_done_line_on_stderr_and_a_dry_run_with_none(cli, aws):
    dry = cli("setup", "--dry-run")
    setup = cli("setup")
    again = cli("setup")
    deploy = cli("deploy", "--no-layer")

    assert "Done" not in dry.stderr + again.stderr  # nothing ran
    for result, title in ((setup, "setup"), (deploy, "deploy")):
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"Done: the {title} of stack s3sizer, ") and last.endswith(" s.")
        assert "Done" not in result.stdout  # stdout keeps the plan alone, for scripts
