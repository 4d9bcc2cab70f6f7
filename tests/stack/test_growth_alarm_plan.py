"""The growth alarm in the setup and teardown plans, as data."""

from __future__ import annotations

from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_teardown import plan_teardown


def growth_steps(plan) -> list:
    return [s for s in plan.steps if getattr(s, "name", None) == "s3sizer-bucket-growth"]


def test_setup_plans_metric_math_on_the_emitted_metric(stack):
    plan = plan_setup(stack, None, alarm_growth=(10**9, 3600))

    (step,) = growth_steps(plan)
    assert isinstance(step, st.PutAlarm)
    metrics = {m["Id"]: m for m in step.params["Metrics"]}
    assert metrics["growth"]["Expression"] == "DIFF(FILL(m1, REPEAT))"
    assert metrics["m1"]["MetricStat"]["Metric"]["Namespace"] == "s3sizer"
    assert metrics["m1"]["MetricStat"]["Metric"]["Dimensions"][0]["Name"] == "Bucket"
    assert step.params["Threshold"] == 1e9
    assert "MetricName" not in step.params  # no second metric: only math on BucketSizeBytes


def test_teardown_plans_its_deletion_only_when_it_exists(stack):
    assert growth_steps(plan_teardown(stack)) == []
    Executor(stack).run(plan_setup(stack, None, alarm_growth=(10**9, 3600)))
    stack.__dict__.pop("config", None)

    assert growth_steps(plan_teardown(stack)) == [st.DeleteAlarm("s3sizer-bucket-growth")]
