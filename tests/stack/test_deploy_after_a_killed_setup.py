"""`setup` killed during its quiet baseline, then `deploy`: the deploy ends the quiet run as it
began, before any route delivers, and the totals equal the listing."""

from __future__ import annotations

import boto3
import pytest

from s3sizer.lambdas import baseline
from s3sizer.lambdas.history import History
from s3sizer.stack import steps as st
from s3sizer.stack.plan import plan_setup
from s3sizer.stack.plan_deploy import DeployOptions, plan_deploy
from s3sizer.stack.state import Stack
from tests.stack.helpers import run
from tests.stack.test_estate import TABLE

BUCKET = "adopted"


class Killed(Exception):
    """The process gone between two writes: nothing after them runs."""


def listing() -> tuple[int, int]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    sizes = [o["Size"] for page in pages for o in page.get("Contents", [])]
    return sum(sizes), len(sizes)


def test_deploy_after_a_setup_killed_between_a_chunk_s_keys_and_its_progress_is_exact(
    stack, monkeypatch
):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for i in range(900):
        s3.put_object(Bucket=BUCKET, Key=f"p{i % 3}/k{i:04d}", Body=b"x" * (i % 7 + 1))
    commit, commits = baseline._commit_quiet, []

    def kill_at_the_third(h, bucket, chunk, depths, sums, progress, part=None):
        commits.append(1)
        if len(commits) == 3:
            puts = baseline._sum_plans((p, p.plan) for p in chunk)[0]
            baseline.batch_put(h, [item for _, item, _ in puts])
            raise Killed  # its key items landed; its range's progress never did
        return commit(h, bucket, chunk, depths, sums, progress, part)

    monkeypatch.setattr(baseline, "_commit_quiet", kill_at_the_third)
    with pytest.raises(Killed):
        run(stack, plan_setup(stack, BUCKET))
    monkeypatch.setattr(baseline, "_commit_quiet", commit)

    plan = plan_deploy(Stack(stack.aws), DeployOptions())
    run(stack, plan)

    totals = History(TABLE, boto3.client("dynamodb", region_name="us-east-1")).totals(BUCKET)
    assert (totals.total_size, totals.object_count) == listing()
    assert isinstance(plan.steps[0], st.RecordBaseline)  # before any route: quiet, as it began
