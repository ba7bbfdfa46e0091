"""Server-side printing: objects → ``meta.k8s.io/v1`` Table, as ``kubectl get`` asks for.

Columns and cells come from the kind's strategy; each row carries the object's metadata as a
``PartialObjectMetadata`` (or the whole object with ``includeObject=Object``) so kubectl can show
the NAMESPACE column, ``--show-labels`` and ``-L``.
"""

from __future__ import annotations

import time
from typing import Any

from kybernetes.api import errors
from kybernetes.api.strategy import Strategy

INCLUDE = ("PartialObjectMetadata", "Object", "None")


def include_object(value: str | None) -> str:
    if not value:
        return "PartialObjectMetadata"
    if value not in INCLUDE:
        raise errors.bad_request(f'includeObject: Unsupported value: "{value}": supported values: '
                                 '"Object", "PartialObjectMetadata", "None"')
    return value


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def row(strategy: Strategy, obj: dict[str, Any], now: float, include: str) -> dict[str, Any]:
    r: dict[str, Any] = {"cells": strategy.row(obj, now)}
    if include == "Object":
        r["object"] = obj
    elif include == "PartialObjectMetadata":
        r["object"] = partial_metadata(obj)
    return r


def table(strategy: Strategy, objs: list[dict[str, Any]], include: str, list_meta: dict[str, Any] | None = None,
          headers: bool = True) -> dict[str, Any]:
    now = time.time()
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": [c.definition() for c in strategy.columns()] if headers else [],
        "rows": [row(strategy, o, now, include) for o in objs],
    }


def partial_list(objs: list[dict[str, Any]], list_meta: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "items": [partial_metadata(o) for o in objs]}
