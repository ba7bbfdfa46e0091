"""Pruning and defaulting of custom resources by a structural schema, and checks of the defaults.

On every write the object is pruned (unknown fields dropped unless
``x-kubernetes-preserve-unknown-fields``; non-nullable nulls without a default dropped) and then
defaulted, as Kubernetes' structural pruning and defaulting algorithms do. A CRD's defaults must
themselves validate and survive pruning; ``validate_defaults`` reports those that do not.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apiextensions import _values

Schema = dict[str, Any]
RESOURCE_META = ("apiVersion", "kind", "metadata")


def _extra(schema: Schema) -> Schema | None:
    """The schema of additional properties, if any (``True`` means "any value, children pruned")."""
    value = schema.get("additionalProperties")
    return value if isinstance(value, dict) else None


def _has_extra(schema: Schema) -> bool:
    return schema.get("additionalProperties") not in (None, False)


def _keeps_meta(schema: Schema, key: str, value: Any) -> bool:
    """TypeMeta and ObjectMeta of a resource (the root or an embedded one) are not the schema's to prune."""
    if not schema.get("x-kubernetes-embedded-resource"):
        return False
    return (key in ("apiVersion", "kind") and isinstance(value, str)) or (key == "metadata" and isinstance(value, dict))


def prune(value: Any, schema: Schema | None, root: bool = True) -> None:
    """Drop, in place, every field ``schema`` does not specify."""
    if root:
        schema = dict(schema or {})
        schema["x-kubernetes-embedded-resource"] = True
    _prune(value, schema)


def _prune(value: Any, schema: Schema | None) -> None:
    if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(value, schema)
        return
    if isinstance(value, dict):
        for key in list(value):
            if schema is None:
                del value[key]
                continue
            if _keeps_meta(schema, key, value[key]):
                continue
            props = schema.get("properties") or {}
            if key in props:
                _prune(value[key], props[key])
            elif _has_extra(schema):
                _prune(value[key], _extra(schema))
            else:
                del value[key]
    elif isinstance(value, list):
        for item in value:
            _prune(item, schema.get("items") if schema is not None else None)


def _skip_prune(value: Any, schema: Schema) -> None:
    """Inside ``x-kubernetes-preserve-unknown-fields``: unknown fields stay, known ones are pruned."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, item in value.items():
            if _keeps_meta(schema, key, item):
                continue
            if key in props:
                _prune(item, props[key])
            elif _has_extra(schema):
                _prune(item, _extra(schema))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _skip_prune(item, schema["items"])


def _null_dropped(value: Any, schema: Schema | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable") and "default" not in schema


def prune_nulls(value: Any, schema: Schema | None) -> None:
    """Drop nulls where the schema allows none and has no default to put there."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key in list(value):
            sub = props.get(key) if key in props else _extra(schema)
            if _null_dropped(value[key], sub):
                del value[key]
            else:
                prune_nulls(value[key], sub)
    elif isinstance(value, list):
        items = schema.get("items")
        value[:] = [v for v in value if not _null_dropped(v, items)]
        for item in value:
            prune_nulls(item, items)


def _missing(value: Any, schema: Schema) -> bool:
    return value is None and not schema.get("nullable")


def apply_defaults(value: Any, schema: Schema | None) -> None:
    """Fill absent (or non-nullable null) fields that have a ``default``, recursively."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if "default" in sub and (key not in value or _missing(value[key], sub)):
                value[key] = copy.deepcopy(sub["default"])
        extra = _extra(schema)
        for key in list(value):
            if key in props:
                apply_defaults(value[key], props[key])
            elif extra is not None:
                if "default" in extra and _missing(value[key], extra):
                    value[key] = copy.deepcopy(extra["default"])
                apply_defaults(value[key], extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return
        for i, item in enumerate(value):
            if "default" in items and _missing(item, items):
                value[i] = copy.deepcopy(items["default"])
            apply_defaults(value[i], items)


def validate_defaults(schema: Schema, path: str) -> list[FieldError]:
    """Each ``default`` must survive pruning and validate against its own schema."""
    errs: list[FieldError] = []
    _walk_defaults(schema, path, errs, is_root=True)
    return errs


def _walk_defaults(schema: Schema, path: str, errs: list[FieldError], is_root: bool = False) -> None:
    if "default" in schema and not is_root:
        default = schema["default"]
        pruned = copy.deepcopy(default)
        _prune(pruned, schema)
        if pruned != default:
            errs.append(errors.invalid(f"{path}.default", default, "must not have unknown fields"))
        errs.extend(_values.validate_value(default, schema, "", f"{path}.default"))
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and not (is_root and key == "metadata"):
            _walk_defaults(sub, f"{path}.properties[{key}]", errs)
    if isinstance(schema.get("items"), dict):
        _walk_defaults(schema["items"], f"{path}.items", errs)
    if isinstance(schema.get("additionalProperties"), dict):
        _walk_defaults(schema["additionalProperties"], f"{path}.additionalProperties", errs)
