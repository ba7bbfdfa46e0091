"""core/v1 Secret: ``stringData`` folded into ``data``, type defaults and per-type required keys,
``immutable``, the ``type`` field selector and the table.

The generic write path calls ``SecretStrategy``; the service-account token controller and kubelets
read what it stores.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.kinds.core.configmap import MAX_SIZE, validate_immutable_update
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
REDACTED = "<secret contents redacted>"


def fold_string_data(obj: Object) -> None:
    """``stringData`` overwrites ``data`` (base64 of UTF-8) and is never stored or returned."""
    string_data = obj.pop("stringData", None)
    for key, value in (string_data or {}).items() if isinstance(string_data, dict) else ():
        data = c.ensure(obj, "data")
        data[key] = base64.b64encode(str(value).encode()).decode()


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, c.column("Type", "Secret", "type"), c.column("Data", "Secret", "data"), AGE_COLUMN)


class SecretStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        fold_string_data(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"
        c.check_bytes_fields(obj, "Secret", "data")

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        data = c.section(obj, "data")
        errs: list[FieldError] = []
        total = 0
        for key, value in data.items():
            errs.extend(errors.invalid(f"data[{key}]", key, m) for m in validation.is_config_map_key(key))
            total += len(c.decode_bytes(value) or b"")
        if total > MAX_SIZE:
            errs.append(errors.too_long("data", "", MAX_SIZE))
        kind = obj.get("type") or ""
        if kind == "kubernetes.io/service-account-token":
            if not (c.meta(obj).get("annotations") or {}).get(SA_NAME_ANNOTATION):
                errs.append(errors.required(f"metadata.annotations[{SA_NAME_ANNOTATION}]"))
        elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
            key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
            if key not in data:
                errs.append(errors.required(f"data[{key}]"))
            else:
                try:
                    json.loads(c.decode_bytes(data[key]) or b"")
                except ValueError as exc:
                    errs.append(errors.invalid(f"data[{key}]", REDACTED, str(exc)))
        elif kind == "kubernetes.io/basic-auth":
            if "username" not in data and "password" not in data:
                errs.extend([errors.required("data[username]"), errors.required("data[password]")])
        elif kind == "kubernetes.io/ssh-auth":
            if not c.decode_bytes(data.get("ssh-privatekey")):
                errs.append(errors.required("data[ssh-privatekey]"))
        elif kind == "kubernetes.io/tls":
            for key in ("tls.crt", "tls.key"):
                if key not in data:
                    errs.append(errors.required(f"data[{key}]"))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validation.immutable(obj.get("type"), old.get("type"), "type")
        return errs + validate_immutable_update(obj, old, ("data",)) + self.validate(obj, ctx)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.namespaced_fields(obj)
        fields["type"] = str(obj.get("type") or "")
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [c.name(obj), obj.get("type") or "", len(c.section(obj, "data")), printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="Secret", plural="secrets", singular="secret", namespaced=True,
                 strategy=SecretStrategy()),
)
