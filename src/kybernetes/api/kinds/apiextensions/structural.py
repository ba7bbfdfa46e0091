"""Checks of a CRD version's ``openAPIV3Schema``: OpenAPI restrictions and structural-schema rules.

``validate_schema`` is what ``ValidateCustomResourceDefinition`` runs per schema: the root
restrictions (object root, status-subresource fields), the structural invariants (every node
has a type, value validations may not introduce fields or types, metadata restrictions, the
int-or-string and embedded-resource patterns), the OpenAPI/extension rules and the defaults.
Messages and paths are Kubernetes' (``...properties[spec].type: Required value: must not be
empty for specified object fields``).
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apiextensions import _pruning

Schema = dict[str, Any]
ROOT, ITEM, FIELD = "root", "item", "field"
OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
#: JSONSchemaProps fields allowed at the root when the status subresource is enabled (Go names)
ROOT_FIELDS_WITH_STATUS = {
    "description": "Description", "type": "Type", "format": "Format", "title": "Title", "maximum": "Maximum",
    "exclusiveMaximum": "ExclusiveMaximum", "minimum": "Minimum", "exclusiveMinimum": "ExclusiveMinimum",
    "maxLength": "MaxLength", "minLength": "MinLength", "pattern": "Pattern", "maxItems": "MaxItems",
    "minItems": "MinItems", "uniqueItems": "UniqueItems", "multipleOf": "MultipleOf", "required": "Required",
    "items": "Items", "properties": "Properties", "externalDocs": "ExternalDocs", "example": "Example",
    "x-kubernetes-preserve-unknown-fields": "XPreserveUnknownFields",
    "x-kubernetes-validations": "XValidations",
}
_FLAGS = ("nullable", "uniqueItems", "exclusiveMaximum", "exclusiveMinimum", "x-kubernetes-embedded-resource",
          "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields")
_UNSUPPORTED = (("id", "id is not supported"), ("additionalItems", "additionalItems is not supported"),
                ("patternProperties", "patternProperties is not supported"),
                ("definitions", "definitions is not supported"), ("dependencies", "dependencies is not supported"),
                ("$ref", "$ref is not supported"))
_NESTED_FORBIDDEN = (("type", "must be empty to be structural"),
                     ("additionalProperties", "must be undefined to be structural"),
                     ("default", "must be undefined to be structural"), ("title", "must be empty to be structural"),
                     ("description", "must be empty to be structural"), ("nullable", "must be false to be structural"),
                     ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
                     ("x-kubernetes-embedded-resource", "must be false to be structural"),
                     ("x-kubernetes-int-or-string", "must be false to be structural"),
                     ("x-kubernetes-list-map-keys", "must be empty to be structural"),
                     ("x-kubernetes-list-type", "must be undefined to be structural"))


def _set(schema: Schema, key: str) -> bool:
    """Whether ``key`` holds a non-zero value in Go's terms (flags true, strings and lists non-empty)."""
    value = schema.get(key)
    if key in _FLAGS:
        return value is True
    if isinstance(value, (str, list, dict)):
        return len(value) > 0
    return value is not None


def _props(schema: Schema) -> dict[str, Schema]:
    props = schema.get("properties")
    return {k: v for k, v in props.items() if isinstance(v, dict)} if isinstance(props, dict) else {}


def validate_schema(schema: Schema, path: str, status_enabled: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if status_enabled:
        errs.extend(_status_root_errors(schema, path))
    if schema.get("nullable"):
        errs.append(errors.forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    structural = validate_structural(schema, path)
    errs.extend(structural)
    if not structural:
        errs.extend(_pruning.validate_defaults(schema, path))
    errs.extend(validate_openapi(schema, path, is_root=True))
    return errs


def _status_root_errors(schema: Schema, path: str) -> list[FieldError]:
    for key, value in schema.items():
        if not _set(schema, key):
            continue
        if key == "type":
            if value != "object":
                return [errors.invalid(f"{path}.type", value, 'only "object" is allowed as the type at the root '
                                                              "of the schema if the status subresource is enabled")]
            continue
        if key not in ROOT_FIELDS_WITH_STATUS:
            allowed = " ".join(ROOT_FIELDS_WITH_STATUS.values())
            return [errors.invalid(path, schema, f"only [{allowed}] fields are allowed at the root of the schema "
                                                 "if the status subresource is enabled")]
    return []


# --- structural invariants ------------------------------------------------------------------------

def validate_structural(schema: Schema, path: str) -> list[FieldError]:
    """``ValidateStructural``: invariants plus completeness, sorted by message like Kubernetes."""
    errs = _invariants(schema, ROOT, path) + _completeness(schema, schema, path, path)
    return sorted(errs, key=lambda e: e.message())


def _is_int_or_string_any_of(subs: Any) -> bool:
    return bool(subs == _INT_OR_STRING)


def _invariants(s: Schema, level: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    stype = s.get("type") or ""
    embedded, preserve = bool(s.get("x-kubernetes-embedded-resource")), bool(s.get("x-kubernetes-preserve-unknown-fields"))
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    if stype == "array" and s.get("items") is None:
        errs.append(errors.required(f"{path}.items", "must be specified"))
    if isinstance(s.get("items"), dict):
        errs.extend(_invariants(s["items"], ITEM, f"{path}.items"))
    for key, prop in _props(s).items():
        errs.extend(_invariants(prop, FIELD, f"{path}.properties[{key}]"))
    if s.get("additionalProperties") is not None:
        if level == ROOT:
            errs.append(errors.forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(s["additionalProperties"], dict):
            errs.extend(_invariants(s["additionalProperties"], FIELD, f"{path}.additionalProperties"))
    if int_or_string and preserve:
        errs.append(errors.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                                   "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(errors.invalid(f"{path}.x-kubernetes-embedded-resource", True,
                                   "must be false if x-kubernetes-int-or-string is true"))
    errs.extend(_value_validation(s, level, path, skip_any_of=_is_int_or_string_any_of(s.get("anyOf")),
                                  skip_first_all_of=_int_or_string_all_of(s)))
    if embedded and stype != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(errors.invalid(f"{path}.type", stype, detail) if stype else errors.required(f"{path}.type", detail))
    elif not stype and not int_or_string and not preserve:
        detail = {ROOT: "must not be empty at the root", ITEM: "must not be empty for specified array items",
                  FIELD: "must not be empty for specified object fields"}[level]
        errs.append(errors.required(f"{path}.type", detail))
    if embedded and s.get("additionalProperties") is not None:
        errs.append(errors.forbidden(f"{path}.additionalProperties",
                                     "must not be used if x-kubernetes-embedded-resource is set"))
    if level == ROOT and stype and stype != "object":
        errs.append(errors.invalid(f"{path}.type", stype, "must be object at the root"))
    errs.extend(_meta_errors(s, level, path))
    if embedded and not preserve and not _props(s):
        errs.append(errors.required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is "
                                                          "true without x-kubernetes-preserve-unknown-fields"))
    return errs


def _int_or_string_all_of(s: Schema) -> bool:
    all_of = s.get("allOf")
    return isinstance(all_of, list) and bool(all_of) and _is_int_or_string_any_of((all_of[0] or {}).get("anyOf"))


def _meta_errors(s: Schema, level: str, path: str) -> list[FieldError]:
    props = _props(s)
    errs: list[FieldError] = []
    if level == ROOT or s.get("x-kubernetes-embedded-resource"):
        for key, wanted in (("kind", "string"), ("apiVersion", "string"), ("metadata", "object")):
            if key in props and props[key].get("type", "") != wanted:
                errs.append(errors.invalid(f"{path}.properties[{key}].type", props[key].get("type", ""),
                                           f"must be {wanted}"))
    if level == ROOT and "metadata" in props:
        meta = dict(props["metadata"])
        names = set(_props(meta))
        if names and names <= {"name", "generateName"}:
            meta.pop("properties", None)
        for key in ("type", "default"):
            meta.pop(key, None)
        if any(_set(meta, k) for k in meta):
            errs.append(errors.forbidden(f"{path}.properties[metadata]", "must not specify anything other than name "
                                                                         "and generateName, but metadata is "
                                                                         "implicitly specified"))
    return errs


def _value_validation(s: Schema, level: str, path: str, skip_any_of: bool = False,
                      skip_first_all_of: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    if not skip_any_of:
        for i, sub in enumerate(s.get("anyOf") or []):
            errs.extend(_nested(sub, level, f"{path}.anyOf[{i}]"))
    for i, sub in enumerate(s.get("allOf") or []):
        errs.extend(_nested(sub, level, f"{path}.allOf[{i}]", skip_any_of=skip_first_all_of and i == 0))
    for i, sub in enumerate(s.get("oneOf") or []):
        errs.extend(_nested(sub, level, f"{path}.oneOf[{i}]"))
    if isinstance(s.get("not"), dict):
        errs.extend(_nested(s["not"], level, f"{path}.not"))
    pattern = s.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errs.append(errors.invalid(f"{path}.pattern", pattern,
                                       f"must be a valid regular expression, but isn't: {exc}"))
    return errs


def _nested(v: Any, level: str, path: str, skip_any_of: bool = False) -> list[FieldError]:
    if not isinstance(v, dict):
        return []
    errs = _value_validation(v, level, path, skip_any_of=skip_any_of)
    if isinstance(v.get("items"), dict):
        errs.extend(_nested(v["items"], level, f"{path}.items"))
    for key, prop in _props(v).items():
        errs.extend(_nested(prop, FIELD, f"{path}.properties[{key}]"))
    for key, detail in _NESTED_FORBIDDEN:
        if _set(v, key) or (key == "default" and "default" in v):
            errs.append(errors.forbidden(f"{path}.{key}", detail))
    if "metadata" in _props(v):
        errs.append(errors.forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))
    return errs


def _completeness(v: Schema, s: Schema | None, s_path: str, v_path: str) -> list[FieldError]:
    """Fields and items named inside value validations must also be specified structurally."""
    errs: list[FieldError] = []
    for key in JUNCTORS:
        for i, sub in enumerate(v.get(key) or []):
            errs.extend(_complete_nested(sub, s, s_path, f"{v_path}.{key}[{i}]"))
    if isinstance(v.get("not"), dict):
        errs.extend(_complete_nested(v["not"], s, s_path, f"{v_path}.not"))
    return errs


def _complete_nested(v: Any, s: Schema | None, s_path: str, v_path: str) -> list[FieldError]:
    if not isinstance(v, dict):
        return []
    if s is None:
        return [errors.required(s_path, f"because it is defined in {v_path}")]
    errs = _completeness(v, s, s_path, v_path)
    if isinstance(v.get("items"), dict):
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        errs.extend(_complete_nested(v["items"], items, f"{s_path}.items", f"{v_path}.items"))
    structural_props = _props(s)
    for key, sub in _props(v).items():
        sp, vp = f"{s_path}.properties[{key}]", f"{v_path}.properties[{key}]"
        if key not in structural_props:
            errs.append(errors.required(sp, f"because it is defined in {vp}"))
        else:
            errs.extend(_complete_nested(sub, structural_props[key], sp, vp))
    return errs


# --- OpenAPI and extension rules ----------------------------------------------------------------

def validate_openapi(s: Schema, path: str, is_root: bool = False, inside_meta: bool = False,
                     no_defaults: str = "") -> list[FieldError]:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` with the v3 standard validator."""
    errs = _standard(s, path, inside_meta, no_defaults)
    if s.get("uniqueItems") is True:
        errs.append(errors.forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the runtime "
                                                            "complexity becomes quadratic"))
    extra, props = s.get("additionalProperties"), _props(s)
    if extra is not None:
        if props and (extra is False or isinstance(extra, dict)):
            errs.append(errors.forbidden(f"{path}.additionalProperties",
                                         "additionalProperties and properties are mutual exclusive"))
        if isinstance(extra, dict):
            reason = "inside additionalProperties applying to object metadata" if inside_meta else no_defaults
            errs.extend(validate_openapi(extra, f"{path}.additionalProperties", inside_meta=inside_meta,
                                         no_defaults=reason))
    for key in sorted(props):
        sub_meta, sub_no_defaults = inside_meta, no_defaults
        if (is_root or s.get("x-kubernetes-embedded-resource")) and key in ("metadata", "kind", "apiVersion"):
            sub_meta = True
            if is_root:
                sub_no_defaults = f"in top-level {key}"
        errs.extend(validate_openapi(props[key], f"{path}.properties[{key}]", inside_meta=sub_meta,
                                     no_defaults=sub_no_defaults))
    if isinstance(s.get("not"), dict):
        errs.extend(validate_openapi(s["not"], f"{path}.not", inside_meta=inside_meta, no_defaults=no_defaults))
    for key in JUNCTORS:
        for i, sub in enumerate(s.get(key) or []):
            if isinstance(sub, dict):
                errs.extend(validate_openapi(sub, f"{path}.{key}[{i}]", inside_meta=inside_meta,
                                             no_defaults=no_defaults))
    if isinstance(s.get("items"), dict):
        errs.extend(validate_openapi(s["items"], f"{path}.items", inside_meta=inside_meta, no_defaults=no_defaults))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(errors.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    errs.extend(_list_and_map_rules(s, path))
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        if not str((rule or {}).get("rule") or "").strip():
            errs.append(errors.required(f"{path}.x-kubernetes-validations[{i}].rule", "rule is not specified"))
    return errs


def _standard(s: Schema, path: str, inside_meta: bool, no_defaults: str) -> list[FieldError]:
    errs: list[FieldError] = []
    stype = s.get("type") or ""
    if stype and stype not in OPENAPI_TYPES:
        errs.append(errors.not_supported(f"{path}.type", stype, OPENAPI_TYPES))
    if "default" in s and no_defaults:
        errs.append(errors.forbidden(f"{path}.default", f"must not be set {no_defaults}"))
    errs.extend(errors.forbidden(f"{path}.{key}", detail) for key, detail in _UNSUPPORTED if _set(s, key))
    if stype == "null":
        errs.append(errors.forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list):
        errs.append(errors.forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if inside_meta and s.get("x-kubernetes-embedded-resource"):
        errs.append(errors.forbidden(f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"))
    return errs


def _list_and_map_rules(s: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    stype, map_type, list_type = s.get("type") or "", s.get("x-kubernetes-map-type"), s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    if map_type is not None and stype != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        errs.append(errors.invalid(f"{path}.type", stype, detail) if stype else errors.required(f"{path}.type", detail))
    if map_type is not None and map_type not in ("atomic", "granular"):
        errs.append(errors.not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"]))
    if list_type is not None and stype != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        errs.append(errors.invalid(f"{path}.type", stype, detail) if stype else errors.required(f"{path}.type", detail))
    elif list_type == "set" and items is not None:
        detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
        if items.get("type") == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
            errs.append(errors.invalid(f"{path}.items.x-kubernetes-list-type", items["x-kubernetes-list-type"], detail))
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            errs.append(errors.invalid(f"{path}.items.x-kubernetes-map-type", list_type, detail))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(errors.not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]))
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(errors.required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            errs.append(errors.invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        errs.extend(_map_list_errors(s, path, keys, items))
    if list_type in ("set", "map") and items is not None and items.get("nullable"):
        errs.append(errors.forbidden(f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is "
                                                               f"{list_type}"))
    return errs


def _map_list_errors(s: Schema, path: str, keys: list[str], items: Schema | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if not keys:
        errs.append(errors.required(f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type "
                                                                          "is map"))
    if s.get("items") is None:
        errs.append(errors.required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
    if items is None:
        return errs
    if items.get("type") != "object":
        errs.append(errors.invalid(f"{path}.items.type", items.get("type", ""),
                                   "must be object if parent array's x-kubernetes-list-type is map"))
        return errs
    props, required, seen = _props(items), set(items.get("required") or []), set()
    for key in keys:
        if key not in props:
            errs.append(errors.invalid(f"{path}.x-kubernetes-list-map-keys", keys,
                                       "entries must all be names of item properties"))
        else:
            kp = f"{path}.items.properties[{key}]"
            if props[key].get("type") in ("array", "object"):
                errs.append(errors.invalid(f"{kp}.type", items.get("type", ""),
                                           "must be a scalar type if parent array's x-kubernetes-list-type is map"))
            if key not in required and "default" not in props[key]:
                errs.append(errors.required(f"{kp}.default", "this property is in x-kubernetes-list-map-keys, so it "
                                                             "must have a default or be a required property"))
            if props[key].get("nullable"):
                errs.append(errors.forbidden(f"{kp}.nullable", "this property is in x-kubernetes-list-map-keys, so it "
                                                               "cannot be nullable"))
        if key in seen:
            errs.append(errors.invalid(f"{path}.x-kubernetes-list-map-keys", keys, "must not contain duplicate entries"))
        seen.add(key)
    return errs
