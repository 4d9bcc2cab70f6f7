"""The execution roles' documents: each function gets only the actions it calls, on its ARNs."""

from __future__ import annotations

from dataclasses import dataclass

from s3sizer.stack.model import PLOT_KEY, Names

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

DRIVER_KEYS = ("assignment1.txt", "assignment2.txt")


@dataclass(frozen=True)
class Arns:
    """The ARNs of one stack in one account and region."""

    names: Names
    partition: str
    account: str
    region: str
    bucket: str

    @property
    def table(self) -> str:
        return (
            f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{self.names.table}"
        )

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def object(self, key: str) -> str:
        return f"{self.bucket_arn}/{key}"

    def function(self, short: str) -> str:
        name = self.names.function(short)
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    def role(self, short: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.names.role(short)}"

    def log_group(self, short: str) -> str:
        group = self.names.log_group(short)
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{group}"


def _logs_statement(arns: Arns, short: str) -> dict:
    # The one exception to exact ARNs: log stream names are chosen by Lambda at run time,
    # so the streams can only be named as "any stream of this function's own group".
    group = arns.log_group(short)
    return {
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [group, f"{group}:*"],
    }


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def policy_for(short: str, arns: Arns, driver_prefix: str = "") -> dict:
    """The inline policy of one function's role."""
    statements = [_logs_statement(arns, short)]
    if short == "size-tracking":
        # TransactGetItems and TransactWriteItems are authorised per item action.
        statements.append(
            _statement(
                "HistoryReadWrite",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                [arns.table],
            )
        )
    elif short == "plotting":
        statements.append(
            _statement("HistoryRead", ["dynamodb:GetItem", "dynamodb:Query"], [arns.table])
        )
        statements.append(_statement("WritePlot", ["s3:PutObject"], [arns.object(PLOT_KEY)]))
    elif short == "driver":
        statements.append(_statement("HistoryRead", ["dynamodb:GetItem"], [arns.table]))
        statements.append(
            _statement(
                "DemoObjects",
                ["s3:PutObject", "s3:DeleteObject"],
                [arns.object(driver_prefix + key) for key in DRIVER_KEYS],
            )
        )
        statements.append(
            _statement("InvokePlotting", ["lambda:InvokeFunction"], [arns.function("plotting")])
        )
    else:
        raise KeyError(short)
    return {"Version": "2012-10-17", "Statement": statements}
