"""EventBridge scheduled rules on the emulator: expressions, the scheduled event each target gets,
the advance control and a sped-up schedule clock."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from s3sizer.emulator import Emulator
from s3sizer.emulator.config import SCHEDULE_MINUTE_ENV, load_settings
from s3sizer.emulator.schedule_expressions import ScheduleError, parse
from s3sizer.errors import EmulatorError

from .helpers import RECORDING_HANDLER, create_function, poll, read_records
from .in_process_s3 import client


class InProcess:
    """The emulator as helpers.py's functions expect it."""

    def __init__(self, aws: Emulator):
        self.aws = aws

    def client(self, service: str):
        return client(self.aws, service)


def test_rate_and_cron_expressions_name_the_documented_times():
    start = datetime(2026, 12, 3, 9, 0)  # a Thursday
    assert parse("rate(1 minute)").minutes == 1
    assert parse("rate(2 hours)").minutes == 120
    assert parse("rate(1 day)").minutes == 1440
    assert parse("rate(15 minutes)").due_between(start, start, datetime(2026, 12, 3, 9, 40)) == [
        datetime(2026, 12, 3, 9, 15),
        datetime(2026, 12, 3, 9, 30),
    ]
    weekdays = parse("cron(0 10 ? * MON-FRI *)")
    assert weekdays.due_between(start, start, datetime(2026, 12, 8, 11, 0)) == [
        datetime(2026, 12, d, 10, 0) for d in (3, 4, 7, 8)
    ]
    quarter = parse("cron(0/15 * * * ? *)")
    assert [m.minute for m in quarter.due_between(start, start, datetime(2026, 12, 3, 10))] == [
        15, 30, 45, 0,
    ]  # fmt: skip
    for wrong in ("rate(0 minutes)", "rate(5 weeks)", "cron(0 10 * *)", "cron(0 25 * * ? *)",
                  "cron(0 10 L * ? *)"):  # fmt: skip
        with pytest.raises(ScheduleError):
            parse(wrong)


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _bodies(sqs, url: str) -> list[str]:
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_scheduled_rules_invoke_their_targets_as_the_clock_advances(tmp_path):
    record = tmp_path / "records.jsonl"
    with Emulator(port=0, retry_backoff=0.01) as aws:
        events, sqs = client(aws, "events"), client(aws, "sqs")
        function_arn = create_function(
            InProcess(aws), "scheduled", RECORDING_HANDLER, env={"RECORD_FILE": str(record)}
        )
        url, queue_arn = _queue(sqs, "scheduled")
        rule_arn = events.put_rule(Name="every-15", ScheduleExpression="rate(15 minutes)")[
            "RuleArn"
        ]
        events.put_targets(Rule="every-15", Targets=[{"Id": "fn", "Arn": function_arn}])
        events.put_rule(Name="half-hours", ScheduleExpression="cron(0/30 * * * ? *)")
        events.put_targets(Rule="half-hours", Targets=[
            {"Id": "q", "Arn": queue_arn, "Input": json.dumps({"poll": "uploads"})},
        ])  # fmt: skip
        events.put_rule(Name="off", ScheduleExpression="rate(1 minute)", State="DISABLED")
        events.put_targets(Rule="off", Targets=[{"Id": "q", "Arn": queue_arn}])

        report = aws.advance_schedules(60)

        def four_invocations():
            found = read_records(record)
            return found if len(found) == 4 else None

        invocations = poll(four_invocations)
        event = invocations[0]["event"]
        assert set(event) == {"version", "id", "detail-type", "source", "account", "time",
                              "region", "resources", "detail"}  # fmt: skip
        assert (event["version"], event["detail-type"], event["source"]) == (
            "0", "Scheduled Event", "aws.events",
        )  # fmt: skip
        assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
        assert event["resources"] == [rule_arn] and event["detail"] == {}
        assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
        assert len({i["event"]["id"] for i in invocations}) == 4
        # Two half hours in an hour, each the target's Input; the disabled rule sent nothing.
        assert _bodies(sqs, url) == ['{"poll": "uploads"}'] * 2
        assert report["events_sent"] == 6
        assert aws.advance_schedules(0)["events_sent"] == 0


def test_a_shorter_schedule_minute_fires_rules_on_its_own():
    with Emulator(port=0, retry_backoff=0.01, schedule_minute_seconds=0.05) as aws:
        events, sqs = client(aws, "events"), client(aws, "sqs")
        url, queue_arn = _queue(sqs, "fast")
        events.put_rule(Name="fast", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="fast", Targets=[
            {"Id": "q", "Arn": queue_arn, "InputPath": "$.detail-type"},
        ])  # fmt: skip
        seen: list[str] = []

        def two_events():
            seen.extend(_bodies(sqs, url))
            return len(seen) >= 2

        poll(two_events, timeout=20)
        assert set(seen) == {'"Scheduled Event"'}


def test_the_advance_control_refuses_what_it_cannot_do():
    import urllib.error
    import urllib.request

    with Emulator(port=0) as aws:
        base = f"{aws.endpoint_url}/_s3sizer/schedules/advance"
        answer = urllib.request.urlopen(urllib.request.Request(f"{base}?minutes=5", method="POST"))
        assert json.loads(answer.read())["events_sent"] == 0
        for url, method, status in ((f"{base}?minutes=-1", "POST", 400),
                                    (f"{base}?minutes=x", "POST", 400), (base, "GET", 405)):  # fmt: skip
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(urllib.request.Request(url, method=method))
            assert error.value.code == status


def test_the_schedule_minute_comes_from_the_environment_and_must_be_positive(monkeypatch):
    monkeypatch.delenv(SCHEDULE_MINUTE_ENV, raising=False)
    assert load_settings().schedule_minute_seconds == 60
    monkeypatch.setenv(SCHEDULE_MINUTE_ENV, "0.5")
    assert load_settings().schedule_minute_seconds == 0.5
    assert load_settings(schedule_minute_seconds=2).schedule_minute_seconds == 2
    for bad in ("0", "-1", "inf", "soon"):
        monkeypatch.setenv(SCHEDULE_MINUTE_ENV, bad)
        with pytest.raises(EmulatorError, match=SCHEDULE_MINUTE_ENV):
            load_settings()
