"""`s3sizer metrics` in-process against moto: scraped over HTTP on loopback, parsed with
prometheus_client's own parser, and compared with `status --json`."""

from __future__ import annotations

import json
import threading
import urllib.request
from contextlib import contextmanager

import boto3
import pytest
from prometheus_client.parser import text_string_to_metric_families

from s3sizer import metrics_server
from s3sizer.aws import Aws
from s3sizer.context import open_stack
from s3sizer.costs import prices
from s3sizer.settings import Settings
from tests.cli.conftest import DEFAULT_BUCKET

TABLE = "S3-object-size-history"


@contextmanager
def serving(cache_seconds: float = 5.0, on_error=lambda line: None):
    ctx = open_stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
    server = metrics_server.make(
        ctx, prices.load("us-east-1"), "127.0.0.1", 0, cache_seconds=cache_seconds,
        on_error=on_error,
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def put(key: str, size: int) -> None:
    boto3.client("s3").put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=b"x" * size)


def test_a_scrape_shows_the_same_figures_as_status(cli, aws):
    cli("setup")
    put("logs/a", 100)
    put("logs/b", 20)
    put("top", 3)
    cli("reconcile")
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"B#{DEFAULT_BUCKET}"}, "sk": {"S": "TOTALS"}},
        UpdateExpression="SET noncurrent_bytes = :b, noncurrent_versions = :v",
        ExpressionAttributeValues={":b": {"N": "2048"}, ":v": {"N": "2"}},
    )
    status = json.loads(cli("status", "--json").stdout)

    with serving() as url:
        got = scrape(url)

    bucket = (("bucket", DEFAULT_BUCKET),)
    assert got["s3sizer_bucket_size_bytes", bucket] == status["total_size"] == 123
    assert got["s3sizer_bucket_objects", bucket] == status["object_count"] == 3
    assert got["s3sizer_prefix_size_bytes", (*bucket, ("prefix", "logs/"))] == 120

    def stored(state: str) -> float:
        return got["s3sizer_storage_bytes", (*bucket, ("class", "STANDARD"), ("state", state))]

    assert stored("current") == status["storage"]["current"]["bytes"]
    assert stored("noncurrent") == status["storage"]["noncurrent"]["bytes"] == 2048
    assert stored("uploads") == status["storage"]["incomplete_uploads"]["bytes"] == 0
    cost = got["s3sizer_monthly_cost_usd", bucket]
    assert round(cost, 4) == status["storage"]["monthly_cost_usd"]
    assert got["s3sizer_dead_letters", ()] == status["dead_letters"] == 0
    assert "s3sizer_fold_dead_letters" not in {name for name, _ in got}  # the transaction path


def test_scrapes_within_the_cache_period_read_the_table_once(cli, aws):
    cli("setup")
    put("a", 5)
    cli("reconcile")

    with serving(cache_seconds=3600) as url:
        first = scrape(url)
        put("b", 7)
        cli("reconcile")
        second = scrape(url)

    bucket = (("bucket", DEFAULT_BUCKET),)
    assert first["s3sizer_bucket_size_bytes", bucket] == 5
    assert second == first


@pytest.mark.parametrize(
    "host, warns", [("127.0.0.1", False), ("::1", False), ("localhost", False), ("0.0.0.0", True)]
)
def test_only_a_non_loopback_bind_warns(host, warns):
    warning = metrics_server.exposure_warning(host)

    assert (warning is not None) == warns
    if warning:
        assert "\n" not in warning and "--host 127.0.0.1" in warning


def test_a_port_in_use_is_one_error_line(cli, aws):
    import socket

    cli("setup")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("metrics", "--port", str(port), code=1)

    assert result.stderr.startswith(f"Error: Cannot listen on 127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1


def test_a_scrape_reads_the_table_with_a_batch_read_and_two_queries_per_bucket(cli, aws):
    cli("setup")
    for i in range(4):
        put(f"p{i}/k", i)
    cli("reconcile")
    ctx = open_stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
    calls = []
    real = ctx.aws.client

    class Counting:
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            calls.append(name)
            return getattr(self.client, name)

    def counted(service, **kwargs):
        client = real(service, **kwargs)
        return Counting(client) if service == "dynamodb" else client

    ctx.aws.client = counted  # the session's: each read's new Stack asks it
    collector = metrics_server.StackCollector(ctx, prices.load("us-east-1"), clock=lambda: 0.0)

    first = list(collector.collect())
    again = list(collector.collect())  # within the cache period: no request

    # The config and the buckets read afresh (a deploy or a track since shows), the totals,
    # then the prefixes and the fold's rows.
    assert calls == ["get_item", "query", "batch_get_item", "query", "query"]
    assert again == first
    prefixes = next(f for f in first if f.name == "s3sizer_prefix_size_bytes")
    assert len(prefixes.samples) == 4  # every prefix, in one Query


def test_every_tracked_bucket_has_its_series_even_one_tracked_after_the_server_started(cli, aws):
    cli("setup")
    put("logs/a", 100)
    with serving(cache_seconds=0) as url:
        assert scrape(url)[("s3sizer_up", ())] == 1  # the stack read before the track too
        boto3.client("s3").create_bucket(Bucket="second-bucket")
        boto3.client("s3").put_object(Bucket="second-bucket", Key="x/y", Body=b"z" * 7)
        cli("track", "second-bucket", "--prefix-depth", "2")
        cli("reconcile")
        samples = scrape(url)

    assert samples[("s3sizer_bucket_size_bytes", (("bucket", DEFAULT_BUCKET),))] == 100
    assert samples[("s3sizer_bucket_size_bytes", (("bucket", "second-bucket"),))] == 7
    assert samples[("s3sizer_bucket_objects", (("bucket", "second-bucket"),))] == 1
    assert (
        samples[("s3sizer_prefix_size_bytes", (("bucket", "second-bucket"), ("prefix", "x/")))] == 7
    )


def test_a_deployed_stack_s_scrape_says_which_bucket_lost_its_notification_entry(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    boto3.client("s3").create_bucket(Bucket="second-bucket")
    cli("track", "second-bucket")
    clock = [0.0]
    ctx = open_stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
    collector = metrics_server.StackCollector(
        ctx, prices.load("us-east-1"), cache_seconds=0, clock=lambda: clock[0]
    )

    def routed() -> dict:
        family = next(f for f in collector.collect() if f.name == "s3sizer_bucket_routed")
        return {s.labels["bucket"]: s.value for s in family.samples}

    assert routed() == {DEFAULT_BUCKET: 1, "second-bucket": 1}
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket="second-bucket", NotificationConfiguration={}
    )
    assert routed()["second-bucket"] == 1  # read again only after a minute
    clock[0] += metrics_server.ROUTE_CHECK_SECONDS
    assert routed() == {DEFAULT_BUCKET: 1, "second-bucket": 0}


def test_a_deploy_after_the_server_started_shows_in_its_next_scrape(cli, aws):
    cli("setup")
    with serving(cache_seconds=0) as url:
        before = scrape(url)
        cli("deploy", "--no-layer")
        after = scrape(url)

    routed = ("s3sizer_bucket_routed", (("bucket", DEFAULT_BUCKET),))
    assert routed not in before  # no route yet
    assert after[routed] == 1 and ("s3sizer_queued", ()) in after  # the queue route, now


def test_a_stack_torn_down_under_the_server_is_s3sizer_up_0_and_one_line(cli, aws):
    cli("setup")
    put("logs/a", 100)
    lines: list[str] = []
    with serving(cache_seconds=0, on_error=lines.append) as url:
        before = scrape(url)
        cli("teardown", "--yes")
        down = [scrape(url) for _ in range(3)]  # answered each time, not a server error
        cli("setup")
        back = scrape(url)

    assert before[("s3sizer_up", ())] == 1
    assert down == [{("s3sizer_up", ()): 0}] * 3
    assert back[("s3sizer_up", ())] == 1
    # Teardown removed the bucket setup had made; the new setup made it afresh, empty.
    assert back[("s3sizer_bucket_size_bytes", (("bucket", DEFAULT_BUCKET),))] == 0
    # One line for the failure, not one per scrape, and no traceback.
    assert lines == ["Error: Stack 's3sizer' is not set up in us-east-1. Run `s3sizer setup` "
                     "first (or pass the right --stack / --region)"]  # fmt: skip
