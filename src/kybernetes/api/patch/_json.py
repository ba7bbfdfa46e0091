"""JSON value helpers shared by the patch engines.

Patch documents arrive parsed (orjson), so values are ``dict``/``list``/``str``/``int``/``float``/
``bool``/``None``. The engines copy with ``clone`` before mutating, compare with ``equal`` (which,
unlike ``==``, keeps ``true`` and ``1`` apart) and word error messages the way Go's ``fmt`` prints
the same values, because that is what a real API server puts in its ``Status`` messages.
"""

from __future__ import annotations

from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (containers are new, scalars are shared)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def equal(a: Any, b: Any) -> bool:
    """JSON equality: objects ignore key order, numbers compare by value, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(equal(v, b[k]) for k, v in a.items()))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)):
        return isinstance(b, (int, float)) and a == b
    return type(a) is type(b) and a == b


def go_type(value: Any) -> str:
    """The Go type a decoded JSON value has (``reflect.TypeOf``), as error messages print it."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "%!s(<nil>)"
