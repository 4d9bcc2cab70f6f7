"""DynamoDB: a condition (or filter) expression is parsed once for the same text, names and values.

moto parses a request's ConditionExpression twice per write (once to check the names it uses,
once to evaluate it), lexing it character by character each time: for a conditional PutItem
that was a tenth of the request. moto's parse builds a tree of operators that only read the
item they are evaluated on, so a tree parsed once answers for every later request with the same
expression, attribute names and attribute values. The names and values the parse found are
handed back with it, as moto's callers check them. A parse that fails is not kept: each request
gets moto's own error.
"""

from __future__ import annotations

import functools
import json
import threading

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "parse": Target("a condition is parsed once", "moto.dynamodb.comparisons",
                    "ConditionExpressionParser", "parse", ("self",)),
}  # fmt: skip
PARSED_ONCE = "dynamodb: a condition expression parsed once"
_KEPT = 1024  # distinct expressions; the tracker writes a handful, a test suite a few hundred
_parsed: dict[tuple, tuple] = {}
_lock = threading.Lock()


def install(patches: PatchSet) -> None:
    with _lock:
        _parsed.clear()
    patches.replace(TARGETS["parse"], _parse_once)


def _parse_once(original):
    @functools.wraps(original)  # __wrapped__: moto's own parse, which the contract test compares
    def parse(self):
        if not self.condition_expression:  # moto's answer, at once: no condition, always true
            return original(self)
        try:
            key = (
                self.condition_expression,
                json.dumps(self.expression_attribute_names, sort_keys=True),
                json.dumps(self.expression_attribute_values, sort_keys=True),
            )
        except (TypeError, ValueError):
            return original(self)  # not plain JSON: parsed as moto parses it
        with _lock:
            kept = _parsed.get(key)
        if kept is None:
            op = original(self)
            with _lock:
                if len(_parsed) >= _KEPT:
                    _parsed.clear()
                _parsed[key] = (op, list(self.expr_attr_names_found),
                                list(self.expr_attr_values_found))  # fmt: skip
            return op
        op, names, values = kept
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        hooks.FAST_PATHS[PARSED_ONCE] += 1
        return op

    return parse
