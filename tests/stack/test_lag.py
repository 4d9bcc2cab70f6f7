"""Status's waits where no queue counts them, from the metrics Lambda publishes (stack/lag.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from s3sizer.stack import lag
from s3sizer.stack.model import Names, StackConfig
from s3sizer.status_view import status_text

CONFIG = StackConfig(stack="s3sizer", bucket="tracked", bucket_owned=False, region="us-east-1")
FOLD = replace(CONFIG, write_path="fold")


class _Stack:
    def __init__(self):
        self.names = Names("s3sizer")
        self.cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")

    def client(self, service: str):
        assert service == "cloudwatch"
        return self.cloudwatch


@pytest.fixture
def stack():
    with mock_aws():
        yield _Stack()


def _age(stack, function: str, metric: str, milliseconds: float, minutes_ago: float = 0) -> None:
    stack.cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[{
            "MetricName": metric, "Unit": "Milliseconds", "Value": milliseconds,
            "Dimensions": [{"Name": "FunctionName", "Value": function}],
            "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
        }],
    )  # fmt: skip


def test_the_fold_s_lag_is_the_oldest_batch_of_the_last_five_minutes(stack):
    _age(stack, "s3sizer-fold", "IteratorAge", 4100)
    _age(stack, "s3sizer-fold", "IteratorAge", 9000, minutes_ago=2)
    _age(stack, "s3sizer-fold", "IteratorAge", 99_000, minutes_ago=20)  # long past
    _age(stack, "other-fold", "IteratorAge", 50_000)  # another function's
    assert lag.status_rows(stack, FOLD, "sqs") == {"fold_lag_s": 9.0}


def test_the_direct_route_s_lag_is_the_tracker_s_event_age(stack):
    _age(stack, "s3sizer-size-tracking", "AsyncEventAge", 1234)
    _age(stack, "s3sizer-fold", "IteratorAge", 4000)
    assert lag.status_rows(stack, CONFIG, "direct") == {"delivery_lag_s": 1.2}
    assert lag.status_rows(stack, FOLD, "direct") == {"fold_lag_s": 4.0, "delivery_lag_s": 1.2}


def test_a_queue_route_on_the_transaction_path_has_no_lag_to_show(stack):
    assert lag.status_rows(stack, CONFIG, "sqs") == {}
    assert lag.status_rows(stack, CONFIG, "eventbridge") == {}


def test_no_batch_in_five_minutes_is_none_and_status_says_so(stack):
    rows = lag.status_rows(stack, FOLD, "direct")
    assert rows == {"fold_lag_s": None, "delivery_lag_s": None}
    base = {"bucket": "b", "total_size": 0, "max_size": 0, "object_count": 0, "updated_at": None}
    text = status_text({**base, "delivery": "direct", **rows})
    assert "fold lag     none in the last 5 minutes" in text
    assert "delivery lag none in the last 5 minutes" in text
    text = status_text({**base, "delivery": "direct", "fold_lag_s": 4.25, "delivery_lag_s": 0.4})
    assert "fold lag     4.2 s behind the table's stream, the most in the last 5 minutes" in text
    assert "delivery lag 0.4 s in Lambda's queue, the most in the last 5 minutes" in text


def test_a_read_cloudwatch_refuses_leaves_the_lag_unknown_and_status_answers(stack):
    from botocore.stub import Stubber

    with Stubber(stack.cloudwatch) as refused:
        for _ in range(2):
            refused.add_client_error("get_metric_statistics", "AccessDenied", http_status_code=403)
        assert lag.status_rows(stack, FOLD, "direct") == {
            "fold_lag_s": None, "delivery_lag_s": None,
        }  # fmt: skip
