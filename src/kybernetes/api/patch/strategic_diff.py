"""Two-way strategic merge patch: the patch that turns one object into another.

``create_two_way_strategic_merge_patch(original, modified, schema_node, schemas)`` produces what
``kubectl`` computes client-side for ``edit``/``set``: changed fields, ``null`` for removed map
keys, merged lists as only their changed or added elements (by merge key) plus
``{"$patch": "delete", <key>: v}`` for removed ones and a ``$setElementOrder/<list>`` whenever
contents or order changed, ``$deleteFromPrimitiveList/<list>`` for scalar merge lists, and
``$retainKeys`` for fields whose strategy includes ``retainKeys``. Applying the result with
``strategic.apply_strategic_merge_patch`` yields ``modified``. Used by clients and tests; the
server only applies patches.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.patch import _errors, _json, _smp
from kybernetes.api.patch._smp import Field
from kybernetes.api.schema import Schema, Schemas
from kybernetes.api.types import Object

__all__ = ["create_two_way_strategic_merge_patch"]


def create_two_way_strategic_merge_patch(original: Object, modified: Object, schema_node: Schema | None,
                                         schemas: Schemas) -> Object:
    """The strategic merge patch from ``original`` to ``modified`` (``{}`` when they are equal)."""
    return _Differ(schemas).diff_maps(original, modified, schemas.resolve(schema_node), retain_keys=False)


class _Differ:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def diff_maps(self, original: dict[str, Any], modified: dict[str, Any], struct: Schema | None,
                  retain_keys: bool) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        for key, new in modified.items():
            if key not in original:
                patch[key] = _json.clone(new)
                continue
            old = original[key]
            if key == _smp.DIRECTIVE:
                if not _json.equal(old, new):
                    patch[key] = new
                continue
            f = _smp.field(self.schemas, struct, key)
            if isinstance(old, dict) and isinstance(new, dict):
                self._diff_map_field(key, old, new, f, patch)
            elif isinstance(old, list) and isinstance(new, list):
                self._diff_list_field(key, old, new, f, patch)
            elif not _json.equal(old, new):
                patch[key] = _json.clone(new)
        for key in original:
            if key not in modified:
                patch[key] = None
        if retain_keys:
            kept = sorted(k for k, v in modified.items() if v is not None)
            if kept and (patch or any(k not in modified for k in original)):
                patch[_smp.RETAIN_KEYS] = kept
        return patch

    def _diff_map_field(self, key: str, old: dict[str, Any], new: dict[str, Any], f: Field,
                        patch: dict[str, Any]) -> None:
        if f.strategy == _smp.REPLACE:
            if not _json.equal(old, new):
                patch[key] = _json.clone(new)
            return
        sub = self.diff_maps(old, new, _smp.struct_of(self.schemas, f.schema), f.retain_keys)
        if sub:
            patch[key] = sub

    def _diff_list_field(self, key: str, old: list[Any], new: list[Any], f: Field, patch: dict[str, Any]) -> None:
        if f.strategy != _smp.MERGE:
            if not _json.equal(old, new):
                patch[key] = _json.clone(new)
            return
        if not old:
            if new:
                patch[key] = _json.clone(new)
            return
        kind = _smp.list_kind(old, new)
        if kind == "map":
            changes, order = self._diff_map_lists(old, new, f)
        else:
            changes, deletions = _diff_scalar_lists(old, new)
            order = _json.clone(new) if deletions or not _json.equal(old, new) else []
            if deletions:
                patch[f"{_smp.DELETE_FROM_PRIMITIVE_LIST}/{key}"] = deletions
        if changes:
            patch[key] = changes
        if order:
            patch[f"{_smp.SET_ELEMENT_ORDER}/{key}"] = order

    def _diff_map_lists(self, old: list[Any], new: list[Any], f: Field) -> tuple[list[Any], list[Any]]:
        """Changed/added elements (in ``new`` order, deletions last) and the ``$setElementOrder`` list."""
        if not f.merge_key:
            raise _errors.unexpected("cannot merge lists without merge key for type map")
        key = f.merge_key
        struct = _smp.struct_of(self.schemas, _smp.items(self.schemas, f))
        changes: list[Any] = []
        in_old = _smp.Positions(old, key, keyed=True)
        for element in new:
            wanted = _smp.key_value(element, key)
            at = in_old.of_identity(wanted)
            if at < 0:
                changes.append(_json.clone(element))
                continue
            sub = self.diff_maps(old[at], element, struct, f.retain_keys)
            if sub:
                sub[key] = wanted
                changes.append(sub)
        deletions: list[Any] = []
        in_new = _smp.Positions(new, key, keyed=True)
        for element in old:
            wanted = _smp.key_value(element, key)
            if in_new.of_identity(wanted) < 0:
                deletions.append({_smp.DIRECTIVE: _smp.DELETE, key: wanted})
        deletions = _smp.distinct(deletions, key)
        changes += deletions
        same_order = len(old) == len(new) and all(
            _json.equal(_smp.key_value(a, key), _smp.key_value(b, key)) for a, b in zip(old, new, strict=True))
        order = [{key: e[key]} for e in new] if changes or not same_order else []
        return changes, order


def _diff_scalar_lists(old: list[Any], new: list[Any]) -> tuple[list[Any], list[Any]]:
    """Values added (in ``new`` order) and values removed."""
    in_old, in_new = _smp.Positions(old, ""), _smp.Positions(new, "")
    added = _smp.distinct([v for v in new if in_old.of(v) < 0])
    removed = _smp.distinct([v for v in old if in_new.of(v) < 0])
    return _json.clone(added), removed
