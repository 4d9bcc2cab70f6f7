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

LIMITS: tuple[Limit, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Limit))

# -- What AWS does not document: assumed, and the same for both designs. ---------------------------
ASSUMED = {
    "TransactGetItems of 2 items (s)": 0.006,
    "TransactWriteItems: fixed part (s)": 0.008,
    "TransactWriteItems: per item (s)": 0.00025,
    "BatchGetItem: fixed part (s)": 0.005,
    "BatchGetItem: per key (s)": 0.0001,
    "GetItem (s)": 0.004,
    "Lambda invoke overhead, warm (s)": 0.002,
}


def limits_markdown() -> str:
    lines = ["| figure | value | source (quoted there) |", "| --- | --- | --- |"]
    for lim in LIMITS:
        value = "nearly unlimited" if lim.value == math.inf else f"{lim.value:,g} {lim.unit}"
        lines.append(f'| {lim.name} | {value} | [{lim.url}]({lim.url}): "{lim.quote}" |')
    lines += ["", "| assumed (AWS documents no figure) | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:g} |" for name, value in ASSUMED.items()]
    return "\n".join(lines)
