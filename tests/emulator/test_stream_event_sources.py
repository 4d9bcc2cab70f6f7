"""Event source mappings on DynamoDB streams: a shard is processed in order, one batch at a time;
a failing batch is retried, bisected, sent to its on-failure destination, and the shard moves on."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .helpers import poll
from .stream_helpers import batches, mapped_function, pks, put, streamed_table

pytestmark = pytest.mark.emulator


def _queue(emulator, name: str) -> tuple[str, str]:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def test_a_poisoned_record_is_retried_bisected_out_and_sent_to_the_destination(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-poison")
    # GIVEN five records, the third of which always fails, written before the mapping reads them
    for n in range(5):
        extra = {"poison": "yes"} if n == 2 else {}
        put(emulator, "esm-stream-poison", f"r{n}", **extra)
    url, queue_arn = _queue(emulator, "esm-stream-poison-failures")
    records_file, _ = mapped_function(
        emulator, tmp_path, "esm-stream-poison", arn, MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    # WHEN the mapping has given up on the poisoned record, and one more record is written
    sqs = emulator.client("sqs")
    [message] = poll(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
    put(emulator, "esm-stream-poison", "r5")
    poll(lambda: "r5" in [pk for batch in batches(records_file) for pk in pks(batch)])
    # THEN bisection isolated it, its retry failed too, and every other record succeeded once
    invoked = [pks(batch) for batch in batches(records_file)]
    assert invoked == [
        ["r0", "r1", "r2", "r3", "r4"], ["r0", "r1"], ["r2", "r3", "r4"], ["r2"], ["r2"],
        ["r3", "r4"], ["r5"],
    ]  # fmt: skip
    # AND the destination got Lambda's record of the batch it gave up on
    failure = json.loads(message["Body"])
    poisoned = batches(records_file)[0][2]["dynamodb"]["SequenceNumber"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["requestContext"]["functionArn"].endswith(":function:esm-stream-poison")
    assert failure["requestContext"]["requestId"]
    assert failure["responseContext"] == {
        "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"
    }  # fmt: skip
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    info = failure["DDBStreamBatchInfo"]
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poisoned
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert info["approximateArrivalOfLastRecord"].endswith("Z")


def test_a_failing_batch_blocks_its_shard_until_it_succeeds(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-blocked")
    (tmp_path / "esm-stream-blocked.block").touch()
    records_file, _ = mapped_function(emulator, tmp_path, "esm-stream-blocked", arn)
    put(emulator, "esm-stream-blocked", "first")
    # WHEN the first batch keeps failing while a second record is written
    poll(lambda: len(batches(records_file)) >= 2)
    put(emulator, "esm-stream-blocked", "second")
    poll(lambda: len(batches(records_file)) >= 4)
    # THEN the retries hold the same records: the second waits behind the first
    assert {tuple(pks(batch)) for batch in batches(records_file)} == {("first",)}
    (tmp_path / "esm-stream-blocked.block").unlink()
    poll(lambda: "second" in [pk for batch in batches(records_file) for pk in pks(batch)])
    delivered = [pks(batch) for batch in batches(records_file)]
    assert delivered[-1] == ["second"] and delivered[-2] == ["first"]


def test_reported_item_failures_checkpoint_at_the_lowest_failed_sequence_number(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-partial")
    for n in range(5):
        extra = {"once": "yes"} if n in (1, 3) else {}
        put(emulator, "esm-stream-partial", f"r{n}", **extra)
    records_file, _ = mapped_function(
        emulator, tmp_path, "esm-stream-partial", arn, mode="report",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    poll(lambda: len(batches(records_file)) >= 2)
    put(emulator, "esm-stream-partial", "r5")
    poll(lambda: "r5" in [pk for batch in batches(records_file) for pk in pks(batch)])
    # r1 and r3 failed once (reported in reverse order): the retry starts at r1, not at r3
    assert [pks(batch) for batch in batches(records_file)] == [
        ["r0", "r1", "r2", "r3", "r4"], ["r1", "r2", "r3", "r4"], ["r5"]
    ]  # fmt: skip


def test_latest_reads_only_what_comes_after_the_mapping_and_trim_horizon_everything(
    emulator, tmp_path
):
    arn = streamed_table(emulator, "esm-stream-start")
    put(emulator, "esm-stream-start", "before")
    latest, _ = mapped_function(
        emulator, tmp_path, "esm-stream-latest", arn, StartingPosition="LATEST"
    )
    oldest, _ = mapped_function(emulator, tmp_path, "esm-stream-oldest", arn)
    put(emulator, "esm-stream-start", "after")
    for records_file in (latest, oldest):
        poll(lambda f=records_file: "after" in [pk for b in batches(f) for pk in pks(b)])
    assert [pk for b in batches(latest) for pk in pks(b)] == ["after"]
    assert [pk for b in batches(oldest) for pk in pks(b)] == ["before", "after"]


def test_a_disabled_mapping_resumes_where_it_stopped_and_a_deleted_one_stops(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-toggle")
    records_file, uuid = mapped_function(emulator, tmp_path, "esm-stream-toggle", arn)
    lambda_client = emulator.client("lambda")
    put(emulator, "esm-stream-toggle", "one")
    poll(lambda: batches(records_file))
    disabled = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabled["State"] == "Disabled"
    put(emulator, "esm-stream-toggle", "two")
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    poll(lambda: len(batches(records_file)) >= 2)
    lambda_client.delete_event_source_mapping(UUID=uuid)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambda_client.get_event_source_mapping(UUID=uuid)
    again = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="esm-stream-toggle", StartingPosition="LATEST"
    )
    put(emulator, "esm-stream-toggle", "three")
    poll(lambda: len(batches(records_file)) >= 3)
    assert [pk for b in batches(records_file) for pk in pks(b)] == ["one", "two", "three"]
    lambda_client.delete_event_source_mapping(UUID=again["UUID"])


def test_mapping_parameters_are_checked_and_lambdas_defaults_reported(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-params")
    _, uuid = mapped_function(emulator, tmp_path, "esm-stream-params", arn)
    lambda_client = emulator.client("lambda")
    mapping = lambda_client.get_event_source_mapping(UUID=uuid)
    assert mapping["State"] == "Enabled" and mapping["StartingPosition"] == "TRIM_HORIZON"
    assert (mapping["MaximumRetryAttempts"], mapping["MaximumRecordAgeInSeconds"]) == (-1, -1)
    assert (mapping["ParallelizationFactor"], mapping["MaximumBatchingWindowInSeconds"]) == (1, 0)
    assert mapping["BisectBatchOnFunctionError"] is False
    refused = [
        ({"BatchSize": 10_001}, "ValidationException", "less than or equal to 10000"),
        ({"MaximumRetryAttempts": 10_001}, "ValidationException", "maximumRetryAttempts"),
        ({"MaximumRecordAgeInSeconds": 604_801}, "ValidationException", "604800"),
        ({"MaximumRecordAgeInSeconds": 0}, "InvalidParameterValueException", "between 60"),
        ({"ParallelizationFactor": 11}, "ValidationException", "parallelizationFactor"),
        ({"MaximumBatchingWindowInSeconds": 301}, "ValidationException", "300"),
        ({"FunctionResponseTypes": ["Everything"]}, "ValidationException", "ReportBatchItem"),
    ]
    for parameters, code, words in refused:
        with pytest.raises(ClientError, match=words) as raised:
            lambda_client.create_event_source_mapping(
                EventSourceArn=arn, FunctionName="esm-stream-params",
                StartingPosition="LATEST", **parameters,
            )  # fmt: skip
        assert raised.value.response["Error"]["Code"] == code
        with pytest.raises(ClientError, match=words):
            lambda_client.update_event_source_mapping(UUID=uuid, **parameters)
    with pytest.raises(ClientError, match="startingPosition") as raised:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName="x")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError, match="Unsupported starting position"):
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName="esm-stream-params",
            StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=0,
        )  # fmt: skip
    with pytest.raises(ClientError, match="already exists") as raised:
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName="esm-stream-params", StartingPosition="LATEST"
        )
    assert raised.value.response["Error"]["Code"] == "ResourceConflictException"
    assert len(lambda_client.list_event_source_mappings(EventSourceArn=arn)[
        "EventSourceMappings"]) == 1  # fmt: skip


def test_filter_criteria_drop_the_records_no_pattern_matches(emulator, tmp_path):
    arn = streamed_table(emulator, "esm-stream-filter")
    inserts = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
    records_file, _ = mapped_function(
        emulator, tmp_path, "esm-stream-filter", arn, FilterCriteria=inserts
    )
    put(emulator, "esm-stream-filter", "a", n="1")
    put(emulator, "esm-stream-filter", "a", n="2")  # a MODIFY: dropped
    put(emulator, "esm-stream-filter", "b")
    poll(lambda: "b" in [pk for batch in batches(records_file) for pk in pks(batch)])
    delivered = [r for batch in batches(records_file) for r in batch]
    assert [(r["eventName"], pks([r])[0]) for r in delivered] == [("INSERT", "a"), ("INSERT", "b")]
    with pytest.raises(ClientError, match="Invalid filter pattern definition") as raised:
        emulator.client("lambda").create_event_source_mapping(
            EventSourceArn=arn, FunctionName="esm-stream-filter", StartingPosition="LATEST",
            FilterCriteria={"Filters": [{"Pattern": "{not json"}]},
        )  # fmt: skip
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_batch_is_gathered_until_it_is_full_or_its_window_has_passed(emulator, tmp_path):
    # Full: three records in one batch, long before a 300 s window would have ended.
    arn = streamed_table(emulator, "esm-stream-full")
    full_file, _ = mapped_function(
        emulator, tmp_path, "esm-stream-full", arn, BatchSize=3, MaximumBatchingWindowInSeconds=300
    )
    for key in ("a", "b", "c"):
        put(emulator, "esm-stream-full", key)
    assert [pks(batch) for batch in poll(lambda: batches(full_file))] == [["a", "b", "c"]]
    # Not full: the records gathered in the window, in one batch once it has passed.
    arn = streamed_table(emulator, "esm-stream-window")
    window_file, _ = mapped_function(
        emulator, tmp_path, "esm-stream-window", arn, BatchSize=100,
        MaximumBatchingWindowInSeconds=3,
    )  # fmt: skip
    # Both records in one request, so that they arrive together however loaded the machine is.
    emulator.client("dynamodb").batch_write_item(RequestItems={"esm-stream-window": [
        {"PutRequest": {"Item": {"pk": {"S": key}}}} for key in ("a", "b")
    ]})  # fmt: skip
    assert [pks(batch) for batch in poll(lambda: batches(window_file))] == [["a", "b"]]
