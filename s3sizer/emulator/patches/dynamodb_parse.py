"""DynamoDB: requests are read by a parser compiled once from their shapes.

moto reads every JSON request by walking its service model node by node: for each attribute
value of each item it looks up a handler by name and tries all ten members of AttributeValue,
which made reading a BatchWriteItem cost more than writing it. Here each shape is turned once
into a function doing the same steps in the same order (the same members, names, conversions
and key order), so the answer is moto's own. A request whose reading fails in any way is read
again by moto's parser, which raises moto's own error.
"""

from __future__ import annotations

import functools

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "parse_json_body": Target("DynamoDB requests are read by a parser compiled from their shapes",
                              "moto.core.parse", "JSONParser", "_parse_json_body",
                              ("self", "raw_body", "shape")),
}  # fmt: skip
COMPILED_PARSE = "dynamodb: a request read by its compiled parser"
_SERVICES = frozenset({"dynamodb"})


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["parse_json_body"], _parse_json_body)


def _parse_json_body(original):
    from moto.core import parse

    compiled: dict[tuple, object] = {}

    @functools.wraps(original)  # __wrapped__: moto's own reading, which the contract test compares
    def parse_json_body(self, raw_body, shape):
        if (
            type(self) is not parse.JSONParser
            or self._blob_parser is not parse.default_blob_parser
            or self._timestamp_parser is not parse.default_timestamp_parser
            or shape is None
            or self.operation_model.service_model.service_name not in _SERVICES
        ):
            return original(self, raw_body, shape)
        model = self.operation_model.service_model
        key = (model.service_name, model.api_version, shape.name)
        reader = compiled.get(key)
        if reader is None:
            try:
                reader = _Compiler(parse).compile(shape)
            except _Unsupported:
                reader = _UNSUPPORTED
            compiled[key] = reader
        if reader is _UNSUPPORTED:
            return original(self, raw_body, shape)
        parsed_json = self._parse_body_as_json(raw_body)
        try:
            result = reader(parsed_json, self.MAP_TYPE)
        except Exception:
            return self._parse_shape(shape, parsed_json)  # moto's own reading, and its error
        hooks.FAST_PATHS[COMPILED_PARSE] += 1
        return result

    return parse_json_body


class _Unsupported(Exception):
    """A shape whose reading moto does in a way not compiled here."""


class _NotADict(Exception):
    """moto reads a structure with .get(): anything but a dict fails there."""


_UNSUPPORTED = object()


class _Compiler:
    """Shape → function(value, map_type), doing what moto's JSONParser does for that shape."""

    def __init__(self, parse_module) -> None:
        self.parse = parse_module
        self.done: dict[str, object] = {}
        parser = parse_module.JSONParser
        base, json_base = parse_module.RequestParser, parse_module.BaseJSONParser
        # The handler moto's JSONParser picks for each type, as this module copies it; a moto
        # that reads a type otherwise is not compiled for.
        self.expected = {
            "structure": json_base._parse_structure,
            "list": base._parse_list,
            "map": base._parse_map,
            "blob": json_base._parse_blob,
            "timestamp": json_base._parse_timestamp,
            "float": json_base._parse_float,
            "double": json_base._parse_float,
            "integer": json_base._parse_integer,
            "long": json_base._parse_integer,
            "byte": json_base._parse_integer,
            "short": json_base._parse_integer,
        }
        self.handler = lambda kind: getattr(parser, f"_parse_{kind}", None)
        if parser._default_handle is not base._default_handle:
            raise _Unsupported("default handler")

    def compile(self, shape):
        name = shape.name
        if name in self.done:
            return self.done[name]
        kind = shape.type_name
        if self.handler(kind) is not self.expected.get(kind):
            raise _Unsupported(kind)
        if kind == "structure":
            return self._structure(shape)
        if kind in ("list", "map"):
            return self._collection(shape, kind)
        reader = self._scalar(kind)
        self.done[name] = reader
        return reader

    def _structure(self, shape):
        if shape.is_document_type:
            reader = _as_is
            self.done[shape.name] = reader
            return reader
        fields: dict[str, tuple[int, str, object]] = {}

        def structure(value, map_type):
            if value is None:
                return None
            if type(value) is not dict:
                raise _NotADict
            out = map_type()
            if len(value) == 1:  # an attribute value: most structures a request holds
                for json_name, raw in value.items():
                    field = fields.get(json_name)
                    if field is not None and raw is not None:
                        out[field[1]] = field[2](raw, map_type)
                return out
            # moto takes the members in the shape's order
            present = sorted(fields[k] for k in value if k in fields)
            for _, member, read, json_name in present:
                raw = value[json_name]
                if raw is not None:
                    out[member] = read(raw, map_type)
            return out

        self.done[shape.name] = structure
        for position, (member, member_shape) in enumerate(shape.members.items()):
            json_name = member_shape.serialization.get("name", member)
            if json_name in fields:
                raise _Unsupported("two members under one name")
            fields[json_name] = (position, member, self.compile(member_shape), json_name)
        return structure

    def _collection(self, shape, kind):
        cell: list = []
        if kind == "list":

            def collection(node, map_type):
                read = cell[0]
                return [read(item, map_type) for item in node]
        else:

            def collection(value, map_type):
                read_key, read_value = cell
                parsed = map_type()
                for key, val in value.items():
                    parsed[read_key(key, map_type)] = read_value(val, map_type)
                return parsed

        self.done[shape.name] = collection
        if kind == "list":
            cell.append(self.compile(shape.member))
        else:
            cell.extend((self.compile(shape.key), self.compile(shape.value)))
        return collection

    def _scalar(self, kind):
        parse = self.parse
        if kind == "blob":
            return lambda value, _: parse.default_blob_parser(value)
        if kind == "timestamp":
            return lambda value, _: parse.default_timestamp_parser(value)
        if kind in ("float", "double"):
            return lambda value, _: value if value is parse.UNDEFINED else float(value)
        if kind in ("integer", "long", "byte", "short"):
            return lambda value, _: value if value is parse.UNDEFINED else int(value)
        return _as_is  # moto's _default_handle: strings, booleans


def _as_is(value, _map_type):
    return value
