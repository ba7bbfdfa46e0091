"""networking.k8s.io/v1 IngressClass: controller name (immutable) and parameters reference."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.networking import ingress
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

MAX_CONTROLLER_LENGTH = 250
SCOPES = ("Cluster", "Namespace")


def _validate_parameters(params: Any, path: str) -> list[FieldError]:
    if params is None:
        return []
    errs = ingress.validate_typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        errs.append(errors.required(f"{path}.scope"))
        return errs
    if scope not in SCOPES:
        errs.append(errors.not_supported(f"{path}.scope", scope, list(SCOPES)))
    elif scope == "Namespace":
        namespace = params.get("namespace")
        if namespace is None:
            errs.append(errors.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs.extend(errors.invalid(f"{path}.namespace", namespace, m)
                        for m in validation.is_dns1123_label(namespace))
    elif params.get("namespace") is not None:
        errs.append(errors.forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Controller", description="Controller that is responsible for handling this class"),
        Column("Parameters", description="A reference to a resource with additional parameters"),
        AGE_COLUMN,
    )


class IngressClassStrategy(Strategy):
    has_status = False

    def default(self, obj: Object) -> None:
        params = (obj.get("spec") or {}).get("parameters")
        if isinstance(params, dict) and params.get("scope") is None:
            params["scope"] = "Cluster"

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        spec = obj.get("spec") or {}
        controller = spec.get("controller") or ""
        errs: list[FieldError] = []
        if len(controller) > MAX_CONTROLLER_LENGTH:
            errs.append(errors.too_long("spec.controller", "", MAX_CONTROLLER_LENGTH))
        errs.extend(validation.validate_domain_prefixed_path(controller, "spec.controller"))
        errs.extend(_validate_parameters(spec.get("parameters"), "spec.parameters"))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validation.immutable((obj.get("spec") or {}).get("controller"),
                                    (old.get("spec") or {}).get("controller"), "spec.controller")
        return errs + self.validate(obj, ctx)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec = obj.get("spec") or {}
        params = spec.get("parameters")
        shown = "<none>"
        if isinstance(params, dict):
            shown = params.get("kind", "")
            if params.get("apiGroup") is not None:
                shown += "." + params["apiGroup"]
            shown += "/" + params.get("name", "")
        return [(obj.get("metadata") or {}).get("name", ""), spec.get("controller", ""), shown,
                printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="networking.k8s.io", version="v1", kind="IngressClass", plural="ingressclasses",
        singular="ingressclass", namespaced=False, strategy=IngressClassStrategy(),
    ),
)
