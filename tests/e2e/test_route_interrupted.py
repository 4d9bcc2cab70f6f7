"""A route change stopped part-way, on the local AWS (whose S3 shows a bucket's EventBridge
setting, which moto in-process drops): what s3sizer turned on, teardown still turns off."""

from __future__ import annotations

from s3sizer.stack.apply import Executor


def notifications(cli, bucket: str) -> dict:
    got = cli.aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    got.pop("ResponseMetadata", None)
    return got


def moved_to_sqs_and_stopped_before_the_second_bucket(cli, monkeypatch) -> str:
    """Two buckets on EventBridge, which s3sizer turned on for both; then `deploy --delivery
    sqs`, stopped (Ctrl-C) just before the second bucket's entry changes."""
    second = f"{cli.stack}-second"
    cli.aws.client("s3").create_bucket(Bucket=second)
    cli("setup")
    cli("deploy", "--no-layer")
    cli("track", second)
    cli("deploy", "--no-layer", "--delivery", "eventbridge")
    assert notifications(cli, second) == {"EventBridgeConfiguration": {}}
    put_notification = Executor._put_notification

    def stopped_at_the_second(executor, step):
        if step.bucket == second:
            raise KeyboardInterrupt
        return put_notification(executor, step)

    with monkeypatch.context() as patched:
        patched.setattr(Executor, "_put_notification", stopped_at_the_second)
        cli("deploy", "--no-layer", "--delivery", "sqs", code=130)
    assert notifications(cli, second) == {"EventBridgeConfiguration": {}}
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
