"""DynamoDB: a put without a condition stores its item in one pass over its attributes.

moto's put walks an item's attributes three times (it checks their types, builds a typed value
of each, and counts the item's size) and builds the key's typed values twice more to check
their sizes; a BatchWriteItem of a baseline's 25 key items spent a third of its time there. An
item whose values are all plain (strings, numbers, booleans, null, and maps and lists of them)
is checked, typed and counted here in one walk, with moto's own number check, size count and
limits, and stored as moto stores it (the same typed values, the same stream record). Anything
else, and every put moto would refuse, goes through moto's own put, which gives its own answer
or error.
"""

from __future__ import annotations

import functools

from . import dynamodb_sizes, hooks
from .hooks import PatchSet, Target

TARGETS = {
    "put_item": Target("a put without a condition stores its item in one pass",
                       "moto.dynamodb.models.table", "Table", "put_item",
                       ("self", "item_attrs", "expected", "condition_expression",
                        "expression_attribute_names", "expression_attribute_values", "overwrite",
                        "return_values_on_condition_check_failure")),
}  # fmt: skip
ONE_PASS = "dynamodb: a put stored its item in one pass"
# moto's checks of the key values' sizes (table.py HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH).
_HASH_KEY_BYTES, _RANGE_KEY_BYTES = 2048, 1024
# Attribute names moto's type check reads as type tags wherever they are: left to moto.
_TAGS = frozenset({"N", "S", "NULL"})


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["put_item"], _put_item)


def _put_item(original):
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def typed(raw, table):
        """The typed value moto builds of ``raw``, or None when it is not plain."""
        if type(raw) is not dict or len(raw) != 1:
            return None
        ((kind, value),) = raw.items()
        if kind == "S" and type(value) is str:
            pass
        elif kind == "N" and type(value) is str:
            try:
                table._validate_number_type(value)
            except Exception:
                return None  # moto's own put raises its error, after the checks that come first
        elif (kind == "BOOL" and type(value) is bool) or (kind == "NULL" and value is True):
            pass
        elif kind == "M" and type(value) is dict:
            members = {}
            for name, member in value.items():
                if name in _TAGS or (inner := typed(member, table)) is None:
                    return None
                members[name] = inner
            value = members
        elif kind == "L" and type(value) is list:
            value = [typed(member, table) for member in value]
            if any(member is None for member in value):  # `in` would compare typed values
                return None
        else:
            return None
        made = DynamoType.__new__(DynamoType)
        made.type, made.value = kind, value
        return made

    def copy_of(value):
        """A separate typed value for the item's key, as moto builds one apart."""
        made = DynamoType.__new__(DynamoType)
        made.type, made.value = value.type, value.value
        return made

    @functools.wraps(original)
    def put_item(
        self, item_attrs, expected=None, condition_expression=None,
        expression_attribute_names=None, expression_attribute_values=None, overwrite=False,
        return_values_on_condition_check_failure=None,
    ):  # fmt: skip
        stored = None
        conditioned = (expected, condition_expression, expression_attribute_names)
        if conditioned == (None, None, None) and expression_attribute_values is None:
            stored = _store(self, item_attrs)
        if stored is None:
            return original(
                self, item_attrs, expected, condition_expression, expression_attribute_names,
                expression_attribute_values, overwrite, return_values_on_condition_check_failure,
            )  # fmt: skip
        hooks.FAST_PATHS[ONE_PASS] += 1
        return stored

    def _store(table, attrs):
        if table.global_indexes or table.indexes or type(attrs) is not dict:
            return None
        values, total = {}, 0
        for name, raw in attrs.items():
            if name in _TAGS or (value := typed(raw, table)) is None:
                return None
            total += bytesize(name) + dynamodb_sizes.moto_size(value, bytesize)
            values[name] = value
        if total > dynamodb_sizes.ITEM_SIZE_LIMIT:
            return None  # moto's error
        hash_value = values.get(table.hash_key_attr)
        if hash_value is None or hash_value.type != table.hash_key_type:
            return None
        if dynamodb_sizes.moto_size(hash_value, bytesize) > _HASH_KEY_BYTES:
            return None
        range_value = None
        if table.range_key_attr is not None:
            range_value = values.get(table.range_key_attr)
            if range_value is None or range_value.type != table.range_key_type:
                return None
            if dynamodb_sizes.moto_size(range_value, bytesize) > _RANGE_KEY_BYTES:
                return None
            range_value = copy_of(range_value)
        hash_value = copy_of(hash_value)
        current = table.get_item(hash_value, range_value)
        item = Item.__new__(Item)
        item.hash_key, item.range_key = hash_value, range_value
        item.attrs = LimitedSizeDict()
        dict.update(item.attrs, values)  # later sets still go through moto's own check
        dynamodb_sizes.built(item, total)
        if range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item
        if table.stream_shard is not None:
            table.stream_shard.add(current, item)
        return item

    return put_item
