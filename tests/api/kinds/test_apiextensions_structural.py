"""Structural-schema and OpenAPI checks of CRD schemas (paths relative to ``s``)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.kinds.apiextensions import structural
from tests.api.kinds._helpers import messages


def _errs(schema: dict[str, Any], status: bool = False) -> list[str]:
    return messages(structural.validate_schema(schema, "s", status))


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def test_valid_schema_has_no_errors() -> None:
    schema = _obj(spec=_obj(port={"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"},
                                                                                 {"type": "string"}]},
                            labels={"type": "object", "additionalProperties": {"type": "string"}},
                            raw={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            template={"type": "object", "x-kubernetes-embedded-resource": True,
                                      "x-kubernetes-preserve-unknown-fields": True},
                            items={"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
                  metadata={"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}})
    assert _errs(schema) == []


@pytest.mark.parametrize(("schema", "expected"), [
    ({"properties": {}}, ["s.type: Required value: must not be empty at the root"]),
    ({"type": "array", "items": {"type": "string"}}, ['s.type: Invalid value: "array": must be object at the root']),
    (_obj(a={"type": "array"}), ["s.properties[a].items: Required value: must be specified"]),
    (_obj(a={"type": "array", "items": {}}),
     ["s.properties[a].items.type: Required value: must not be empty for specified array items"]),
    ({"type": "object", "additionalProperties": {"type": "string"}},
     ["s.additionalProperties: Forbidden: must not be used at the root"]),
    ({**_obj(a={"type": "string"}), "anyOf": [{"properties": {"b": {"type": "string"}}}]},
     ["s.anyOf[0].properties[b].type: Forbidden: must be empty to be structural",
      "s.properties[b]: Required value: because it is defined in s.anyOf[0].properties[b]"]),
    (_obj(a={"type": "object", "anyOf": [{"type": "object"}]}),
     ["s.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"]),
    (_obj(metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
     ["s.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
      "metadata is implicitly specified"]),
    (_obj(kind={"type": "integer"}), ['s.properties[kind].type: Invalid value: "integer": must be string']),
    (_obj(t={"type": "string", "x-kubernetes-embedded-resource": True}),
     ["s.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true "
      "without x-kubernetes-preserve-unknown-fields",
      's.properties[t].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true']),
])
def test_structural_errors(schema: dict[str, Any], expected: list[str]) -> None:
    assert _errs(schema) == expected


@pytest.mark.parametrize(("schema", "expected"), [
    (_obj(a={"type": "null"}), ['s.properties[a].type: Unsupported value: "null": supported values: "array", '
                                '"boolean", "integer", "number", "object", "string"',
                                "s.properties[a].type: Forbidden: type cannot be set to null, use nullable as an "
                                "alternative"]),
    (_obj(a={"type": "string", "uniqueItems": True}),
     ["s.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
      "becomes quadratic"]),
    (_obj(a={"type": "object", "properties": {"b": {"type": "string"}}, "additionalProperties": False}),
     ["s.properties[a].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"]),
    (_obj(a={"$ref": "#/definitions/x"}),
     ["s.properties[a].type: Required value: must not be empty for specified object fields",
      "s.properties[a].$ref: Forbidden: $ref is not supported"]),
    (_obj(a={"type": "string", "x-kubernetes-preserve-unknown-fields": False}),
     ["s.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"]),
    (_obj(a={"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}},
             "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]}),
     ["s.properties[a].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, "
      "so it must have a default or be a required property"]),
    (_obj(a={"type": "string", "x-kubernetes-list-type": "set"}),
     ['s.properties[a].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified']),
    (_obj(metadata={"type": "object", "default": {}}),
     ["s.properties[metadata].default: Forbidden: must not be set in top-level metadata"]),
])
def test_openapi_errors(schema: dict[str, Any], expected: list[str]) -> None:
    assert _errs(schema) == expected


def test_defaults_must_validate_and_be_pruned() -> None:
    schema = _obj(spec=_obj(size={"type": "integer", "default": "big"},
                            opts={"type": "object", "properties": {"a": {"type": "string"}},
                                  "default": {"a": "x", "b": "y"}}))
    assert _errs(schema) == [
        's.properties[spec].properties[size].default: Invalid value: "string":  in body must be of type integer: '
        '"string"',
        's.properties[spec].properties[opts].default: Invalid value: {"a":"x","b":"y"}: must not have unknown fields',
    ]


def test_status_subresource_root() -> None:
    assert _errs({"type": "object", "properties": {}, "description": "ok", "x-kubernetes-validations": []},
                 status=True) == []
    assert _errs({"type": "object", "nullable": True}, status=True)[0].startswith("s: Invalid value: ")
