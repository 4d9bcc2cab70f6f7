"""Fixtures for the Lambda modules: moto in-process, fake credentials, an injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from s3sizer.lambdas import history

TABLE = "S3-object-size-history"
BUCKET = "tracked-bucket"


class Clock:
    """A clock that moves only when told to: history timestamps become exact."""

    def __init__(self, start: datetime = datetime(2026, 11, 24, 21, 6, 5, 123000, tzinfo=UTC)):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Fake credentials and region, so that nothing can ever reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws(aws_credentials):
    """moto in-process, with the emulator's DynamoDB patches: same answers, but a transaction
    does not copy the whole table and a Query reads one partition, so that a property test's
    table does not make every later example slower."""
    from s3sizer.emulator.patches import dynamodb, dynamodb_parse, dynamodb_query
    from s3sizer.emulator.patches.hooks import PatchSet

    patches = PatchSet()
    with mock_aws():
        for service in (dynamodb, dynamodb_query, dynamodb_parse):
            service.install(patches)
        try:
            yield
        finally:
            patches.undo()


@pytest.fixture
def ddb(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**history.table_definition(TABLE))
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hist(ddb, clock, sleeps) -> history.History:
    return history.History(TABLE, ddb, now=clock, sleep=sleeps.append)


@pytest.fixture
def function_env(monkeypatch):
    """Configure a handler module from the environment, as its Lambda would be; undone after."""
    configured = []

    def configure(module):
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("BUCKET_NAME", BUCKET)
        module._config.cache_clear()
        configured.append(module)
        return monkeypatch

    yield configure
    for module in configured:
        module._config.cache_clear()


@pytest.fixture
def streamed(aws, clock):
    """A streamed table with the bucket tracked, the History over it, and its stream read
    as Lambda delivers it (the settings item's own record already read)."""
    from s3sizer.emulator.patches import stream_records
    from s3sizer.emulator.patches.hooks import PatchSet
    from s3sizer.lambdas import fold

    from .fold_helpers import Stream, streamed_table, track

    patches = PatchSet()
    stream_records.install(patches)
    try:
        client = boto3.client("dynamodb", region_name="us-east-1")
        arn = streamed_table(client, TABLE)
        track(client, TABLE, BUCKET)
        hist = history.History(TABLE, client, now=clock)
        stream = Stream(arn)
        stream.read()  # the settings item's own record
        fold._SHARDS.clear()
        yield client, hist, stream
    finally:
        patches.undo()
