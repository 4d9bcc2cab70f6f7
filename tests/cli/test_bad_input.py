"""Bad input: one line on stderr naming the problem and the fix, the right exit code, no trace."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.exceptions import ClientError

from s3sizer.aws import translate
from tests.checks import one_clean_error_line, unused_port
from tests.cli.conftest import inventory


@pytest.mark.parametrize(
    "name",
    ["UPPER-case", "ab", "a..b", "192.168.1.1", "xn--bucket", "-leading", "under_score", "a" * 64],
)
def test_invalid_bucket_names_are_refused_before_any_call(cli, aws, name):
    result = cli("setup", "--bucket", name, code=2)

    assert "Invalid bucket name" in one_clean_error_line(result)
    assert all(not names for names in inventory().values())


def test_another_accounts_bucket_is_refused_and_left_alone(cli, aws, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    boto3.client("s3").create_bucket(Bucket="someone-elses")
    monkeypatch.delenv("MOTO_ACCOUNT_ID")

    result = cli("setup", "--bucket", "someone-elses", code=1)

    assert "another AWS account" in one_clean_error_line(result)
    assert all(not names for names in inventory().values())


def test_a_table_with_a_foreign_key_schema_is_refused_before_anything_is_created(cli, aws):
    boto3.client("dynamodb").create_table(
        TableName="S3-object-size-history",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    result = cli("setup", code=1)

    assert "another key schema" in one_clean_error_line(result)
    left = inventory()
    assert left["tables"] == ["S3-object-size-history"]
    assert not left["buckets"] and not left["roles"]


def test_no_credentials(cli, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    result = cli("status", code=1)

    assert "No AWS credentials" in one_clean_error_line(result)


def test_unknown_region(cli):
    result = cli("--region", "mars-north-1", "status", code=1)

    assert "Unknown AWS region 'mars-north-1'" in one_clean_error_line(result)


def test_unreachable_endpoint(cli):
    url = f"http://127.0.0.1:{unused_port()}"

    result = cli("--endpoint-url", url, "status", code=1)

    assert f"Cannot reach {url}" in one_clean_error_line(result)


def test_an_endpoint_url_with_a_bad_port_in_the_environment_is_a_usage_error(cli, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:70000")

    result = cli("status", code=2)

    assert "Invalid endpoint URL 'http://127.0.0.1:70000'" in one_clean_error_line(result)


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "--window", "0"], "'--window' (env var: 'S3SIZER_WINDOW'): must be more than 0"),
        (["plot", "--local", "--window", "-5"], "'-5' is negative: it must be more than 0 seconds"),
        (["history", "--since", "-1m"], "'--since': '-1m' is negative"),
        (["logs", "uploader"], "'uploader' is not one of 'driver', 'size-tracking', 'plotting'"),
        (["logs", "driver", "--since", "yesterday"], "'yesterday' is not a duration"),
        (["--stack", "Bad_Stack", "status"], "Invalid stack name"),
        # An unset variable in a script must not act on the default stack.
        (["--stack", "", "teardown", "--yes"], "The stack name is empty"),
        # A port botocore cannot use: refused here, not by botocore's ValueError.
        (["--endpoint-url", "http://127.0.0.1:99999", "status"], "Invalid endpoint URL"),
        (["--endpoint-url", "http://127.0.0.1:abc", "status"], "Invalid endpoint URL"),
        (["--endpoint-url", "http://[::1", "status"], "Invalid endpoint URL"),
        (["deploy", "--memory", "driver=lots"], "NUMBER must be a whole number from 128 to 10240"),
        (["deploy", "--memory", "uploader=512"], "'uploader=512' is not FUNCTION=NUMBER"),
        (["deploy", "--architecture", "sparc"], "'sparc' is not one of 'x86_64', 'arm64'"),
        (["deploy", "--runtime", "python3.10"], "'python3.10' is not one of 'python3.12'"),
        (["setup", "--history-ttl-days", "-1"], "'--history-ttl-days'"),
        (["status", "--no-such-option"], "No such option"),
        (["status", "--bucket", ""], "'--bucket': is empty: name a tracked bucket"),
        (["no-such-command"], "No such command"),
        # Refused while the command line is read, before the demo starts its local AWS.
        (["demo", "--out", "/nonexistent/plots"], "'/nonexistent/plots' does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli, aws, args, message):
    cli("setup")
    before = inventory()

    result = cli(*args, code=2)

    assert message in one_clean_error_line(result)
    assert inventory() == before


def test_an_empty_stack_variable_is_a_usage_error_not_the_default_stack(cli, aws, monkeypatch):
    cli("setup")
    before = inventory()
    monkeypatch.setenv("S3SIZER_STACK", "")

    result = cli("teardown", "--yes", code=2)

    assert "The stack name is empty (--stack or S3SIZER_STACK)" in one_clean_error_line(result)
    assert inventory() == before


def test_teardown_without_yes_in_a_non_interactive_shell_refuses_and_keeps_everything(cli, aws):
    cli("setup")
    before = inventory()

    result = cli("teardown", code=2)

    assert "Pass --yes" in one_clean_error_line(result)
    assert inventory() == before


def test_teardown_declined_at_the_prompt_deletes_nothing(cli, aws, monkeypatch):
    from s3sizer.cli import lifecycle

    cli("setup")
    before = inventory()
    monkeypatch.setattr(lifecycle, "_interactive", lambda: True)

    result = cli("teardown", input="n\n", code=1)

    assert "Teardown declined. Nothing was deleted" in result.stderr
    assert inventory() == before


def test_commands_on_a_missing_stack_say_to_run_setup(cli, aws):
    result = cli("status", code=1)

    assert "Run `s3sizer setup` first" in one_clean_error_line(result)


def test_debug_shows_the_traceback(cli, aws):
    result = cli("--debug", "status", code=1)

    assert "Traceback" in result.stderr


def test_access_denied_names_the_action():
    error = ClientError(
        {
            "Error": {
                "Code": "AccessDenied",
                "Message": "User: arn:aws:iam::1:user/x is not authorized to perform: "
                "s3:CreateBucket on resource: arn:aws:s3:::b",
            }
        },
        "CreateBucket",
    )

    assert "Access denied for s3:CreateBucket" in str(translate(error))


def test_no_secret_key_in_any_output(cli, aws, monkeypatch):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)

    results = [cli("setup"), cli("--debug", "deploy", "--no-layer"), cli("status")]

    assert all(secret not in r.stdout + r.stderr for r in results)
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == secret


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "--local", "--window", "nan"], "'nan' is not a duration"),
        (["plot", "--window", "inf"], "'inf' is not a duration"),
        (["history", "--since", "inf"], "'inf' is not a duration"),
        (["history", "--since", "0"], "must be more than 0 seconds"),
        (["watch", "--interval", "-1"], "'--interval': '-1' is negative"),
        (["watch", "--window", "0s"], "'--window': must be more than 0 seconds"),
        (["plot", "--local", "--out", "/no/such/dir/p.png"], "does not exist"),
        (["logs", "driver", "--since", "99999999999d"], "too long: at most 3650 days"),
        (["run-driver", "--pause", "-1"], "'-1' is negative: it must be 0 seconds or more"),
        (["run-driver", "--pause", "2m"], "'2m' is too long: at most 60 seconds"),
        (["deploy", "--timeout", "driver=100000"], "from 1 to 900"),
        (["deploy", "--memory", "plotting=64"], "from 128 to 10240"),
    ],
)
def test_out_of_range_values_are_usage_errors(cli, aws, args, message):
    cli("setup")

    result = cli(*args, code=2)

    assert message in one_clean_error_line(result)


def test_no_command_shows_the_help_on_stdout_and_exits_2(cli):
    result = cli(code=2)

    assert result.stdout.startswith("Usage: s3sizer [OPTIONS] COMMAND")
    assert "logs" in result.stdout and result.stderr == ""


TOPIC = "arn:aws:sns:us-east-1:123456789012:size-alerts"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--alarm-topic", "not-an-arn"], "'not-an-arn' is not an SNS topic ARN"),
        (["--alarm-above", "1GB", "--alarm-topic", "arn:aws:sqs:us-east-1:1:q"], "SNS topic ARN"),
        (["--alarm-topic", TOPIC], "Add --alarm-above SIZE"),
        (["--alarm-above", "5GB", "--alarm-topic", TOPIC[:-1] + "x"], None),
    ],
)
def test_alarm_topics_are_checked_before_anything_is_created(cli, aws, args, message):
    boto3.client("sns").create_topic(Name="size-alerts")
    before = inventory()

    result = cli("setup", *args, code=1 if message is None else 2)

    line = one_clean_error_line(result)
    assert message in line if message else "does not exist" in line and "--alarm-topic" in line
    assert inventory() == before


def test_an_alarm_topic_that_exists_is_the_alarms_action_and_can_be_set_later(cli, aws):
    boto3.client("sns").create_topic(Name="size-alerts")
    cli("setup", "--alarm-above", "5GB")

    cli("setup", "--alarm-topic", TOPIC)

    (alarm,) = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert alarm["AlarmActions"] == [TOPIC]


@pytest.mark.parametrize(
    "args, message",
    [
        (["deploy", "--memory", "driver=²"], "NUMBER must be a whole number from 128 to 10240"),
        (["setup", "--alarm-above", "9" * 400], "is too large"),
        (["plot", "--window", "٣s"], "is not a duration"),
    ],
)
def test_odd_numbers_get_the_options_own_message_without_a_value_error_prefix(
    cli, aws, args, message
):
    result = cli(*args, code=2)

    line = one_clean_error_line(result)
    assert message in line
    assert "Value error" not in line
