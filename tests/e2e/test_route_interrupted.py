"""A route change stopped part-way, on the local AWS (whose S3 shows a bucket's EventBridge
setting, which moto in-process drops): what s3sizer turned on, teardown still turns off."""

from __future__ import annotations

from s3sizer.stack.apply import Executor


def notifications(cli, bucket: str) -> dict:
    got = cli.aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    got.pop("ResponseMetadata", None)
    return got


def first_bucket(cli) -> str:
    return f"{cli.stack}-first"  # adopted, so that teardown leaves it


def second_bucket(cli) -> str:
    return f"{cli.stack}-second"


def moved_to_sqs_and_stopped_before_the_second_bucket(cli, monkeypatch) -> str:
    """Two buckets on EventBridge, which s3sizer turned on for both; then `deploy --delivery
    sqs`, stopped (Ctrl-C) just before the second bucket's entry changes."""
    second = second_bucket(cli)

    def before_the_second(put, executor, step):
        if step.bucket == second:
            raise KeyboardInterrupt
        return put(executor, step)

    on_eventbridge_then_moved_to_sqs(cli, monkeypatch, before_the_second)
    assert notifications(cli, second) == {"EventBridgeConfiguration": {}}
    return second


def on_eventbridge_then_moved_to_sqs(cli, monkeypatch, put_notification) -> str:
    """Two buckets on EventBridge, which s3sizer turned on for both; then `deploy --delivery
    sqs`, its entries put through ``put_notification(put, executor, step)``, which stops it."""
    first, second = first_bucket(cli), second_bucket(cli)
    for bucket in (first, second):
        cli.aws.client("s3").create_bucket(Bucket=bucket)
    cli("setup", "--bucket", first)
    cli("deploy", "--no-layer")
    cli("track", second)
    cli("deploy", "--no-layer", "--delivery", "eventbridge")
    assert notifications(cli, second) == {"EventBridgeConfiguration": {}}
    put = Executor._put_notification
    with monkeypatch.context() as patched:
        patched.setattr(
            Executor, "_put_notification", lambda e, step: put_notification(put, e, step)
        )
        cli("deploy", "--no-layer", "--delivery", "sqs", code=130)
    return second


def test_teardown_after_a_move_to_sqs_stopped_part_way_turns_off_the_eventbridge_it_turned_on(
    stack_cli, monkeypatch
):
    second = moved_to_sqs_and_stopped_before_the_second_bucket(stack_cli, monkeypatch)

    stack_cli("teardown", "--yes")

    assert notifications(stack_cli, second) == {}  # as it was before s3sizer touched it


def test_the_same_deploy_run_again_finishes_the_move_and_turns_eventbridge_off(
    stack_cli, monkeypatch
):
    cli = stack_cli
    second = moved_to_sqs_and_stopped_before_the_second_bucket(cli, monkeypatch)

    cli("deploy", "--no-layer", "--delivery", "sqs")

    entry = notifications(cli, second)
    assert "EventBridgeConfiguration" not in entry
    assert [q["Id"] for q in entry["QueueConfigurations"]] == [f"{cli.stack}-size-tracking"]
    cli("teardown", "--yes")
    assert notifications(cli, second) == {}


def moved_to_sqs_and_stopped_right_after_the_first_bucket(cli, monkeypatch) -> str:
    """Stopped after the step that turned the first bucket's EventBridge delivery off, and
    before the settings that say it is no longer s3sizer's."""

    def after_the_first(put, executor, step):
        put(executor, step)
        if step.bucket == first_bucket(cli):
            raise KeyboardInterrupt

    second = on_eventbridge_then_moved_to_sqs(cli, monkeypatch, after_the_first)
    assert "EventBridgeConfiguration" not in notifications(cli, first_bucket(cli))
    return second


def test_the_same_deploy_run_again_after_a_stop_right_after_the_first_bucket_finishes_the_move(
    stack_cli, monkeypatch
):
    cli = stack_cli
    second = moved_to_sqs_and_stopped_right_after_the_first_bucket(cli, monkeypatch)

    cli("deploy", "--no-layer", "--delivery", "sqs")

    for bucket in (first_bucket(cli), second):
        entry = notifications(cli, bucket)
        assert "EventBridgeConfiguration" not in entry, bucket
        assert [q["Id"] for q in entry["QueueConfigurations"]] == [f"{cli.stack}-size-tracking"]
    cli("teardown", "--yes")
    assert notifications(cli, first_bucket(cli)) == notifications(cli, second) == {}


def test_teardown_after_a_stop_right_after_the_first_bucket_s_entry_changed(stack_cli, monkeypatch):
    second = moved_to_sqs_and_stopped_right_after_the_first_bucket(stack_cli, monkeypatch)

    stack_cli("teardown", "--yes")

    first = first_bucket(stack_cli)
    assert notifications(stack_cli, first) == notifications(stack_cli, second) == {}
