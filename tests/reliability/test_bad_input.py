"""Bad input through the CLI and through `lambda invoke`: a clear error, and no trace left."""

from __future__ import annotations

import json
import socket

import pytest

from tests.checks import one_clean_error_line, unused_port
from tests.e2e.conftest import StackCli, poll


def foreign_bucket(cli: StackCli) -> str:
    """A bucket that another account owns: created with credentials of account 111111111111."""
    sts = cli.aws.client("sts")
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other"
    )["Credentials"]
    import boto3

    other = boto3.client(
        "s3",
        endpoint_url=cli.aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    name = f"{cli.stack}-not-yours"
    other.create_bucket(Bucket=name)
    return name


def foreign_table(cli: StackCli) -> None:
    cli.aws.client("dynamodb").create_table(
        TableName=f"{cli.stack}-S3-object-size-history",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def set_up(cli: StackCli) -> None:
    cli("setup")


def taken_port(cli: StackCli) -> str:
    """Occupy a port for the rest of the test; the emulator must refuse it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    cli.held = sock
    return str(sock.getsockname()[1])


ABSENT_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:absent-matplotlib:1"
ABSENT_TOPIC = "arn:aws:sns:us-east-1:123456789012:absent-topic"

# (name, prepare, arguments, expected code, words in the message). `{x}` in the arguments is
# replaced by what prepare returned.
CASES = [
    ("upper-case bucket", None, ["setup", "--bucket", "MyBucket"], 2, "Invalid bucket name"),
    ("short bucket", None, ["setup", "--bucket", "ab"], 2, "3 to 63 characters"),
    ("long bucket", None, ["setup", "--bucket", "b" * 64], 2, "3 to 63 characters"),
    ("ip bucket", None, ["setup", "--bucket", "10.0.0.1"], 2, "IP address"),
    ("double dot", None, ["setup", "--bucket", "a..b"], 2, "adjacent"),
    ("underscore", None, ["setup", "--bucket", "a_b_c"], 2, "lower-case letters"),
    ("reserved prefix", None, ["setup", "--bucket", "xn--abc"], 2, "reserved prefix"),
    ("another account", foreign_bucket, ["setup", "--bucket", "{x}"], 1, "another AWS account"),
    ("foreign table", foreign_table, ["setup"], 1, "another key schema"),
    ("unknown region", None, ["--region", "moon-1", "status"], 1, "Unknown AWS region"),
    ("negative ttl", None, ["setup", "--history-ttl-days", "-1"], 2, "--history-ttl-days"),
    ("negative window", set_up, ["plot", "--window", "-1"], 2, "more than 0 seconds"),
    ("zero local window", set_up, ["plot", "--local", "--window", "0"], 2, "more than 0"),
    ("zero since", set_up, ["history", "--since", "0"], 2, "--since"),
    ("teardown, no tty", set_up, ["teardown"], 2, "Pass --yes"),
    ("unknown function", set_up, ["logs", "uploader"], 2, "is not one of"),
    ("bad duration", set_up, ["logs", "driver", "--since", "soon"], 2, "is not a duration"),
    (
        "bad memory",
        set_up,
        ["deploy", "--memory", "driver=-5"],
        2,
        "NUMBER must be a whole number from 128 to 10240",
    ),
    ("bad architecture", set_up, ["deploy", "--architecture", "sparc"], 2, "architecture"),
    ("bogus layer", set_up, ["deploy", "--layer-arn", "bogus"], 2, "layer version ARN"),
    ("absent layer", set_up, ["deploy", "--layer-arn", ABSENT_LAYER], 1, "Use --no-layer"),
    ("missing wheels", set_up, ["deploy", "--wheel-dir", "/no/such/dir"], 2, "--wheel-dir"),
    ("bad topic", None, ["setup", "--alarm-topic", "not-an-arn"], 2, "not an SNS topic ARN"),
    ("topic, no alarm", None, ["setup", "--alarm-topic", ABSENT_TOPIC], 2, "--alarm-above"),
    (
        "absent topic",
        None,
        ["setup", "--alarm-above", "1GB", "--alarm-topic", ABSENT_TOPIC],
        1,
        "does not exist",
    ),
    # the command it names carries the --endpoint-url and --stack this one was given
    ("deploy first", None, ["deploy"], 1, "Run `s3sizer {globals} setup` first"),
    ("driver first", None, ["run-driver"], 1, "Run `s3sizer {globals} setup` first"),
    ("unknown command", None, ["resize"], 2, "No such command"),
    ("port taken", taken_port, ["emulator", "--port", "{x}"], 1, "already in use"),
]


@pytest.mark.parametrize(
    "prepare, args, code, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_cli_input_gets_one_clear_line_and_leaves_no_trace(
    stack_cli, prepare, args, code, words
):
    prepared = prepare(stack_cli) if prepare else None
    before = stack_cli.leftovers()

    result = stack_cli(*[a.replace("{x}", str(prepared)) for a in args], code=code)

    given = f"--endpoint-url {stack_cli.aws.endpoint_url} --stack {stack_cli.stack}"
    assert words.replace("{globals}", given) in one_clean_error_line(result)
    assert stack_cli.leftovers() == before
    if hasattr(stack_cli, "held"):
        stack_cli.held.close()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--invalid-stack"], None),
    ],
)
def test_global_option_typos_are_usage_errors(stack_cli, args, words):
    result = stack_cli(*args, code=2)
    one_clean_error_line(result)


def test_no_credentials_outside_a_local_endpoint(monkeypatch):
    from typer.testing import CliRunner

    from s3sizer.cli import app

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 1
    assert "No AWS credentials" in one_clean_error_line(result)


def test_unreachable_endpoint(monkeypatch):
    from typer.testing import CliRunner

    from s3sizer.cli import app

    result = CliRunner().invoke(
        app, ["--endpoint-url", f"http://127.0.0.1:{unused_port()}", "status"]
    )

    assert result.exit_code == 1
    assert "Cannot reach" in one_clean_error_line(result)


MALFORMED_EVENTS = [
    {"Records": [{"eventName": "ObjectCreated:Put"}]},
    {"Records": "not a list"},
    "a plain string",
    {"Records": [{"eventName": "ObjectTeleported:Put", "s3": {}}]},
    None,
]


def malformed_record(bucket: str, **changes) -> dict:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": "x.txt", "size": 5, "sequencer": "0055AED6DCD90281E5"},
        },
    }
    obj = record["s3"]["object"]
    for name, value in changes.items():
        if value is None:
            obj.pop(name, None)
        else:
            obj[name] = value
    return {"Records": [record]}


def test_malformed_events_are_logged_and_skipped_and_change_no_total(stack_cli):
    cli = stack_cli
    cli("setup")
    cli("deploy")
    # S3's test event for the new entry may still be on its way through the queue.
    before = poll(
        lambda: (got := json.loads(cli("status", "--json").stdout))["queued"] == 0 and got,
        timeout=30,
        interval=0.2,
    )
    events = [
        *MALFORMED_EVENTS,
        malformed_record(cli.bucket, sequencer="not-hex!"),
        malformed_record(cli.bucket, size=None),
        malformed_record(cli.bucket, size=-3),
        malformed_record(cli.bucket, key=None),
    ]
    lam = cli.aws.client("lambda")

    responses = [
        lam.invoke(FunctionName=f"{cli.stack}-size-tracking", Payload=json.dumps(e).encode())
        for e in events
    ]

    assert [r.get("FunctionError") for r in responses] == [None] * len(events)
    results = [json.loads(r["Payload"].read()) for r in responses]
    assert all(r["applied"] == 0 for r in results)
    assert json.loads(cli("status", "--json").stdout) == before
    logs = cli("logs", "size-tracking", "--since", "5m").stdout
    assert logs.count("rejected") >= len(events) - 1
    cli("teardown", "--yes")
