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
# Sizes kept between puts: attribute names repeat in every item, and so do most numbers.
_NAME_BYTES: dict[str, int] = {}
_NUMBER_BYTES: dict[str, int] = {}
_KEPT = 100_000


def _keep(kept: dict, text: str, size: int) -> None:
    if len(kept) >= _KEPT:
        kept.clear()
    kept[text] = size


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["put_item"], _put_item)


def _put_item(original):
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    number_size = dynamodb_sizes.number_size_function()

    def number_bytes(value: str, table) -> int | None:
        """moto's size of a valid number, or None when moto's check refuses it. The check and
        the count depend on the string alone, so a valid one's count is kept."""
        known = _NUMBER_BYTES.get(value)
        if known is None:
            try:
                table._validate_number_type(value)
            except Exception:
                return None  # moto's own put raises its error, after the checks that come first
            known = number_size(value)
            _keep(_NUMBER_BYTES, value, known)
        return known

    def name_bytes(name: str) -> int:
        known = _NAME_BYTES.get(name)
        if known is None:
            known = bytesize(name)
            _keep(_NAME_BYTES, name, known)
        return known

    def typed(raw, table):
        """The typed value moto builds of ``raw`` and moto's count of its size, in one walk; or
        None when it is not plain."""
        if type(raw) is not dict or len(raw) != 1:
            return None
        ((kind, value),) = raw.items()
        if kind == "S" and type(value) is str:
            size = len(value) if value.isascii() else bytesize(value)
        elif kind == "N" and type(value) is str:
            size = number_bytes(value, table)
            if size is None:
                return None
        elif (kind == "BOOL" and type(value) is bool) or (kind == "NULL" and value is True):
            size = 1
        elif kind == "M" and type(value) is dict:
            members, size = {}, 0
            for name, member in value.items():
                if name in _TAGS or (inner := typed(member, table)) is None:
                    return None
                members[name] = inner[0]
                size += name_bytes(name) + inner[1]
            value = members
        elif kind == "L" and type(value) is list:
            members, size = [], 0
            for member in value:
                if (inner := typed(member, table)) is None:
                    return None
                members.append(inner[0])
                size += inner[1]
            value = members
        else:
            return None
        made = DynamoType.__new__(DynamoType)
        made.type, made.value = kind, value
        return made, size

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
        values, sizes, total = {}, {}, 0
        for name, raw in attrs.items():
            if name in _TAGS or (made := typed(raw, table)) is None:
                return None
            values[name], sizes[name] = made
            total += name_bytes(name) + made[1]
        if total > dynamodb_sizes.ITEM_SIZE_LIMIT:
            return None  # moto's error
        hash_value = values.get(table.hash_key_attr)
        if hash_value is None or hash_value.type != table.hash_key_type:
            return None
        if sizes[table.hash_key_attr] > _HASH_KEY_BYTES:
            return None
        range_value = None
        if table.range_key_attr is not None:
            range_value = values.get(table.range_key_attr)
            if range_value is None or range_value.type != table.range_key_type:
                return None
            if sizes[table.range_key_attr] > _RANGE_KEY_BYTES:
                return None
            range_value = copy_of(range_value)
        hash_value = copy_of(hash_value)
        item = Item.__new__(Item)
        item.hash_key, item.range_key = hash_value, range_value
        item.attrs = LimitedSizeDict()
        dict.update(item.attrs, values)  # later sets still go through moto's own check
        dynamodb_sizes.built(item, total)
        # moto's get_item, then its store: each hashes the key's typed values again
        if range_value is not None:
            partition = table.items[hash_value]
            current = partition.get(range_value)
            partition[range_value] = item
        else:
            current = table.items.get(hash_value)
            table.items[hash_value] = item
        if table.stream_shard is not None:
            table.stream_shard.add(current, item)
        return item

    return put_item
