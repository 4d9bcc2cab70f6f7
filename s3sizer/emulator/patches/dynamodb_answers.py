"""DynamoDB: a read's items become its answer once, without a copy and without moto's walk.

- moto's Table.query deep-copies every item it found before handing them back, so that an
  index's projection or a projection expression cannot change the stored items. A Query of the
  table's own key with no projection changes nothing it would copy, and its answer is written
  out under the emulator's DynamoDB lock (wsgi.py) before another request runs: inside such a
  Query (dynamodb_query marks it), the list of items is copied and the items are not.
- moto turns every answer into plain dicts with dynamo_to_dict, which tests each value of each
  level for a date, a DynamoType, a `to_json`, a dict and a list in turn. Maps, lists, strings,
  numbers, booleans, nulls and sets of strings or numbers are turned into the same dicts
  directly; anything else (binary values, dates, models) goes to moto's own.

Reading a bucket's 30,000 key items back (reconcile) spent most of its DynamoDB time in these
two walks.
"""

from __future__ import annotations

import copy
import functools

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "table_copy": Target("a query hands back its items uncopied", "moto.dynamodb.models.table",
                         None, "copy", None),
    "to_dict": Target("an answer is built without moto's walk", "moto.dynamodb.responses", None,
                      "dynamo_to_dict", ("obj",)),
}  # fmt: skip
AS_STORED = "dynamodb_query_as_stored"  # the flag dynamodb_query sets around such a Query
UNCOPIED = "dynamodb: a query handed back its items uncopied"
DIRECT_ANSWER = "dynamodb: an answer built without moto's walk"


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["table_copy"], lambda _module: _CopyUnlessAsStored())
    patches.replace(TARGETS["to_dict"], _to_dict)


class _CopyUnlessAsStored:
    """Stands in for the `copy` module inside moto.dynamodb.models.table."""

    def deepcopy(self, value, memo=None):
        if type(value) is list and hooks.flagged(AS_STORED):
            hooks.FAST_PATHS[UNCOPIED] += 1
            return list(value)
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str):
        return getattr(copy, name)


def _to_dict(original):
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    as_is = (str, int, float, bool, type(None))

    def convert(obj):
        kind = type(obj)
        if kind is DynamoType:
            if obj.type in ("B", "BS"):
                return original(obj)  # binary values are decoded there
            value = obj.value
            return {obj.type: value if type(value) in as_is else convert(value)}
        if kind is dict or kind is LimitedSizeDict:
            return {key: convert(value) for key, value in obj.items()}
        if kind is list:
            return [convert(value) for value in obj]
        if kind in as_is:
            return obj
        return original(obj)

    @functools.wraps(original)  # __wrapped__: moto's own, which the contract test compares
    def dynamo_to_dict(obj):
        hooks.FAST_PATHS[DIRECT_ANSWER] += 1
        return convert(obj)

    return dynamo_to_dict
