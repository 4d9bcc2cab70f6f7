"""The fold write path's stack (stack/fold.py), planned against moto in-process: the stream, the
fold function, its role, DLQ and mapping, all before the tracker's WRITE_PATH=fold; a plan that
stays put once applied; a teardown that leaves nothing; and a stack that never goes back."""

from __future__ import annotations

from importlib import resources

import pytest

from s3sizer.errors import StackError
from s3sizer.stack import fold, iam
from s3sizer.stack import steps as st
from s3sizer.stack import stream_steps as sst
from s3sizer.stack.apply import Executor
from s3sizer.stack.model import FOLD_FUNCTION, Names
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.plan_teardown import plan_teardown
from s3sizer.stack.state import Stack

from .conftest import ACCOUNT

TABLE = "S3-object-size-history"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"
FOLD_DLQ_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:s3sizer-fold-dlq"
ARNS = iam.Arns(Names("s3sizer"), "aws", ACCOUNT, "us-east-1", "tracked")


def run(stack, plan) -> st.Plan:
    Executor(Stack(stack.aws), sleep=lambda s: None).run(plan)
    return plan


def deploy(stack, **options) -> st.Plan:
    return plan_deploy(Stack(stack.aws), DeployOptions(**options))


def kinds(plan) -> list[str]:
    return [type(step).__name__ for step in plan.steps]


def tracker_variables(step) -> dict:
    return step.settings["Environment"]["Variables"]


def test_the_fold_role_holds_exactly_its_grants():
    document = iam.policy_for("fold", ARNS)

    assert document["Statement"] == [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [
                f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/s3sizer-fold",
                f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/s3sizer-fold:*",
            ],
        },
        {
            "Sid": "ReadTableStream",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": [f"{TABLE_ARN}/stream/*"],
        },
        {
            "Sid": "FoldIntoHistory",
            "Effect": "Allow",
            "Action": [
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            "Resource": [TABLE_ARN],
        },
        {
            "Sid": "FailedBatchesToDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [FOLD_DLQ_ARN],
        },
    ]


@pytest.mark.skipif(
    "PLACEHOLDER = True" in (resources.files("s3sizer.lambdas") / "fold.py").read_text(),
    reason="s3sizer/lambdas/fold.py is still the placeholder: no code to derive the grants from",
)
def test_the_fold_role_holds_what_its_code_calls_and_what_aws_does_for_it():
    from tests.stack.test_iam_derived import called_actions, granted_actions, on_behalf

    called, granted = called_actions(FOLD_FUNCTION.modules), granted_actions("fold")

    assert called <= granted, f"the fold calls {sorted(called - granted)} without a grant"
    assert granted - called <= on_behalf(), sorted(granted - called - on_behalf())


def test_setup_of_a_new_fold_stack_turns_the_stream_on_and_makes_the_fold_s_role(stack):
    plan = plan_setup(stack, None, write_path="fold")

    assert kinds(plan)[:3] == ["CreateTable", "PutConfig", "EnableStream"]
    assert plan.steps[1].config.write_path == "fold"
    assert plan.steps[2] == sst.EnableStream(TABLE, "NEW_AND_OLD_IMAGES")
    roles = [s.role for s in plan.steps if isinstance(s, st.CreateRole)]
    assert roles[-1] == "s3sizer-fold-role"
    run(stack, plan)
    table = Stack(stack.aws).table_description()
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["LatestStreamArn"].startswith(f"{TABLE_ARN}/stream/")
    assert plan_setup(Stack(stack.aws), None).steps == ()


def test_a_fold_stack_s_deploy_makes_the_fold_before_the_tracker_learns_of_it(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))

    plan = deploy(stack)

    order = kinds(plan)
    fold_dlq, fold_function, mapping, tracker = (
        order.index("CreateQueue"),
        next(
            i for i, s in enumerate(plan.steps) if s.describe() == "create function: s3sizer-fold"
        ),
        order.index("CreateStreamMapping"),
        next(
            i
            for i, s in enumerate(plan.steps)
            if isinstance(s, st.CreateFunction) and s.name == "s3sizer-size-tracking"
        ),
    )
    assert fold_dlq < fold_function < mapping < tracker
    assert plan.steps[fold_dlq] == st.CreateQueue(
        "s3sizer-fold-dlq",
        {"MessageRetentionPeriod": str(14 * 86400)},
        {"s3sizer:stack": "s3sizer"},
    )
    fold = plan.steps[fold_function]
    assert fold.settings["Handler"] == "s3sizer_lambdas.fold.handler"
    assert (fold.settings["MemorySize"], fold.settings["Timeout"]) == (256, 60)
    assert tracker_variables(fold) == {"TABLE_NAME": TABLE, "HISTORY_TTL_DAYS": "0"}
    assert plan.steps[mapping] == sst.CreateStreamMapping(
        "s3sizer-fold",
        TABLE,
        {
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1000,
            "MaximumBatchingWindowInSeconds": 4,
            "ParallelizationFactor": 1,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {
                "Filters": [
                    {"Pattern": '{"dynamodb": {"NewImage": {"f": {"N": ["1"]}}}}'},
                    {"Pattern": '{"dynamodb": {"OldImage": {"f": {"N": ["1"]}}}}'},
                ]
            },
            "DestinationConfig": {"OnFailure": {"Destination": FOLD_DLQ_ARN}},
        },
    )
    assert tracker_variables(plan.steps[tracker])["WRITE_PATH"] == "fold"
    # The bucket's events are routed only once the tracker writes for the fold.
    assert tracker < order.index("PutNotification")

    run(stack, plan)
    after = Stack(stack.aws)
    (found,) = after.event_source_mappings("fold")
    assert found["EventSourceArn"] == after.table_description()["LatestStreamArn"]
    assert found["DestinationConfig"] == {"OnFailure": {"Destination": FOLD_DLQ_ARN}}
    assert deploy(stack).steps == ()


def test_a_deployed_transaction_stack_moves_to_fold_with_deploy_its_tracker_last(stack):
    run(stack, plan_setup(stack, None))
    run(stack, deploy(stack))

    with pytest.raises(StackError, match="deploy --write-path fold"):
        plan_setup(Stack(stack.aws), None, write_path="fold")
    plan = deploy(stack, write_path="fold")

    order = kinds(plan)
    assert order.index("EnableStream") < order.index("CreateStreamMapping")
    assert [s.role for s in plan.steps if isinstance(s, st.CreateRole)] == ["s3sizer-fold-role"]
    (update,) = [s for s in plan.steps if isinstance(s, st.UpdateFunctionConfiguration)]
    assert update.name == "s3sizer-size-tracking"
    assert tracker_variables(update)["WRITE_PATH"] == "fold"
    assert order.index("CreateStreamMapping") < plan.steps.index(update)
    assert isinstance(plan.steps[-1], st.PutConfig)
    assert plan.steps[-1].config.write_path == "fold"
    run(stack, plan)
    assert deploy(stack).steps == ()


def test_a_deployed_fold_stack_never_goes_back_to_transactions(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))
    run(stack, deploy(stack))

    for plan in (
        lambda: deploy(stack, write_path="transaction"),
        lambda: plan_setup(Stack(stack.aws), None, write_path="transaction"),
    ):
        with pytest.raises(StackError, match="cannot go back to the transaction path"):
            plan()
    assert deploy(stack, write_path="fold").steps == ()
    assert Stack(stack.aws).config.write_path == "fold"


def test_a_fold_stack_not_yet_deployed_may_still_choose_transactions(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))

    plan = plan_setup(Stack(stack.aws), None, write_path="transaction")

    assert kinds(plan) == ["PutConfig"]
    assert plan.steps[0].config.write_path == "transaction"


def test_teardown_of_a_fold_stack_removes_its_mapping_function_queue_and_role(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))
    run(stack, deploy(stack))

    plan = plan_teardown(Stack(stack.aws))

    fold_lines = [s.describe() for s in plan.steps if "fold" in s.describe()]
    assert fold_lines[0].startswith("delete event source mapping: s3sizer-fold (")
    assert fold_lines[1:] == [
        "delete function: s3sizer-fold",
        "delete queue: s3sizer-fold-dlq",
        "delete log group: /aws/lambda/s3sizer-fold",
        "delete role: s3sizer-fold-role",
    ]
    run(stack, plan)
    assert plan_teardown(Stack(stack.aws)).steps == ()


def test_a_transaction_stack_s_plans_have_none_of_the_fold(stack):
    setup = run(stack, plan_setup(stack, None))
    deployed = run(stack, deploy(stack))
    teardown = plan_teardown(Stack(stack.aws))

    for plan in (setup, deployed, teardown):
        assert not [s.describe() for s in plan.steps if "fold" in s.describe()]
        assert not [s for s in plan.steps if isinstance(s, sst.EnableStream)]
    (tracker,) = [
        s
        for s in deployed.steps
        if isinstance(s, st.CreateFunction) and s.name == "s3sizer-size-tracking"
    ]
    # The tracker's environment as before the fold path existed (and the bucket it writes to).
    assert tracker_variables(tracker) == {
        "TABLE_NAME": TABLE,
        "HISTORY_TTL_DAYS": "0",
        "PREFIX_DEPTH": "1",
        "BUCKET_SETTINGS": "table",
        "KEY_DEPTHS": "settings",
        "OWN_KEYS_BUCKET": Stack(stack.aws).config.bucket,  # its own keys are ignored there only
    }
    assert Stack(stack.aws).table_description().get("StreamSpecification") is None


def test_a_new_retention_reaches_the_fold_too_and_the_tracker_stays_on_fold(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))
    run(stack, deploy(stack))

    plan = plan_setup(Stack(stack.aws), None, 7)

    updates = {s.name: s for s in plan.steps if isinstance(s, st.UpdateFunctionConfiguration)}
    assert set(updates) == {"s3sizer-size-tracking", "s3sizer-fold"}
    assert tracker_variables(updates["s3sizer-fold"])["HISTORY_TTL_DAYS"] == "7"
    assert tracker_variables(updates["s3sizer-size-tracking"])["WRITE_PATH"] == "fold"


class _Totals:
    """History.totals() answers in turn: the fold counting what reconcile just read."""

    def __init__(self, *sizes: tuple[int, int]):
        self.sizes = list(sizes)

    def totals(self):
        from types import SimpleNamespace

        size, count = self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]
        return SimpleNamespace(total_size=size, object_count=count)


def _unfolded(monkeypatch, letters: int, history: _Totals, settle: float = 10.0) -> dict:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(fold, "dead_letter_count", lambda stack: letters)
    return fold.unfolded(
        None, history, 100, 4, settle=settle, clock=lambda: now[0], sleep=sleep
    ) | {"waited": now[0]}


def test_reconcile_s_gap_on_a_fold_stack_is_read_once_the_fold_counted_what_it_read(monkeypatch):
    """Its own mends reach the totals a few seconds later: the gap is the one that stays."""
    got = _unfolded(monkeypatch, 0, _Totals((90, 3), (95, 3), (100, 4)))
    assert got == {
        "fold_dead_letters": 0, "unfolded_bytes": 0, "unfolded_objects": 0, "waited": 1.0
    }  # fmt: skip


def test_reconcile_s_gap_that_stays_is_reported_after_the_wait(monkeypatch):
    got = _unfolded(monkeypatch, 0, _Totals((90, 3)), settle=10.0)
    assert (got["unfolded_bytes"], got["unfolded_objects"], got["waited"]) == (10, 1, 10.0)


def test_reconcile_s_gap_beside_a_dead_letter_is_reported_without_a_wait(monkeypatch):
    got = _unfolded(monkeypatch, 2, _Totals((90, 3)))
    assert got == {
        "fold_dead_letters": 2, "unfolded_bytes": 10, "unfolded_objects": 1, "waited": 0.0
    }  # fmt: skip


def mapping_concurrency(plan) -> int | None:
    for step in plan.steps:
        if isinstance(step, (st.CreateEventSourceMapping, st.UpdateEventSourceMapping)):
            return step.settings["ScalingConfig"]["MaximumConcurrency"]
    return None


def test_a_fold_stack_s_queue_mapping_runs_thirty_batches_at_once_unless_told(stack):
    run(stack, plan_setup(stack, None, write_path="fold"))

    assert mapping_concurrency(deploy(stack)) == 30
    assert mapping_concurrency(deploy(stack, max_concurrency=5)) == 5
    run(stack, deploy(stack, max_concurrency=5))
    assert deploy(stack).steps == ()  # the choice is kept


def test_a_transaction_stack_moving_to_fold_raises_its_mapping_s_concurrency_after_its_tracker(
    stack,
):
    run(stack, plan_setup(stack, None))
    first = run(stack, deploy(stack))
    assert mapping_concurrency(first) == 2

    plan = deploy(stack, write_path="fold")

    order = kinds(plan)
    (tracker,) = [s for s in plan.steps if isinstance(s, st.UpdateFunctionConfiguration)]
    assert mapping_concurrency(plan) == 30
    # A transaction tracker at 30 batches would only meet more conflicts on the totals.
    assert plan.steps.index(tracker) < order.index("UpdateEventSourceMapping")


@pytest.mark.parametrize(
    ("stored", "given", "expected"),
    [
        (None, None, 30),  # none chosen: the fold path's default
        (5, None, 5),  # a value chosen on the transaction path is kept
        (2, None, 2),  # even the transaction path's own default, once chosen
        (None, 2, 2),  # asked for on the move
    ],
)
def test_a_move_to_fold_keeps_a_chosen_concurrency_and_lets_none_follow_the_path(
    stored, given, expected
):
    from s3sizer.stack.model import StackConfig
    from s3sizer.stack.plan_deploy import deploy_config

    existing = StackConfig("s3sizer", "tracked", True, "us-east-1", max_concurrency=stored)

    moved = deploy_config(existing, DeployOptions(write_path="fold", max_concurrency=given))

    assert existing.mapping_concurrency == (stored or 2)
    assert moved.mapping_concurrency == expected
    assert deploy_config(moved, DeployOptions()).mapping_concurrency == expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"max_concurrency": 2}, 30),  # an earlier release stored its default whatever was chosen
        ({"max_concurrency": 5}, 5),
        ({"max_concurrency": 2, "layout": 2}, 2),  # this release stores only a choice
        ({"max_concurrency": None, "layout": 2}, 30),
    ],
)
def test_a_stored_config_of_an_earlier_release_lets_its_default_concurrency_follow_the_path(
    stored, expected
):
    from s3sizer.stack.model import StackConfig

    fields = {"stack": "s3sizer", "bucket": "tracked", "bucket_owned": True,
              "region": "us-east-1", "write_path": "fold"}  # fmt: skip

    assert StackConfig.from_stored({**fields, **stored}).mapping_concurrency == expected


def test_a_fold_stack_deployed_by_an_earlier_release_moves_its_mapping_to_thirty(stack):
    import json

    import boto3

    from s3sizer.stack.state import CONFIG_KEY

    run(stack, plan_setup(stack, None, write_path="fold"))
    run(stack, deploy(stack, max_concurrency=2))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    item = ddb.get_item(TableName=TABLE, Key=CONFIG_KEY)["Item"]
    stored = json.loads(item["config"]["S"])
    del stored["layout"]  # as the earlier release stored it: its default 2, whatever was chosen
    ddb.put_item(TableName=TABLE, Item={**item, "config": {"S": json.dumps(stored)}})

    plan = deploy(stack)

    assert mapping_concurrency(plan) == 30
    run(stack, plan)
    assert deploy(stack).steps == ()
