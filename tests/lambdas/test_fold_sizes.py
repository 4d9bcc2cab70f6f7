"""The sizes of the fold's row and point that benchmarks/aws_model.py bills, measured on the
items the product writes, with every figure as large as a bucket of terabytes holds."""

from __future__ import annotations

from benchmarks.aws_limits import ASSUMED
from s3sizer.lambdas import rows

from .conftest import BUCKET, TABLE
from .fold_helpers import write_key
from .test_fold import _fold
from .test_fold_prefixes import _row

NAMES = [f"prefix-{i:02d}/" for i in range(20)]  # ten characters: a date, a service's name


def _large(item: dict) -> dict:
    """Every figure of 13 digits (sizes of terabytes, times in milliseconds); zeros stay."""

    def walk(value: dict) -> dict:
        if "N" in value:
            return value if value["N"] == "0" else {"N": "9" * 13}
        if "M" in value:
            return {"M": {k: walk(v) for k, v in value["M"].items()}}
        if "L" in value:
            return {"L": [walk(v) for v in value["L"]]}
        return value

    return {name: walk(value) for name, value in item.items()}


def _last_point(client) -> dict:
    points = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :h)",
        ExpressionAttributeValues={":p": {"S": f"B#{BUCKET}"}, ":h": {"S": "H#"}},
        ConsistentRead=True,
    )["Items"]  # fmt: skip
    return points[-1]


def test_the_model_bills_the_row_and_point_the_fold_writes(streamed, clock):
    client, hist, stream = streamed
    sizes = {}
    for step, names in enumerate([NAMES[:1], NAMES[1:]]):  # the row holds 1 prefix, then 20
        for name in names:
            write_key(client, TABLE, BUCKET, f"{name}k", [10**12], 1)
        _fold(hist, stream, stream.read())
        row, point = _row(client, stream), _last_point(client)
        assert len(rows.row_prefixes(row)) == (1 if step == 0 else len(NAMES))
        sizes[step] = rows.item_size(_large(row)), rows.item_size(_large(point)), len(names)
        clock.advance(10)
    (row_1, point_1, _), (row_20, point_19, carried) = sizes[0], sizes[1]
    row_each = (row_20 - row_1) / (len(NAMES) - 1)
    point_each = (point_19 - point_1) / (carried - 1)
    measured = {
        "a fold row of a bucket, without its prefixes (bytes)": round(row_1 - row_each),
        "one prefix's entry in a fold row (bytes)": round(row_each),
        "a fold point of a bucket, without its prefixes (bytes)": round(point_1 - point_each),
        "one prefix's figures carried by a fold point (bytes)": round(point_each),
    }
    assert {name: ASSUMED.get(name) for name in measured} == measured
