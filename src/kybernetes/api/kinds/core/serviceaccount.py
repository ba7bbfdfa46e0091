"""core/v1 ServiceAccount: names, ``/token`` (TokenRequest, served by the apiserver) and the table.

The serviceaccount controller creates ``default`` in every namespace; admission mounts tokens.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import printing, validation
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, Subresource
from kybernetes.api.types import Object


@functools.cache
def _columns() -> tuple[Column, ...]:
    return NAME_COLUMN, c.column("Secrets", "ServiceAccount", "secrets"), AGE_COLUMN


class ServiceAccountStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [c.name(obj), len(c.dicts(obj.get("secrets"))), printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="ServiceAccount", plural="serviceaccounts", singular="serviceaccount",
                 namespaced=True, strategy=ServiceAccountStrategy(), short_names=("sa",),
                 subresources=(Subresource("token", "TokenRequest", "authentication.k8s.io", "v1", verbs=("create",)),)),
)
