"""The execution roles' documents: each function gets only the actions it calls, on its ARNs."""

from __future__ import annotations

from dataclasses import dataclass

from s3sizer.stack.model import PLOT_KEY, Names
from s3sizer.stack.routes import tracker_grants
from s3sizer.stack.routes.direct import DESTINATION_ACTIONS
from s3sizer.stack.routes.queue import POLL_ACTIONS

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
    def table_streams(self) -> str:
        """Every stream of the table: a stream's ARN ends with its creation time, which changes
        each time the stream is turned on."""
        return f"{self.table}/stream/*"

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

    def queue(self, name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name}"

    @property
    def rule(self) -> str:
        return f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{self.names.rule}"

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
        "Action": ON_BEHALF["logs"],
        "Resource": [group, f"{group}:*"],
    }


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


# What each function's own code calls (a test derives these from the modules in its zip).
# TransactWriteItems is authorised per item action (Put items, and ConditionCheck items of the
# bucket's settings), BatchGetItem as itself.
TRACKER_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    # The fold path deletes a key item it wrote without a read while the bucket was being
    # untracked (key_writes.py).
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
]
# What the fold's code calls: it reads the settings and its rows, writes its rows and points,
# and deletes a finished shard's rows once added into the base (TransactWriteItems is
# authorised by its items' actions, as the tracker's).
FOLD_TABLE_ACTIONS = [
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
# The fold's stream mapping reads the table's stream with the fold's role.
STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]
# What AWS does on a function's behalf with its role, declared rather than derived: the event
# source mappings poll the queue and the table's stream, the direct route's and the fold
# mapping's on-failure destinations send to their DLQs (each route grants its own:
# stack/routes/); Lambda writes the logs; S3 needs the bucket's KMS key for a function that
# writes objects.
ON_BEHALF = {
    "queue": POLL_ACTIONS,
    "stream": STREAM_READ_ACTIONS,
    "dead_letter_queue": DESTINATION_ACTIONS,
    # Not logs:CreateLogGroup: deploy makes each function's group (with its retention), and
    # without it an invocation still running when teardown deletes the group cannot bring it
    # back.
    "logs": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "kms": ["kms:GenerateDataKey", "kms:Decrypt"],
}


# The uploads poll (lambdas/uploads.py): ListMultipartUploads is authorised on the bucket,
# ListParts on its objects ("Actions, resources, and condition keys for Amazon S3",
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
UPLOADS_POLL_ACTIONS = ["s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"]
# A role's inline policies hold 10,240 characters, white space not counted (IAM quotas): the
# polled buckets are named while their ARNs take at most this much, leaving the rest to the
# statements that do not grow with the buckets.
POLLED_ARNS_CHARACTERS = 6_000


# A create delivered after the tombstones of its key's newer versions were capped asks S3
# which versions of the key it holds (lambdas/late_creates.py): ListObjectVersions, authorised
# as s3:ListBucketVersions, which reads no object. The tracked buckets are named while their
# ARNs take at most this much; past it, the account's own buckets.
LATE_CREATES_ACTIONS = ["s3:ListBucketVersions"]
LISTED_ARNS_CHARACTERS = 1_500


def late_creates_statement(arns: Arns, buckets: list[str] | tuple[str, ...]) -> dict:
    resources = [f"arn:{arns.partition}:s3:::{bucket}" for bucket in buckets]
    if sum(len(r) + 3 for r in resources) <= LISTED_ARNS_CHARACTERS:
        return _statement("ListLateCreatedVersions", LATE_CREATES_ACTIONS, resources)
    return {
        **_statement(
            "ListLateCreatedVersions", LATE_CREATES_ACTIONS, [f"arn:{arns.partition}:s3:::*"]
        ),
        "Condition": {"StringEquals": {"s3:ResourceAccount": arns.account}},
    }


def uploads_poll_statement(arns: Arns, buckets: list[str] | tuple[str, ...]) -> dict:
    """The poll's two list actions on exactly the tracked buckets; past the size budget, on
    the account's own buckets (s3:ResourceAccount), which never grows with them."""
    resources = []
    for bucket in buckets:
        bucket_arn = f"arn:{arns.partition}:s3:::{bucket}"
        resources += [bucket_arn, f"{bucket_arn}/*"]
    if sum(len(r) + 3 for r in resources) <= POLLED_ARNS_CHARACTERS:
        return _statement("PollUnfinishedUploads", UPLOADS_POLL_ACTIONS, resources)
    every = f"arn:{arns.partition}:s3:::*"
    return {
        **_statement("PollUnfinishedUploads", UPLOADS_POLL_ACTIONS, [every, f"{every}/*"]),
        "Condition": {"StringEquals": {"s3:ResourceAccount": arns.account}},
    }


def kms_key_arn(arns: Arns, key: str) -> str:
    """A bucket's default-encryption key as an ARN: S3 may name it by id or by alias."""
    if key.startswith("arn:"):
        return key
    prefix = f"arn:{arns.partition}:kms:{arns.region}:{arns.account}"
    return f"{prefix}:{key}" if key.startswith("alias/") else f"{prefix}:key/{key}"


# HeadObject is authorised as s3:GetObject, and as s3:GetObjectVersion with a version id (AWS's
# HeadObject and GetObject API references, "Permissions"); GetObjectAttributes would need
# s3:GetObjectAttributes or s3:GetObjectVersionAttributes on top of the same.
CLASS_LOOKUP_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
# A version deleted before its lookup answers 404 only to a caller with s3:ListBucket on the
# bucket, and 403 to the others (HeadObject's reference, "Permissions"): without it the tracker
# could not tell a deleted version from a refusal, and a create deleted at once would fail its
# chunk at every retry.
CLASS_GONE_ACTIONS = ["s3:ListBucket"]
# IAM counts an inline policy's characters without white space, up to 10,240 per role: past
# this many, the class lookups name every bucket of the account instead (docs/scaling.md).
POLICY_CHARACTERS = 10_240


def policy_for(
    short: str,
    arns: Arns,
    driver_prefix: str = "",
    kms_key: str | None = None,
    polled: tuple[str, ...] = (),
    class_buckets: tuple[str, ...] = (),
    tracked: tuple[str, ...] = (),
) -> dict:
    """The inline policy of one function's role; ``polled`` names the buckets whose unfinished
    uploads the tracker polls on its schedule (none when the schedule is off),
    ``class_buckets`` those whose storage classes it looks up (HeadObject of each version
    created), ``tracked`` every bucket it tracks (a late create's versions listed)."""
    statements = [_logs_statement(arns, short)]
    if short == "size-tracking":
        statements.append(_statement("HistoryReadWrite", TRACKER_TABLE_ACTIONS, [arns.table]))
        statements += tracker_grants(arns)
        if tracked:
            statements.append(late_creates_statement(arns, sorted(set(tracked))))
        if polled:
            statements.append(uploads_poll_statement(arns, polled))
    elif short == "plotting":
        statements.append(
            _statement("HistoryRead", ["dynamodb:GetItem", "dynamodb:Query"], [arns.table])
        )
        statements.append(_statement("WritePlot", ["s3:PutObject"], [arns.object(PLOT_KEY)]))
    elif short == "driver":
        statements.append(
            _statement("HistoryRead", ["dynamodb:GetItem", "dynamodb:Query"], [arns.table])
        )
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
    elif short == "fold":
        statements += [
            _statement("ReadTableStream", STREAM_READ_ACTIONS, [arns.table_streams]),
            _statement("FoldIntoHistory", FOLD_TABLE_ACTIONS, [arns.table]),
            _statement(
                "FailedBatchesToDeadLetterQueue",
                DESTINATION_ACTIONS,
                [arns.queue(arns.names.fold_dead_letter_queue)],
            ),
        ]
    else:
        raise KeyError(short)
    if kms_key and short in ("plotting", "driver"):
        statements.append(
            _statement("BucketKmsKey", ON_BEHALF["kms"], [kms_key_arn(arns, kms_key)])
        )
    document = {"Version": "2012-10-17", "Statement": statements}
    if short == "size-tracking" and class_buckets:
        _add_class_lookups(document, arns, sorted(set(class_buckets)))
    return document


def _add_class_lookups(document: dict, arns: Arns, buckets: list[str]) -> None:
    """Each bucket's objects by name while the policy fits; past that, the objects of any
    bucket this account owns (``s3:ResourceAccount``), which still leaves others' out."""
    import json

    bucket_arns = [f"arn:{arns.partition}:s3:::{bucket}" for bucket in buckets]
    named = [
        _statement("LookUpStorageClasses", CLASS_LOOKUP_ACTIONS, [f"{b}/*" for b in bucket_arns]),
        _statement("TellDeletedVersions", CLASS_GONE_ACTIONS, bucket_arns),
    ]
    document["Statement"] += named
    if len(json.dumps(document, separators=(",", ":"))) <= POLICY_CHARACTERS:
        return
    own = {"Condition": {"StringEquals": {"s3:ResourceAccount": arns.account}}}
    every = f"arn:{arns.partition}:s3:::*"
    document["Statement"][-2:] = [
        {**_statement("LookUpStorageClasses", CLASS_LOOKUP_ACTIONS, [f"{every}/*"]), **own},
        {**_statement("TellDeletedVersions", CLASS_GONE_ACTIONS, [every]), **own},
    ]
