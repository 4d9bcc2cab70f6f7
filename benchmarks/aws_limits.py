"""AWS's documented limits and prices that benchmarks/aws_model.py runs on, each with its source.

Every figure the model takes from AWS is a `Limit` here, with the page it was read from and that
page's own words, so that a reader can check it and update it when AWS changes it. What AWS does
not document (request latencies) is in `ASSUMED`, named as such. Prices are us-east-1,
on-demand, after any free tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    value: float
    unit: str
    url: str
    quote: str


PARTITION_WCU = Limit(
    "write units per second per partition", 1_000, "WCU/s",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
    "each individual partition is limited to 1,000 write units per second and 3,000 read units "
    "per second",
)  # fmt: skip
PARTITION_RCU = Limit(
    "read units per second per partition", 3_000, "RCU/s", PARTITION_WCU.url, PARTITION_WCU.quote
)
TRANSACTION_FACTOR = Limit(
    "request units per item of a transaction, per 1 KB written or 4 KB read", 2, "x",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html",
    "DynamoDB performs two underlying reads or writes of every item in the transaction: one to "
    "prepare the transaction and one to commit the transaction.",
)  # fmt: skip
TRANSACTION_ITEMS = Limit(
    "items per TransactWriteItems", 100, "items", TRANSACTION_FACTOR.url,
    "TransactWriteItems is a synchronous and idempotent write operation that groups up to 100 "
    "write actions in a single all-or-nothing operation.",
)  # fmt: skip
NEW_TABLE_WRU = Limit(
    "write request units per second a new on-demand table sustains", 4_000, "WRU/s",
    "https://docs.amazonaws.cn/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html",
    "(Initial throughput and scaling properties, translated from this page) a new on-demand "
    "table can sustain up to 4,000 writes per second and 12,000 reads per second",
)  # fmt: skip
NEW_TABLE_RRU = Limit(
    "read request units per second a new on-demand table sustains", 12_000, "RRU/s",
    NEW_TABLE_WRU.url, NEW_TABLE_WRU.quote,
)  # fmt: skip
WARM_THROUGHPUT = Limit(
    "warm throughput: write units per second a table handles instantly (settable)", 12_000,
    "WRU/s",
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_WarmThroughput.html",
    "Provides visibility into the number of read and write operations your table or secondary "
    "index can instantaneously support. The settings can be modified using the UpdateTable "
    "operation to meet the throughput requirements of an upcoming peak event.",
)  # fmt: skip
ASYNC_RETRIES = Limit(
    "retries of a failed asynchronous invocation", 2, "retries",
    "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html",
    "If the function returns an error, by default Lambda attempts to run it two more times, with "
    "a one-minute wait between the first two attempts, and two minutes between the second and "
    "third attempts.",
)  # fmt: skip
ASYNC_RETRY_WAITS = Limit(
    "waits before the asynchronous retries", 60, "s, then 120 s", ASYNC_RETRIES.url,
    ASYNC_RETRIES.quote,
)  # fmt: skip
ASYNC_MAX_AGE = Limit(
    "longest an event stays in the asynchronous queue", 6 * 3600, "s",
    "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html",
    "Maximum age of event - The maximum amount of time Lambda retains an event in the "
    "asynchronous event queue, up to 6 hours.",
)  # fmt: skip
ASYNC_DROPS = Limit(
    "the asynchronous queue may drop events it cannot deliver", 0, "(not modelled)",
    ASYNC_RETRIES.url,
    "If the function can't keep up with incoming events, events might also be deleted from the "
    "queue without being sent to the function.",
)  # fmt: skip
ACCOUNT_CONCURRENCY = Limit(
    "concurrent executions per Region (default quota)", 1_000, "executions",
    "https://docs.aws.amazon.com/lambda/latest/dg/limits.html",
    "Concurrent executions | 1,000 | Tens of thousands",
)  # fmt: skip
ESM_START = Limit(
    "concurrent batches an SQS event source mapping starts with", 5, "batches",
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    "When messages are available, Lambda starts processing five batches at a time with five "
    "concurrent invocations of your function.",
)  # fmt: skip
ESM_RAMP = Limit(
    "more concurrent batches per minute while messages remain", 300, "per minute", ESM_START.url,
    "If messages are still available, Lambda increases the number of processes that are reading "
    "batches by up to 300 more instances per minute.",
)  # fmt: skip
ESM_MAX = Limit(
    "concurrent batches of one event source mapping", 1_000, "batches", ESM_START.url,
    "The maximum number of batches that an event source mapping can process simultaneously is "
    "1,000.",
)  # fmt: skip
ESM_MAX_CONCURRENCY_FLOOR = Limit(
    "smallest MaximumConcurrency", 2, "invocations",
    "https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html",
    "MaximumConcurrency: Limits the number of concurrent instances that the Amazon SQS event "
    "source can invoke. Valid Range: Minimum value of 2. Maximum value of 1000.",
)  # fmt: skip
SQS_STANDARD_THROUGHPUT = Limit(
    "API calls per second of a standard queue", float("inf"), "(nearly unlimited)",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html",
    "supporting a nearly unlimited number of API calls per second for actions like SendMessage, "
    "ReceiveMessage, and DeleteMessage",
)  # fmt: skip
SQS_BATCH = Limit(
    "messages per ReceiveMessage or DeleteMessageBatch", 10, "messages",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    "A single message batch request can include a maximum of 10 messages.",
)  # fmt: skip
S3_PREFIX_RATE = Limit(
    "PUT/COPY/POST/DELETE per second per partitioned prefix", 3_500, "requests/s",
    "https://repost.aws/knowledge-center/s3-object-key-naming-pattern",
    "Your application can achieve 3,500 PUT/COPY/POST/DELETE or 5,500 GET/HEAD requests per "
    "second per prefix in a bucket.",
)  # fmt: skip
PRICE_LAMBDA_REQUESTS = Limit(
    "Lambda requests", 0.20, "$ per million",
    "https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html",
    "$0.20 per 1 million requests thereafter, or $0.0000002 per request.",
)  # fmt: skip
PRICE_LAMBDA_GB_SECOND = Limit(
    "Lambda duration (x86_64)", 0.0000166667, "$ per GB-second", PRICE_LAMBDA_REQUESTS.url,
    "$0.00001667 for every GB-second used thereafter.",
)  # fmt: skip
PRICE_WRU = Limit(
    "DynamoDB on-demand write request units", 0.625, "$ per million",
    "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    "Write Request Units (WRU): $0.625 per million write request units (US East, after the "
    "November 2024 reduction; AWS's own table: https://aws.amazon.com/dynamodb/pricing/on-demand/)",
)  # fmt: skip
PRICE_RRU = Limit(
    "DynamoDB on-demand read request units", 0.125, "$ per million", PRICE_WRU.url,
    "Read Request Units (RRU): $0.125 per million read request units",
)  # fmt: skip
PRICE_SQS = Limit(
    "SQS standard requests", 0.40, "$ per million",
    "https://unanswered.io/guide/aws-sqs-pricing-and-cost-optimization",
    "Standard queues cost $0.40 per million requests after the free tier ... each 64 KB chunk of a "
    "message is billed as one request (AWS's own table: https://aws.amazon.com/sqs/pricing/)",
)  # fmt: skip

TABLE_QUOTA_WRU = Limit(
    "write request units per second of one on-demand table (default quota)", 40_000, "WRU/s",
    "https://docs.amazonaws.cn/en_us/amazondynamodb/latest/developerguide/Limits.html",
    "On-Demand ... Per table: 40,000 read request units and 40,000 write request units",
)  # fmt: skip
WRITE_UNIT_KB = Limit(
    "item size one write request unit covers (outside a transaction)", 1, "KB",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "A standard write request unit can write an item up to 1 KB.",
)  # fmt: skip
READ_UNIT_KB = Limit(
    "item size one strongly consistent read request unit covers", 4, "KB", WRITE_UNIT_KB.url,
    "A strongly consistent read request of up to 4 KB requires one read request unit.",
)  # fmt: skip
WARM_THROUGHPUT_CHARGED = Limit(
    "raising warm throughput above the default is charged", 1, "(see ASSUMED for the price)",
    "https://docs.aws.amazon.com/ja_jp/amazondynamodb/latest/developerguide/warm-throughput.html",
    "(translated from this page) Warm throughput values are available free by default for all "
    "tables and secondary indexes. However, if you proactively raise these default values to "
    "pre-warm a table, you are charged for those requests. See Amazon DynamoDB pricing.",
)  # fmt: skip
ON_DEMAND_GROWTH = Limit(
    "on-demand growth: double the previous peak within 30 minutes", 30 * 60, "s",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html",
    "on-demand tables can scale to double the previous peak within 30 minutes and will continue "
    "to allocate more capacity as traffic increases.",
)  # fmt: skip
ESM_IDLE_BATCHES = Limit(
    "concurrent batches of an idle SQS mapping with MaximumConcurrency set", 5, "batches",
    ESM_START.url,
    "When traffic is low, Lambda scales back the processing to five concurrent batches, and can "
    "optimize to as few as 2 concurrent batches to reduce the SQS calls and corresponding costs. "
    "However, this optimization is not available when you enable the maximum concurrency setting.",
)  # fmt: skip
ESM_LONG_POLLING = Limit(
    "an SQS mapping long-polls the queue", 1, "(long polling)", ESM_START.url,
    "For standard queues, Lambda uses long polling to poll a queue until it becomes active.",
)  # fmt: skip
SQS_LONG_POLL_WAIT = Limit(
    "longest wait of one long-polling ReceiveMessage", 20, "s",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-setting-up-long-polling.html",
    "The maximum long polling wait time is 20 seconds. Long polling helps reduce the cost of using "
    "Amazon SQS by eliminating the number of empty responses",
)  # fmt: skip
SQS_EMPTY_RECEIVES_BILLED = Limit(
    "an empty receive is billed like any request", 1, "request",
    "https://docs.aws.amazon.com/en_us/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-using-appropriate-polling-mode.html",
    "Short polling is billed the same as long polling. ... decrease the number of empty receives to "
    "an empty queue (responses to the ReceiveMessage action which return no messages)",
)  # fmt: skip
SQS_RECEIVE_AS_AVAILABLE = Limit(
    "a long poll answers as soon as a message is there", 1, "(so slow arrivals: one each)",
    SQS_EMPTY_RECEIVES_BILLED.url,
    "Long polling lets you consume messages from your Amazon SQS queue as soon as they become "
    "available.",
)  # fmt: skip
SQS_CHUNK_KB = Limit(
    "payload billed as one SQS request", 64, "KB", PRICE_SQS.url, PRICE_SQS.quote,
)  # fmt: skip
ESM_WINDOW = Limit(
    "batching window: the longest Lambda gathers records before invoking", 300, "s at most",
    "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lambda/aws.sdk.kotlin.services.lambda.model/-get-event-source-mapping-response/maximum-batching-window-in-seconds.html",
    "The maximum amount of time, in seconds, that Lambda spends gathering records before invoking "
    "the function. ... when you set BatchSize to a value greater than 10, you must set "
    "MaximumBatchingWindowInSeconds to at least 1.",
)  # fmt: skip
STREAM_READS_FREE = Limit(
    "stream reads (GetRecords) by a Lambda trigger", 0, "$",
    "https://docs.amazonaws.cn/en_us/amazondynamodb/latest/developerguide/CostOptimization_StreamsUsage.html",
    "None of the other DynamoDB Stream APIs are charged and DynamoDB Streams are not charged for "
    "being idle. ... Read requests made by Amazon Lambda-based consumers of DynamoDB Streams are "
    "free, whereas calls made by consumers of any other kind are charged.",
)  # fmt: skip
STREAM_ORDER = Limit(
    "stream records per item: once each, in the order of the item's changes", 1, "(ordering)",
    "https://docs.aws.amazon.com/ja_jp/amazondynamodb/latest/developerguide/Streams.html",
    "(translated from this page) Each stream record appears exactly once in the stream. For each "
    "item modified in a DynamoDB table, the stream records appear in the same order as the actual "
    "changes to the item.",
)  # fmt: skip
STREAM_SHARDS = Limit(
    "a stream is made of shards, each a group of records; closed shards take no more", 1,
    "(see ASSUMED for how many)",
    "https://docs.aws.amazon.com/goto/WebAPI/streams-dynamodb-2012-08-10/Shard",
    "A uniquely identified group of stream records within a stream. ... ParentShardId The shard "
    "ID of the current shard's parent.",
)  # fmt: skip
STREAM_MAPPING = Limit(
    "stream mapping defaults: BatchSize 100 (up to 10,000), window 0 s, ParallelizationFactor 1",
    1, "batch per shard at a time",
    "https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html",
    "BatchSize N 100 Maximum: 10,000 ... MaximumBatchingWindowInSeconds N 0 ... "
    "ParallelizationFactor N 1 Maximum: 10",
)  # fmt: skip
STREAM_GET_RECORDS = Limit(
    "records one GetRecords returns", 1_000, "records",
    "https://docs.amazonaws.cn/amazondynamodb/latest/APIReference/API_streams_GetRecords.html",
    "GetRecords can retrieve a maximum of 1 MB of data or 1000 stream records, whichever comes "
    "first.",
)  # fmt: skip
LAMBDA_PLATFORM_LINES = Limit(
    "log lines Lambda writes per invocation (START, END, REPORT)", 3, "lines",
    "https://docs.aws.amazon.com/zh_tw/lambda/latest/operatorguide/log-structure.html",
    "Even if your function does not log any output from your code, there are three minimal log "
    "statements generated per invocation (START, END and REPORT)",
)  # fmt: skip
SYSTEM_LOG_LEVEL = Limit(
    "system log level WARN (JSON log format): no START and REPORT lines", 0, "platform lines",
    "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html",
    "To use log-level filtering, your function must be configured to use the JSON log format. "
    "... By default, Lambda sets the system log level to INFO. With this setting, Lambda "
    "automatically sends \"start\" and \"report\" log messages to CloudWatch. To receive more "
    "or less detailed system logs, change the log level to DEBUG or WARN.",
)  # fmt: skip
PRICE_LOGS_GB = Limit(
    "CloudWatch Logs ingestion (standard class)", 0.50, "$ per GB",
    "https://coralogix.com/blog/is-cloudwatch-really-cost-efficient",
    "Data ingestion in the Collect stage costs $0.50 per GB. (AWS's own table: "
    "https://aws.amazon.com/cloudwatch/pricing/, whose free tier is 5 GB Data (ingestion, "
    "archive storage, and data scanned by Logs Insights queries))",
)  # fmt: skip

LIMITS: tuple[Limit, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Limit))

# -- What AWS does not document: assumed, and the same for both designs. ---------------------------
ASSUMED = {
    "TransactGetItems of 2 items (s)": 0.006,
    "UpdateItem or PutItem, one item (s)": 0.005,
    "UpdateItems a function runs in parallel (threads)": 16,
    "SQS ReceiveMessage round trip (s)": 0.01,
    "DynamoDB stream: write to record readable (s)": 0.5,
    "stream shards: one per 1,000 WRU/s of the table's throughput (one per partition)": 1_000,
    "START line (bytes)": 90,
    "END line (bytes)": 60,
    "REPORT line (bytes)": 230,
    # The text form: level, time and request id (69 bytes), the counts (about 80), and
    # " buckets=" with one bucket's name (about 25).
    "the tracker's batch line (bytes)": 185,
    # Measured: the JSON record of a logged line (timestamp, level, logger, request id) against
    # the text form's prefix (level, time, request id): 169 bytes against 69.
    "a logged line's JSON record, beyond its text form (bytes)": 100,
    "unversioned key item (KB)": 0.4,
    "versioned key item, a few versions and tombstones (KB)": 1.6,
    "S3 event notification message (KB)": 1.2,
    "warm throughput price: provisioned WCU-hour per unit raised, once ($)": 0.00065,
    "TransactWriteItems: fixed part (s)": 0.008,
    "TransactWriteItems: per item (s)": 0.00025,
    "BatchGetItem: fixed part (s)": 0.005,
    "BatchGetItem: per key (s)": 0.0001,
    "GetItem (s)": 0.004,
    "Lambda invoke overhead, warm (s)": 0.002,
    # Measured on the items the fold writes (tests/lambdas/test_fold_sizes.py, which fails when
    # they change): prefixes named like "prefix-00/", every figure of 13 digits.
    "a fold row of a bucket, without its prefixes (bytes)": 281,
    "one prefix's entry in a fold row (bytes)": 53,
    "a fold point of a bucket, without its prefixes (bytes)": 304,
    "one prefix's figures carried by a fold point (bytes)": 39,
}


def limits_markdown() -> str:
    lines = ["| figure | value | source (quoted there) |", "| --- | --- | --- |"]
    for lim in LIMITS:
        value = "nearly unlimited" if lim.value == math.inf else f"{lim.value:,g} {lim.unit}"
        lines.append(f'| {lim.name} | {value} | [{lim.url}]({lim.url}): "{lim.quote}" |')
    lines += ["", "| assumed (AWS documents no figure) | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:g} |" for name, value in ASSUMED.items()]
    return "\n".join(lines)
