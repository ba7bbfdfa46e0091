"""Validate a JSON value against a structural OpenAPI v3 schema, the way kube-openapi does.

Used for custom resources (the whole object against a version's ``openAPIV3Schema``) and for
schema defaults. Errors are field errors whose details carry kube-openapi's messages, e.g.
``spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.errors import FieldError

Schema = dict[str, Any]

_DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                          r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION_RE = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w)\s*)+$")


def _ok(check: Callable[[str], Any]) -> Callable[[str], bool]:
    """A format check from a parser: valid when it does not raise."""
    def run(value: str) -> bool:
        try:
            check(value)
        except (ValueError, binascii.Error):
            return False
        return True
    return run


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: bool(pattern.match(value))


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False
    return check


#: the string formats Kubernetes checks; unknown formats are not validated
FORMATS: dict[str, Callable[[str], bool]] = {
    "byte": _ok(lambda v: base64.b64decode(v, validate=True)),
    "date-time": _matches(_DATE_TIME_RE), "datetime": _matches(_DATE_TIME_RE), "date": _matches(_DATE_RE),
    "email": _matches(_EMAIL_RE), "hostname": _matches(_HOSTNAME_RE), "mac": _matches(_MAC_RE),
    "ipv4": _ip(4), "ipv6": _ip(6), "cidr": _ok(lambda v: ipaddress.ip_network(v, strict=False)),
    "uuid": _ok(uuid.UUID), "uuid3": _ok(uuid.UUID), "uuid4": _ok(uuid.UUID), "uuid5": _ok(uuid.UUID),
    "duration": _matches(_DURATION_RE),
}


def type_name(value: Any) -> str:
    """kube-openapi's name for the JSON type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, wanted: str) -> bool:
    actual = type_name(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def format_number(value: Any) -> str:
    """Go's ``%v`` for a JSON number (``10``, ``10.5``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _enum_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class _Walk:
    """One validation pass; ``prefix`` is the field path the kube-openapi names hang below."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def path(self, name: str) -> str:
        if not name:
            return self.prefix
        return f"{self.prefix}.{name}" if self.prefix else name

    def invalid(self, name: str, value: Any, message: str) -> None:
        self.errors.append(errors.invalid(self.path(name), value, message))

    def run(self, value: Any, schema: Schema | None, name: str) -> None:
        if not isinstance(schema, dict):
            return
        if value is None:
            if schema.get("nullable") or not (schema.get("type") or schema.get("x-kubernetes-int-or-string")):
                return
        if schema.get("x-kubernetes-int-or-string"):
            if type_name(value) not in ("integer", "string"):
                self.invalid(name, type_name(value),
                             f'{name} in body must be of type integer,string: "{type_name(value)}"')
                return
        elif schema.get("type") and not _type_ok(value, schema["type"]):
            self.invalid(name, type_name(value), f'{name} in body must be of type {schema["type"]}: '
                                                 f'"{type_name(value)}"')
            return
        self._junctors(value, schema, name)
        if isinstance(value, str):
            self._string(value, schema, name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, schema, name)
        elif isinstance(value, list):
            self._array(value, schema, name)
        if "enum" in schema and value not in schema["enum"]:
            self.errors.append(errors.not_supported(self.path(name), value, [_enum_text(e) for e in schema["enum"]]))
        if isinstance(value, dict):
            self._object(value, schema, name)

    def _junctors(self, value: Any, schema: Schema, name: str) -> None:
        for sub in schema.get("allOf") or []:
            self.run(value, sub, name)
        label = f'"{name}"'
        for key, wanted, text in (("anyOf", None, "must validate at least one schema (anyOf)"),
                                  ("oneOf", 1, "must validate one and only one schema (oneOf)")):
            subs = schema.get(key) or []
            if not subs:
                continue
            valid = sum(1 for sub in subs if not validate_value(value, sub, name, self.prefix))
            if (wanted is None and valid == 0) or (wanted is not None and valid != wanted):
                self.invalid(name, "", f"{label} {text}")
        if isinstance(schema.get("not"), dict) and not validate_value(value, schema["not"], name, self.prefix):
            self.invalid(name, "", f"{label} must not validate the schema (not)")

    def _string(self, value: str, schema: Schema, name: str) -> None:
        length = len(value)
        if "maxLength" in schema and length > schema["maxLength"]:
            self.errors.append(FieldError(self.path(name), "FieldValueTooLong",
                                          f"may not be longer than {schema['maxLength']}", value, False))
        if "minLength" in schema and length < schema["minLength"]:
            self.invalid(name, value, f"{name} in body should be at least {schema['minLength']} chars long")
        pattern = schema.get("pattern")
        if pattern:
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True
            if not matched:
                self.invalid(name, value, f"{name} in body should match '{pattern}'")
        check = FORMATS.get(schema.get("format") or "")
        if check is not None and not check(value):
            self.invalid(name, value, f'{name} in body must be of type {schema["format"]}: "{value}"')

    def _number(self, value: float, schema: Schema, name: str) -> None:
        if "maximum" in schema:
            limit, exclusive = schema["maximum"], bool(schema.get("exclusiveMaximum"))
            if value > limit or (exclusive and value == limit):
                word = "less than" if exclusive else "less than or equal to"
                self.invalid(name, value, f"{name} in body should be {word} {format_number(limit)}")
        if "minimum" in schema:
            limit, exclusive = schema["minimum"], bool(schema.get("exclusiveMinimum"))
            if value < limit or (exclusive and value == limit):
                word = "greater than" if exclusive else "greater than or equal to"
                self.invalid(name, value, f"{name} in body should be {word} {format_number(limit)}")
        factor = schema.get("multipleOf")
        if factor and not math.isclose(value / factor, round(value / factor)):
            self.invalid(name, value, f"{name} in body should be a multiple of {format_number(factor)}")

    def _array(self, value: list[Any], schema: Schema, name: str) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.errors.append(FieldError(self.path(name), "FieldValueTooMany",
                                          f"must have at most {schema['maxItems']} items", len(value), True))
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.invalid(name, len(value), f"{name} in body should have at least {schema['minItems']} items")
        items = schema.get("items")
        for i, item in enumerate(value):
            self.run(item, items, f"{name}[{i}]")

    def _object(self, value: dict[str, Any], schema: Schema, name: str) -> None:
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.errors.append(FieldError(self.path(name), "FieldValueTooMany",
                                          f"must have at most {schema['maxProperties']} items", len(value), True))
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self.invalid(name, schema["minProperties"],
                         f"{name} in body should have at least {schema['minProperties']} properties")
        for key in schema.get("required") or []:
            if key not in value:
                self.errors.append(errors.required(self.path(_child(name, key))))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                self.run(item, props[key], _child(name, key))
            elif isinstance(extra, dict):
                self.run(item, extra, _child(name, key))


def _child(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


def validate_value(value: Any, schema: Schema | None, name: str = "", prefix: str = "") -> list[FieldError]:
    """Every problem of ``value`` under ``schema``. ``name`` is the kube-openapi path of ``value``
    (``""`` for a resource root); ``prefix`` the field path the names are reported under."""
    walk = _Walk(prefix)
    walk.run(value, schema, name)
    return walk.errors
