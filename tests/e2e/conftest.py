"""The deployed system, from the outside: the CLI against an emulator subprocess."""

from __future__ import annotations

import itertools

import pytest
from typer.testing import CliRunner

from s3sizer.cli import app
from tests.emulator.helpers import RunningEmulator, poll

_numbers = itertools.count()

__all__ = ["StackCli", "poll"]


class StackCli:
    """`s3sizer --endpoint-url URL --stack NAME ...` through Typer's CliRunner."""

    def __init__(self, aws: RunningEmulator, stack: str):
        self.aws, self.stack = aws, stack
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0):
        argv = ["--endpoint-url", self.aws.endpoint_url, "--stack", self.stack, *args]
        result = self.runner.invoke(app, argv)
        assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
        return result

    @property
    def bucket(self) -> str:
        return f"{self.stack}-123456789012-us-east-1"

    def leftovers(self) -> dict[str, list]:
        """Everything in the emulator whose name says it belongs to this stack."""
        aws, mine = self.aws, self.stack
        lam, iam, s3 = aws.client("lambda"), aws.client("iam"), aws.client("s3")
        roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(mine)]
        found = {
            "buckets": [
                b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(mine)
            ],
            "tables": [
                t for t in aws.client("dynamodb").list_tables()["TableNames"] if t.startswith(mine)
            ],
            "functions": [
                f["FunctionName"]
                for f in lam.list_functions()["Functions"]
                if f["FunctionName"].startswith(mine)
            ],
            "layers": [
                x["LayerName"]
                for x in lam.list_layers()["Layers"]
                if x["LayerName"].startswith(mine)
            ],
            "roles": roles,
            "policies": [
                p for r in roles for p in iam.list_role_policies(RoleName=r)["PolicyNames"]
            ],
            "log_groups": [
                g["logGroupName"]
                for g in aws.client("logs").describe_log_groups(
                    logGroupNamePrefix=f"/aws/lambda/{mine}"
                )["logGroups"]
            ],
            "queues": [
                url.rsplit("/", 1)[-1]
                for url in aws.client("sqs").list_queues(QueueNamePrefix=mine).get("QueueUrls", [])
            ],
            "rules": [
                r["Name"] for r in aws.client("events").list_rules(NamePrefix=mine).get("Rules", [])
            ],
            "event_source_mappings": [
                m["UUID"]
                for m in lam.list_event_source_mappings().get("EventSourceMappings", [])
                if m.get("FunctionArn", "").split(":")[-1].startswith(mine)
            ],
            "alarms": [
                a["AlarmName"]
                for a in aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=mine)[
                    "MetricAlarms"
                ]
            ],
            "dashboards": [
                d["DashboardName"]
                for d in aws.client("cloudwatch").list_dashboards(DashboardNamePrefix=mine)[
                    "DashboardEntries"
                ]
            ],
        }
        return {kind: names for kind, names in found.items() if names}


@pytest.fixture
def stack_cli(emulator) -> StackCli:
    return StackCli(emulator, f"e2e{next(_numbers)}")
