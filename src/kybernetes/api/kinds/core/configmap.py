"""core/v1 ConfigMap: key validation, the 1 MiB limit, ``immutable`` and the table.

Kubelets mount and read ConfigMaps; the generic write path calls ``ConfigMapStrategy``.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

MAX_SIZE = 1024 * 1024
IMMUTABLE = "field is immutable when `immutable` is set"


def decoded_length(value: Any) -> int:
    """The byte length of a base64 ``[]byte`` field (0 when undecodable)."""
    return len(c.decode_bytes(value) or b"")


def validate_immutable_update(obj: Object, old: Object, fields: tuple[str, ...]) -> list[FieldError]:
    """The ``immutable`` rules shared by ConfigMaps and Secrets."""
    if old.get("immutable") is not True:
        return []
    errs: list[FieldError] = []
    if obj.get("immutable") is not True:
        errs.append(errors.forbidden("immutable", IMMUTABLE))
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            errs.append(errors.forbidden(field, IMMUTABLE))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return NAME_COLUMN, c.column("Data", "ConfigMap", "data"), AGE_COLUMN


class ConfigMapStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        c.check_bytes_fields(obj, "ConfigMap", "binaryData")

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        data = c.section(obj, "data")
        binary = c.section(obj, "binaryData")
        errs: list[FieldError] = []
        total = 0
        for key, value in data.items():
            errs.extend(errors.invalid(f"data[{key}]", key, m) for m in validation.is_config_map_key(key))
            if key in binary:
                errs.append(errors.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
            total += len(str(value or "").encode())
        for key, value in binary.items():
            errs.extend(errors.invalid(f"binaryData[{key}]", key, m) for m in validation.is_config_map_key(key))
            if key in data:
                errs.append(errors.invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
            total += decoded_length(value)
        if total > MAX_SIZE:
            errs.append(errors.too_long("", "", MAX_SIZE))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_immutable_update(obj, old, ("data", "binaryData")) + self.validate(obj, ctx)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        count = len(c.section(obj, "data")) + len(c.section(obj, "binaryData"))
        return [c.name(obj), count, printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap",
                 namespaced=True, strategy=ConfigMapStrategy(), short_names=("cm",)),
)
