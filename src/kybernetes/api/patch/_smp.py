"""Strategic-merge-patch vocabulary shared by the applier (``strategic``) and the differ.

Names the directives, reads a field's patch metadata (``x-kubernetes-patch-strategy``,
``x-kubernetes-patch-merge-key``) from the OpenAPI schema, and holds the list helpers both sides
need: matching elements by merge key, and the ordering rule of a merged list (patch order first,
interleaved with server-only elements where the live list put them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api import gofmt
from kybernetes.api.patch import _errors, _json
from kybernetes.api.schema import Schema, Schemas

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

STRATEGY_KEY = "x-kubernetes-patch-strategy"
MERGE_KEY_KEY = "x-kubernetes-patch-merge-key"


@dataclass(frozen=True, slots=True)
class Field:
    """What the schema says about one field: its schema and how patches combine with it.

    ``strategy`` is ``merge``, ``replace`` or ``""`` (the default: maps merge, lists replace);
    ``retain_keys`` only matters to the differ, which then emits ``$retainKeys``.
    """

    schema: Schema | None = None
    strategy: str = ""
    retain_keys: bool = False
    merge_key: str = ""


UNKNOWN = Field()


def field(schemas: Schemas, struct: Schema | None, name: str) -> Field:
    """The patch metadata of field ``name`` of the object schema ``struct``."""
    node = schemas.property(struct, name) if struct is not None else None
    if node is None:
        return UNKNOWN
    return describe(schemas, node)


def describe(schemas: Schemas, node: Schema) -> Field:
    resolved = schemas.resolve(node) or {}
    raw = node.get(STRATEGY_KEY, resolved.get(STRATEGY_KEY, ""))
    merge_key = node.get(MERGE_KEY_KEY, resolved.get(MERGE_KEY_KEY, ""))
    parts = [p for p in str(raw).split(",") if p]
    retain = "retainKeys" in parts
    others = [p for p in parts if p != "retainKeys"]
    return Field(node, others[0] if others else "", retain, str(merge_key or ""))


def items(schemas: Schemas, f: Field) -> Schema | None:
    """The element schema of a list field (``None`` when unknown)."""
    return schemas.items(f.schema) if f.schema is not None else None


def struct_of(schemas: Schemas, node: Schema | None) -> Schema | None:
    return schemas.resolve(node) if node is not None else None


def element_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def list_kind(*lists: list[Any]) -> str:
    """The one kind all elements share (``map`` or a scalar kind); ``""`` for no elements."""
    kind = ""
    for values in lists:
        for v in values:
            k = element_kind(v)
            if k == "list":
                raise _errors.rejected(_errors.LISTS_OF_LISTS)
            if kind and k != kind:
                shown = "[" + " ".join(gofmt.go_value(x) for x in lists) + "]"
                raise _errors.unexpected(f"list element types are not identical: {shown}")
            kind = k
    return kind


def key_value(element: Any, merge_key: str) -> Any:
    """The merge-key value of a list element, or raise upstream's missing-merge-key error."""
    if not isinstance(element, dict):
        raise _errors.bad_arg_type({}, element)
    if merge_key not in element:
        raise _errors.no_merge_key(element, merge_key)
    return element[merge_key]


def identity(element: Any, merge_key: str) -> Any:
    """What identifies an element of a merged list: its merge-key value, or itself for scalars."""
    if merge_key:
        return element.get(merge_key) if isinstance(element, dict) else None
    return element


def _hash_key(value: Any) -> tuple[str, Any] | None:
    """A dict key that is equal exactly when the JSON scalars are (``true`` is not ``1``)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null", None)
    return None


class Positions:
    """Where each identity first occurs in a list: a hash lookup for scalars, a scan otherwise.

    With ``keyed`` set, map elements lacking the merge key are not indexed (they match nothing).
    """

    def __init__(self, values: list[Any], merge_key: str, keyed: bool = False) -> None:
        self.merge_key = merge_key
        self.keyed = keyed
        self._hashed: dict[tuple[str, Any], int] = {}
        self._scanned: list[tuple[int, Any]] = []
        for i, v in enumerate(values):
            self.add(i, v)

    def add(self, index: int, element: Any) -> None:
        if self.keyed and not (isinstance(element, dict) and self.merge_key in element):
            return
        self._put(index, identity(element, self.merge_key))

    def _put(self, index: int, ident: Any) -> None:
        key = _hash_key(ident)
        if key is None:
            self._scanned.append((index, ident))
        else:
            self._hashed.setdefault(key, index)

    def of(self, element: Any) -> int:
        """Position of the element with the same identity as ``element``, or -1."""
        return self.of_identity(identity(element, self.merge_key))

    def of_identity(self, ident: Any) -> int:
        key = _hash_key(ident)
        if key is not None:
            return self._hashed.get(key, -1)
        for index, other in self._scanned:
            if _json.equal(other, ident):
                return index
        return -1


def order(merged: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str) -> list[Any]:
    """Order a merged list: elements named by ``patch_order`` in that order, the rest in live order.

    The two runs are interleaved so that a server-only element stays in front of a patch element
    it preceded in ``server_order`` (the live list); otherwise patch elements come first.
    """
    if merge_key:
        for v in patch_order:
            key_value(v, merge_key)
    in_patch = Positions(patch_order, merge_key)
    in_server = Positions(server_order, merge_key)
    from_patch = [(in_patch.of(v), v) for v in merged if in_patch.of(v) >= 0]
    server_only = [(in_server.of(v), v) for v in merged if in_patch.of(v) < 0]
    from_patch.sort(key=lambda pv: pv[0])
    server_only.sort(key=lambda pv: pv[0] if pv[0] >= 0 else len(server_order))
    result: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(from_patch):
        left = server_only[i][0]
        right = in_server.of(from_patch[j][1])
        if left >= 0 and right >= 0 and left < right:
            result.append(server_only[i][1])
            i += 1
        else:
            result.append(from_patch[j][1])
            j += 1
    return result + [v for _, v in server_only[i:]] + [v for _, v in from_patch[j:]]


def distinct(values: list[Any], merge_key: str = "") -> list[Any]:
    """``values`` without repeated identities (first occurrence kept)."""
    seen = Positions([], merge_key)
    result: list[Any] = []
    for v in values:
        if seen.of(v) < 0:
            seen.add(len(result), v)
            result.append(v)
    return result


def split_directive_key(key: str, prefix: str, malformed: str) -> str:
    """``$setElementOrder/containers`` → ``containers``; a key without ``/<field>`` is a 400."""
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _errors.bad_request(malformed)
    return rest
