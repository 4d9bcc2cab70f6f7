"""The stack's alarms: each bucket's size alarm (--alarm-above SIZE), and the growth alarm
(--alarm-growth SIZE/PERIOD), metric math on the BucketSizeBytes that the tracker already
emits, so it adds no metric to pay for.

Its expression is DIFF(FILL(m1, REPEAT)) over m1 = the largest size in each PERIOD: how much
the bucket grew since the period before. The tracker emits a datapoint only when the bucket
changes, so FILL carries the last size over quiet periods (a quiet period grew by 0).
"""

from __future__ import annotations

from s3sizer.stack import steps as st
from s3sizer.stack.model import TAG_KEY, BucketSettings, StackConfig
from s3sizer.stack.state import Stack

GROWTH_EXPRESSION = "DIFF(FILL(m1, REPEAT))"


def growth_alarm_params(config: StackConfig, tags: dict[str, str]) -> dict:
    period = config.alarm_growth_period
    return {
        "AlarmDescription": (
            f"{config.bucket} grew by more than {config.alarm_growth:,} bytes in {period:,} s"
        ),
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "s3sizer",
                        "MetricName": "BucketSizeBytes",
                        "Dimensions": [{"Name": "Bucket", "Value": config.bucket}],
                    },
                    "Period": period,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            },
            {
                "Id": "growth",
                "Expression": GROWTH_EXPRESSION,
                "Label": f"Growth per {period} s",
                "ReturnData": True,
            },
        ],
        "EvaluationPeriods": 1,
        "Threshold": float(config.alarm_growth),
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [config.alarm_topic] if config.alarm_topic else [],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def growth_alarm_steps(stack: Stack, config: StackConfig, tags: dict[str, str]) -> list[st.Step]:
    name = stack.names.growth_alarm
    if config.alarm_growth is None:
        return [st.DeleteAlarm(name)] if stack.alarm_exists(name) else []
    return put_unless_same(stack, name, growth_alarm_params(config, tags))


def size_alarm_steps(
    stack: Stack, settings: BucketSettings, topic: str | None, *, first: bool
) -> list[st.Step]:
    """The bucket's size alarm: the first bucket's keeps the stack's name, each other its own."""
    name = stack.names.bucket_alarm(settings.bucket, first)
    if settings.alarm_above is None:
        return [st.DeleteAlarm(name)] if stack.alarm_exists(name) else []
    params = {
        "AlarmDescription": f"{settings.bucket} holds more than {settings.alarm_above:,} bytes",
        "Namespace": "s3sizer",
        "MetricName": "BucketSizeBytes",
        "Dimensions": [{"Name": "Bucket", "Value": settings.bucket}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": float(settings.alarm_above),
        "ComparisonOperator": "GreaterThanThreshold",
        # Datapoints come only when the bucket changes: a quiet bucket above the line stays ALARM.
        "TreatMissingData": "ignore",
        "AlarmActions": [topic] if topic else [],
        "Tags": [{"Key": TAG_KEY, "Value": stack.names.stack}],
    }
    return put_unless_same(stack, name, params)


def put_unless_same(stack: Stack, name: str, params: dict) -> list[st.Step]:
    """The alarm put, unless CloudWatch holds it as asked already (a re-run changes nothing).
    Tags are left out: PutMetricAlarm ignores them on an alarm that exists."""
    found = stack.alarm(name)
    asked = {key: value for key, value in params.items() if key != "Tags"}
    return [] if found is not None and _holds(found, asked) else [st.PutAlarm(name, params)]


def _holds(found, asked) -> bool:
    """Whether ``found`` (as DescribeAlarms gives it) has every value ``asked`` gives."""
    if isinstance(asked, dict):
        return isinstance(found, dict) and all(_holds(found.get(k), v) for k, v in asked.items())
    if isinstance(asked, list):
        return (
            isinstance(found, list)
            and len(found) == len(asked)
            and all(_holds(f, a) for f, a in zip(found, asked, strict=True))
        )
    return found == asked


def teardown_steps(stack: Stack) -> list[st.Step]:
    name = stack.names.growth_alarm
    return [st.DeleteAlarm(name)] if stack.alarm_exists(name) else []
