"""`--write-path` on setup and deploy, and what a fold stack shows in status and redrive."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.checks import one_clean_error_line
from tests.cli.conftest import inventory


@pytest.mark.parametrize("command", ["setup", "deploy"])
def test_a_write_path_that_does_not_exist_is_a_usage_error(cli, aws, command):
    result = cli(command, "--write-path", "journal", code=2)

    assert "'journal' is not one of 'transaction', 'fold'" in result.stderr
    assert "Traceback" not in result.stderr
    assert all(not names for names in inventory().values())


def test_a_fold_stack_is_planned_shown_and_kept_by_a_plain_deploy(cli, aws):
    cli("setup", "--write-path", "fold")

    shown = cli("deploy", "--no-layer", "--dry-run").stdout
    cli("deploy", "--no-layer")
    again = cli("deploy", "--no-layer", "--dry-run").stdout

    for line in (
        "create queue: s3sizer-fold-dlq",
        "create function: s3sizer-fold",
        "create event source mapping: S3-object-size-history stream -> s3sizer-fold",
    ):
        assert line in shown
    assert "fold" not in again
    tracker = boto3.client("lambda").get_function_configuration(
        FunctionName="s3sizer-size-tracking"
    )
    assert tracker["Environment"]["Variables"]["WRITE_PATH"] == "fold"


def test_a_deployed_fold_stack_refuses_the_transaction_path_before_anything_changes(cli, aws):
    cli("setup", "--write-path", "fold")
    cli("deploy", "--no-layer")
    before = inventory()

    for command in ("setup", "deploy"):
        result = cli(command, "--write-path", "transaction", code=1)
        assert "cannot go back to the transaction path" in one_clean_error_line(result)
    assert inventory() == before


def deployed_with_one_fold_dead_letter(cli) -> None:
    cli("setup", "--write-path", "fold")
    cli("deploy", "--no-layer")
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="s3sizer-fold-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")


def test_status_and_redrive_of_a_fold_stack_count_the_fold_s_dead_letters(cli, aws):
    deployed_with_one_fold_dead_letter(cli)

    status = json.loads(cli("status", "--json").stdout)
    text = cli("status")

    assert list(status)[list(status).index("dead_letters") + 1] == "fold_dead_letters"
    assert (status["dead_letters"], status["fold_dead_letters"]) == (0, 1)
    assert "fold dead letters 1" in text.stdout
    assert "1 stream batch waits in the fold's dead-letter queue" in text.stderr


def test_redrive_names_the_tracker_s_dead_letters_and_the_fold_s_batches_apart(
    cli, aws, monkeypatch
):
    from s3sizer.cli import lifecycle

    deployed_with_one_fold_dead_letter(cli)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="s3sizer-events-dlq")["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="{}")

    monkeypatch.setattr(lifecycle, "_interactive", lambda: True)
    asked = cli("redrive", input="n\n", code=1)  # declined at the prompt: nothing moved

    assert "2 dead letters and 1 fold stream batch wait to be sent back." in asked.stderr
    assert "Redrive declined" in asked.stderr


def test_redrive_with_no_terminal_to_confirm_on_is_one_line_and_moves_nothing(cli, aws):
    deployed_with_one_fold_dead_letter(cli)

    refused = cli("redrive", code=2)

    assert "needs confirmation and stdin is not a terminal" in one_clean_error_line(refused)
    assert json.loads(cli("status", "--json").stdout)["fold_dead_letters"] == 1


def test_a_fold_stack_s_dead_letters_are_scraped_and_charted(cli, aws):
    from tests.cli.test_metrics import scrape, serving

    deployed_with_one_fold_dead_letter(cli)

    with serving() as endpoint:
        got = scrape(endpoint)
    body = json.loads(
        boto3.client("cloudwatch").get_dashboard(DashboardName="s3sizer")["DashboardBody"]
    )
    charted = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]

    assert got["s3sizer_fold_dead_letters", ()] == 1
    assert got["s3sizer_dead_letters", ()] == 0
    assert ("s3sizer_fold_lag_seconds", ()) not in got  # nothing folded in five minutes
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "s3sizer-fold-dlq"] in (
        charted
    )
    assert ["AWS/Lambda", "IteratorAge", "FunctionName", "s3sizer-fold"] in charted


def test_the_fold_s_logs_on_a_transaction_stack_are_an_error_not_an_empty_answer(cli, aws):
    cli("setup")

    result = cli("logs", "fold", code=1)

    line = one_clean_error_line(result)
    assert "is on the transaction write path: it has no fold function" in line
    assert "deploy --write-path fold" in line


def test_a_dead_letter_queue_deleted_by_hand_is_not_zero_dead_letters_and_deploy_brings_it_back(
    cli, aws
):
    cli("setup")
    cli("deploy", "--no-layer")
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="s3sizer-events-dlq")["QueueUrl"])

    gone = json.loads(cli("status", "--json").stdout)
    text = cli("status")
    cli("deploy", "--no-layer")
    back = json.loads(cli("status", "--json").stdout)

    assert gone["dead_letters"] is None
    assert "dead letters unknown: the dead-letter queue is gone" in text.stdout
    assert "the dead-letter queue is gone" in text.stderr
    assert "run `s3sizer deploy` to make it again" in text.stderr
    assert back["dead_letters"] == 0


def test_a_fold_dead_letter_queue_deleted_by_hand_is_not_zero_fold_dead_letters(cli, aws):
    deployed_with_one_fold_dead_letter(cli)
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="s3sizer-fold-dlq")["QueueUrl"])

    gone = json.loads(cli("status", "--json").stdout)
    text = cli("status")

    assert (gone["dead_letters"], gone["fold_dead_letters"]) == (0, None)
    assert "fold dead letters unknown: the dead-letter queue is gone" in text.stdout
    assert "the fold's dead-letter queue is gone" in text.stderr


def test_redrive_of_a_fold_stack_without_its_fold_dead_letter_queue_says_to_deploy(cli, aws):
    deployed_with_one_fold_dead_letter(cli)
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="s3sizer-fold-dlq")["QueueUrl"])

    result = cli("redrive", "--yes", "--json", code=1)

    line = one_clean_error_line(result)
    assert "has no fold dead-letter queue" in line and "s3sizer deploy" in line
    assert result.stdout == ""


def test_the_fold_s_lag_is_scraped_as_status_shows_it(cli, aws):
    from datetime import UTC, datetime

    from tests.cli.test_metrics import scrape, serving

    deployed_with_one_fold_dead_letter(cli)
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[{
            "MetricName": "IteratorAge", "Unit": "Milliseconds", "Value": 6250,
            "Dimensions": [{"Name": "FunctionName", "Value": "s3sizer-fold"}],
            "Timestamp": datetime.now(UTC),
        }],
    )  # fmt: skip

    with serving() as endpoint:
        got = scrape(endpoint)
    status = json.loads(cli("status", "--json").stdout)

    assert got["s3sizer_fold_lag_seconds", ()] == status["fold_lag_s"] == 6.2
    assert ("s3sizer_delivery_lag_seconds", ()) not in got  # the queue route counts its own


def test_a_fold_mapping_disabled_or_deleted_by_hand_is_a_stopped_mapping_until_deploy(cli, aws):
    cli("setup", "--write-path", "fold")
    cli("deploy", "--no-layer")
    lam = boto3.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="s3sizer-fold")["EventSourceMappings"]
    running = json.loads(cli("status", "--json").stdout)

    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    disabled = json.loads(cli("status", "--json").stdout)
    text = cli("status")
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    deleted = json.loads(cli("status", "--json").stdout)
    cli("deploy", "--no-layer")
    again = json.loads(cli("status", "--json").stdout)

    assert running["stopped_mappings"] == []
    assert disabled["stopped_mappings"] == deleted["stopped_mappings"] == ["fold"]
    assert "the fold's mapping from the table's stream is gone or disabled" in text.stderr
    assert "run `s3sizer deploy`" in text.stderr
    assert again["stopped_mappings"] == []


def test_the_tracker_s_queue_mapping_deleted_by_hand_is_a_stopped_mapping(cli, aws):
    cli("setup")
    before = json.loads(cli("status", "--json").stdout)
    cli("deploy", "--no-layer")
    lam = boto3.client("lambda")
    for mapping in lam.list_event_source_mappings(FunctionName="s3sizer-size-tracking")[
        "EventSourceMappings"
    ]:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])

    gone = json.loads(cli("status", "--json").stdout)
    text = cli("status")

    assert before["stopped_mappings"] == []  # nothing deployed: nothing to stop
    assert gone["stopped_mappings"] == ["size-tracking"]
    assert "the tracker's mapping from the queue is gone or disabled" in text.stderr


def test_a_move_to_the_fold_stopped_part_way_is_read_as_the_tracker_runs_and_named(
    cli, aws, monkeypatch
):
    """`deploy --write-path fold` stopped after the tracker's switch and before it stored the
    choice: the tracker writes for the fold, so the totals are the fold's rows and the base.
    Read as the stored config says, every total stood still, and nothing said why."""
    from s3sizer.lambdas import layout as lay
    from s3sizer.lambdas import rows
    from s3sizer.stack import steps as st
    from s3sizer.stack.apply import Executor
    from tests.cli.conftest import DEFAULT_BUCKET

    cli("setup")
    cli("deploy", "--no-layer")
    real = Executor.execute

    def stop_after_the_switch(self, step):
        real(self, step)
        variables = getattr(step, "settings", {}).get("Environment", {}).get("Variables", {})
        if isinstance(step, st.UpdateFunctionConfiguration) and variables.get("WRITE_PATH"):
            raise KeyboardInterrupt

    monkeypatch.setattr(Executor, "execute", stop_after_the_switch)
    cli("deploy", "--no-layer", "--write-path", "fold", code=130)
    monkeypatch.setattr(Executor, "execute", real)
    row = {**rows.totals_row_address(DEFAULT_BUCKET, "shard-1"), "total_size": lay.n(5),
           "object_count": lay.n(1), "updated_at": {"S": "2026-12-07T09:00:00.000Z"}}  # fmt: skip
    boto3.client("dynamodb").put_item(TableName="S3-object-size-history", Item=row)

    status = json.loads(cli("status", "--json").stdout)
    text = cli("status")

    assert (status["total_size"], status["object_count"]) == (5, 1)  # the fold's row counts
    assert status["unfinished_fold_move"] is True
    assert "stopped after the tracker moved to the fold write path" in text.stderr
    assert "`s3sizer deploy` to finish it" in text.stderr
    cli("deploy", "--no-layer")
    assert "unfinished_fold_move" not in json.loads(cli("status", "--json").stdout)


def test_reads_by_an_identity_that_may_not_read_lambda_take_the_stored_config(
    cli, aws, monkeypatch
):
    """A read-only identity of the table, with no lambda:GetFunctionConfiguration."""
    from botocore.exceptions import ClientError

    from s3sizer.stack.state import Stack

    cli("setup")
    cli("deploy", "--no-layer")

    def denied(self, short):
        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetFunctionConfiguration")

    monkeypatch.setattr(Stack, "function_configuration", denied)
    status = json.loads(cli("status", "--json").stdout)
    history = json.loads(cli("history", "--json").stdout)

    assert status["delivery"] == "sqs" and "unfinished_fold_move" not in status
    assert isinstance(history, list | dict)
