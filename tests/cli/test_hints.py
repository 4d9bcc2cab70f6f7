"""A command a message tells the user to run carries the global options they gave, so that,
copied as shown, it acts on the same stack (and region, profile and endpoint)."""

from __future__ import annotations

from s3sizer import output


def test_a_hint_names_the_stack_given_on_the_command_line(cli, aws):
    cli("--stack", "other", "setup")
    bucket = "s3sizer-123456789012-us-east-1"  # the default stack's bucket: not tracked here

    refused = cli("--stack", "other", "untrack", bucket, code=1)

    # Copied without it, the command would read (or, as `teardown`, remove) the default stack.
    assert "`s3sizer --stack other status`" in refused.stderr


def test_a_stack_named_by_the_environment_stays_out_of_the_hint(cli, aws, monkeypatch):
    monkeypatch.setenv("S3SIZER_STACK", "other")
    cli("setup")
    bucket = "s3sizer-123456789012-us-east-1"

    refused = cli("untrack", bucket, code=1)

    assert "`s3sizer status`" in refused.stderr  # the shell still names the stack


def test_a_hint_that_names_another_stack_keeps_it_and_takes_the_endpoint_given():
    """Copied without the endpoint, the other stack's command would act on AWS itself."""
    output.given_globals(["--endpoint-url", "http://127.0.0.1:4566", "--stack", "my stack"])
    try:
        text = output.runnable(
            "run `s3sizer untrack b`, or `s3sizer --stack theirs untrack b` (tracked there)"
        )
    finally:
        output.given_globals([])
    assert text == (
        "run `s3sizer --endpoint-url http://127.0.0.1:4566 --stack 'my stack' untrack b`, "
        "or `s3sizer --endpoint-url http://127.0.0.1:4566 --stack theirs untrack b` (tracked there)"
    )


def test_a_hint_that_names_another_stack_is_left_as_it_is_when_only_the_stack_was_given():
    output.given_globals(["--stack", "mine"])
    try:
        text = output.runnable("run `s3sizer --stack theirs untrack b`")
    finally:
        output.given_globals([])
    assert text == "run `s3sizer --stack theirs untrack b`"


def test_the_local_aws_is_named_without_the_stack_s_options():
    """`s3sizer emulator` serves every stack on its own --host and --port."""
    output.given_globals(["--stack", "mine", "--region", "eu-west-1"])
    try:
        text = output.runnable("start it with `s3sizer emulator`, then run `s3sizer status`")
    finally:
        output.given_globals([])
    assert text == (
        "start it with `s3sizer emulator`, then run "
        "`s3sizer --stack mine --region eu-west-1 status`"
    )


def test_a_result_on_stdout_names_commands_with_the_options_given(cli, aws):
    """Text results name commands too (`status`'s "`s3sizer status --refresh-uploads`")."""
    cli("--stack", "other", "setup")

    shown = cli("--stack", "other", "status").stdout

    assert "`s3sizer --stack other status --refresh-uploads`" in shown
