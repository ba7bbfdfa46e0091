"""Kubernetes strategic merge patch (``application/strategic-merge-patch+json``), schema-driven.

``apply_strategic_merge_patch(doc, patch, schema_node, schemas)`` is JSON merge patch plus what
the OpenAPI schema of the kind says about each field (see ``_smp.field``):

* lists whose ``x-kubernetes-patch-strategy`` is ``merge`` are merged element by element: maps by
  their ``x-kubernetes-patch-merge-key`` (containers by ``name``, container ports by
  ``containerPort``, service ports by ``port``, conditions by ``type``, ...), scalars as a set
  (``finalizers``); every other list, and any field the schema does not know, is replaced;
* a map field with strategy ``replace`` is replaced whole; other maps merge, ``null`` deletes;
* directives: ``$patch: replace|delete`` on a map, ``{"$patch": "delete", <key>: v}`` and
  ``{"$patch": "replace"}`` as list elements, ``$retainKeys: [...]`` (clear every other field),
  ``$setElementOrder/<list>`` (order of the merged list) and ``$deleteFromPrimitiveList/<list>``.

The result is a new document; ``doc`` and ``patch`` are never modified. Values taken from the
patch are cleaned on the way in (directives processed, ``null`` members dropped) instead of being
stored raw the way upstream's untyped step does before its typed decoding drops them. A map-level
``$patch: merge`` is accepted as plain merging (upstream rejects it). Errors follow upstream's
codes (see ``_errors``). The inverse, ``create_two_way_strategic_merge_patch``, lives in
``strategic_diff``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import gofmt
from kybernetes.api.patch import _errors, _json, _smp
from kybernetes.api.patch._smp import Field
from kybernetes.api.schema import Schema, Schemas
from kybernetes.api.types import Object

__all__ = ["apply_strategic_merge_patch"]

_ABSENT = object()


def apply_strategic_merge_patch(doc: Object, patch: Any, schema_node: Schema | None, schemas: Schemas) -> Object:
    """Apply a strategic merge patch to ``doc`` (an object of the kind ``schema_node`` describes)."""
    if patch is None:  # Go decodes a JSON null into an empty map: nothing to do
        patch = {}
    if not isinstance(patch, dict):
        kind = "array" if isinstance(patch, list) else _json_kind(patch)
        raise _errors.bad_request(f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")
    merger = _Merger(schemas)
    return merger.merge_map(_json.clone(doc) if isinstance(doc, dict) else {}, patch, schemas.resolve(schema_node))


class _Merger:
    """One patch application; ``merge_*`` mutate the (private) original they are given."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    # -- maps ---------------------------------------------------------------------------------

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], struct: Schema | None) -> dict[str, Any]:
        if _smp.DIRECTIVE in patch:
            directive = patch[_smp.DIRECTIVE]
            rest = {k: v for k, v in patch.items() if k != _smp.DIRECTIVE}
            if directive == _smp.DELETE:
                return {}
            if directive == _smp.REPLACE:
                return self.merge_map({}, rest, struct)
            if directive != _smp.MERGE:
                raise _errors.bad_patch_type(directive, patch)
            patch = rest
        pending = dict(patch)
        self._retain_keys(original, pending)
        self._set_element_orders(original, pending, struct)
        for key, value in pending.items():
            if key.startswith(_smp.DELETE_FROM_PRIMITIVE_LIST):
                self._delete_from_primitive_list(original, key, value)
                continue
            if value is None:
                original.pop(key, None)
                continue
            f = _smp.field(self.schemas, struct, key)
            current = original.get(key, _ABSENT)
            if isinstance(current, dict) and isinstance(value, dict) and f.strategy != _smp.REPLACE:
                original[key] = self.merge_map(current, value, _smp.struct_of(self.schemas, f.schema))
            elif isinstance(current, list) and isinstance(value, list):
                original[key] = self.merge_list(current, value, f)
            else:
                fresh = self.fresh(value, f, replacing=current is not _ABSENT)
                if fresh is _ABSENT:
                    original.pop(key, None)
                else:
                    original[key] = fresh
        return original

    def fresh(self, value: Any, f: Field, replacing: bool = True) -> Any:
        """A patch value entering the document where nothing mergeable was: cleaned, never raw."""
        if isinstance(value, dict):
            if not replacing and value.get(_smp.DIRECTIVE) == _smp.DELETE:
                return _ABSENT  # deleting what is not there leaves it absent
            return self.merge_map({}, value, _smp.struct_of(self.schemas, f.schema))
        if isinstance(value, list):
            return self.merge_list([], value, f)
        return value

    def _retain_keys(self, original: dict[str, Any], pending: dict[str, Any]) -> None:
        if _smp.RETAIN_KEYS not in pending:
            return
        keep = pending.pop(_smp.RETAIN_KEYS)
        if not isinstance(keep, list):
            raise _errors.bad_request(_errors.BAD_RETAIN_KEYS)
        for key, value in pending.items():
            if value is None or key.startswith((_smp.DELETE_FROM_PRIMITIVE_LIST, _smp.SET_ELEMENT_ORDER)):
                continue
            if key not in keep:
                raise _errors.bad_request(_errors.BAD_RETAIN_KEYS)
        for key in [k for k in original if k not in keep]:
            del original[key]

    def _set_element_orders(self, original: dict[str, Any], pending: dict[str, Any],
                            struct: Schema | None) -> None:
        for key in [k for k in pending if k.startswith(_smp.SET_ELEMENT_ORDER)]:
            wanted = pending.pop(key)
            if not isinstance(wanted, list):
                raise _errors.bad_arg_type([], wanted)
            name = _smp.split_directive_key(key, _smp.SET_ELEMENT_ORDER, _errors.BAD_SET_ELEMENT_ORDER)
            has_live, has_given = name in original, name in pending
            live, given = original.get(name), pending.get(name)
            if has_live and not isinstance(live, list):
                raise _errors.bad_arg_type([], live)
            if has_given and not isinstance(given, list):
                raise _errors.bad_arg_type([], given)
            f = _smp.field(self.schemas, struct, name)
            if f.strategy != _smp.MERGE or not (has_live or has_given):
                continue  # only merged lists have an order to set; a replaced list is the patch's
            live_list: list[Any] = list(live) if isinstance(live, list) else []
            if isinstance(given, list):
                _check_order(given, wanted, f.merge_key)
                merged = self.merge_list(list(live_list), given, f)
                del pending[name]
            else:
                merged = live_list
            original[name] = _smp.order(merged, wanted, live_list, f.merge_key)

    def _delete_from_primitive_list(self, original: dict[str, Any], key: str, value: Any) -> None:
        name = _smp.split_directive_key(key, _smp.DELETE_FROM_PRIMITIVE_LIST, _errors.BAD_PRIMITIVE_LIST)
        if value is None:
            original.pop(name, None)
            return
        if not isinstance(value, list):
            raise _errors.bad_request(_errors.BAD_PRIMITIVE_LIST)
        current = original.get(name)
        if isinstance(current, list):
            doomed = _smp.Positions(value, "")
            original[name] = [v for v in current if doomed.of(v) < 0]

    # -- lists --------------------------------------------------------------------------------

    def merge_list(self, original: list[Any], patch: list[Any], f: Field) -> list[Any]:
        element = _smp.items(self.schemas, f)
        if f.strategy != _smp.MERGE:
            return [self._fresh_element(v, element) for v in patch]
        if not original and not patch:
            return original
        kind = _smp.list_kind(original, patch)
        if kind != "map":
            return _smp.order(_smp.distinct(original + patch), patch, original, "")
        if not f.merge_key:
            raise _errors.unexpected("cannot merge lists without merge key for type map")
        original, plain = self._special_elements(original, patch, f.merge_key, element)
        server_order = list(original)
        struct = _smp.struct_of(self.schemas, element)
        where = _smp.Positions(original, f.merge_key, keyed=True)
        for v in plain:
            at = where.of_identity(_smp.key_value(v, f.merge_key))
            if at >= 0:
                original[at] = self.merge_map(original[at], v, struct)
            else:
                where.add(len(original), v)
                original.append(self.merge_map({}, v, struct))
        return _smp.order(original, plain, server_order, f.merge_key)

    def _special_elements(self, original: list[Any], patch: list[Any], merge_key: str,
                          element: Schema | None) -> tuple[list[Any], list[Any]]:
        """Handle ``$patch`` elements; returns the remaining live list and the plain patch elements."""
        plain = []
        replace = False
        for v in patch:
            if _smp.DIRECTIVE not in v:
                plain.append(v)
                continue
            directive = v[_smp.DIRECTIVE]
            if directive == _smp.DELETE:
                wanted = _smp.key_value(v, merge_key)
                original = [o for o in original if not (isinstance(o, dict) and merge_key in o
                                                        and _json.equal(o[merge_key], wanted))]
            elif directive == _smp.REPLACE:
                replace = True
            elif directive == _smp.MERGE:
                raise _errors.unexpected("merging lists cannot yet be specified in the patch")
            else:
                raise _errors.bad_patch_type(directive, v)
        if replace:
            struct = _smp.struct_of(self.schemas, element)
            return [self.merge_map({}, v, struct) for v in plain], []
        return original, plain

    def _fresh_element(self, value: Any, element: Schema | None) -> Any:
        if isinstance(value, dict):
            return self.merge_map({}, value, _smp.struct_of(self.schemas, element))
        if isinstance(value, list):
            return [self._fresh_element(v, None) for v in value]
        return value


def _check_order(patch_list: list[Any], wanted: list[Any], merge_key: str) -> None:
    """The patch list must name its elements in the ``$setElementOrder`` order (deletions aside)."""
    if not patch_list or not wanted:
        return
    if merge_key:
        for v in patch_list:
            if not isinstance(v, dict):
                raise _errors.bad_arg_type({}, v)
        plain = [v for v in patch_list if v.get(_smp.DIRECTIVE) != _smp.DELETE]
    else:
        plain = list(patch_list)
    p = s = 0
    while p < len(plain) and s < len(wanted):
        if isinstance(plain[p], dict) and _smp.DIRECTIVE in plain[p]:
            p += 1
            continue
        if merge_key:
            same = _json.equal(_smp.key_value(plain[p], merge_key), _smp.key_value(wanted[s], merge_key))
        else:
            same = _json.equal(plain[p], wanted[s])
        if same:
            p += 1
        s += 1
    if p < len(plain):
        raise _errors.unexpected(f"The order in patch list:\n{gofmt.go_value(patch_list)}\n doesn't match "
                                 f"{_smp.SET_ELEMENT_ORDER} list:\n{gofmt.go_value(wanted)}\n")


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"
