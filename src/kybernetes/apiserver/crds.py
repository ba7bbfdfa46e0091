"""Serving custom resources: a CustomResourceDefinition becomes live resources.

Follows the stored CRDs through the watch cache. For each served version it registers a
``ResourceInfo`` (custom-resource strategy from the CRD's schema, status/scale subresources,
printer columns) and the version's schema (for OpenAPI, field validation and apply), then marks
the CRD ``NamesAccepted``/``Established``. Deleting a CRD removes its resources and, like
Kubernetes, the custom objects it served.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any

from kybernetes.api.kinds.apiextensions import crd as crd_kind
from kybernetes.api.kinds.apiextensions.customresource import CustomResourceStrategy
from kybernetes.api.registry import Registry
from kybernetes.api.schema import Schemas
from kybernetes.api.strategy import ResourceInfo, ScaleAccessor, StatusStrategy, Subresource, WriteContext
from kybernetes.api.types import GroupVersionKind
from kybernetes.apiserver.objects import ObjectStore, WriteOptions
from kybernetes.apiserver.watchcache import Change, Follower, WatchCache

log = logging.getLogger(__name__)
CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


def schema_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def resources_for(crd: dict[str, Any]) -> list[tuple[ResourceInfo, dict[str, Any] | None]]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        strategy = CustomResourceStrategy(crd, v["name"])
        subs = v.get("subresources") or {}
        sub_list: list[Subresource] = []
        status_strategy = None
        if "status" in subs:
            sub_list.append(Subresource("status", names.get("kind", ""), group, v["name"]))
            status_strategy = getattr(strategy, "status_strategy", None)
            if callable(status_strategy):
                status_strategy = status_strategy()
            if status_strategy is None:
                status_strategy = StatusStrategy(strategy)
        scale: ScaleAccessor | None = None
        if "scale" in subs:
            sub_list.append(Subresource("scale", "Scale", "autoscaling", "v1"))
            scale = strategy.scale_accessor()
        storage = next((x["name"] for x in spec.get("versions") or [] if x.get("storage")), v["name"])
        info = ResourceInfo(
            group=group, version=v["name"], kind=names.get("kind", ""), plural=names.get("plural", ""),
            singular=names.get("singular") or names.get("kind", "").lower(),
            namespaced=spec.get("scope") == "Namespaced", strategy=strategy,
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(sub_list), status_strategy=status_strategy, scale=scale,
            list_kind=names.get("listKind") or f"{names.get('kind', '')}List",
            storage_prefix=f"{group}/{names.get('plural', '')}",
            from_storage=None if storage == v["name"] else _retag(group, v["name"]),
            to_storage=None if storage == v["name"] else _retag(group, storage),
        )
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.append((info, schema))
    return out


def _retag(group: str, version: str) -> Any:
    """Conversion strategy None: only apiVersion changes between versions."""
    def convert(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        out["apiVersion"] = f"{group}/{version}"
        return out
    return convert


class CRDManager(Follower):
    prefix = CRD_PREFIX

    def __init__(self, registry: Registry, schemas: Schemas, cache: WatchCache, objects: ObjectStore) -> None:
        super().__init__(cache)
        self.registry, self.schemas, self.objects = registry, schemas, objects
        self._served: dict[str, list[ResourceInfo]] = {}

    async def start(self) -> None:
        for e in self.cache.list(CRD_PREFIX):
            await self._sync(e.obj)
        self.follow("crd-manager")

    async def on_change(self, ch: Change) -> None:
        if ch.type == "DELETE":
            await self._remove(ch.obj)
        else:
            await self._sync(ch.obj)

    def _unregister(self, name: str) -> None:
        for info in self._served.pop(name, []):
            self.registry.remove(info.group, info.version, info.plural)
            self.schemas.remove(schema_name(info.group, info.version, info.kind))

    async def _sync(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self._unregister(name)
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(crd)
            return
        infos = []
        for info, schema in resources_for(crd):
            self.registry.add(info)
            if schema is not None:
                s = copy.deepcopy(schema)
                s["x-kubernetes-group-version-kind"] = [{"group": info.group, "version": info.version,
                                                         "kind": info.kind}]
                self.schemas.add(schema_name(info.group, info.version, info.kind), s,
                                 GroupVersionKind(info.group, info.version, info.kind))
            infos.append(info)
        self._served[name] = infos
        await self._establish(crd)

    async def _establish(self, crd: dict[str, Any]) -> None:
        status = crd_kind.established_status(crd)
        if {c.get("type"): c.get("status") for c in (crd.get("status") or {}).get("conditions") or []} == \
                {c.get("type"): c.get("status") for c in status.get("conditions") or []} and \
                (crd.get("status") or {}).get("acceptedNames") == status.get("acceptedNames"):
            return
        info = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert info is not None

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            assert current is not None
            current["status"] = {**(current.get("status") or {}), **status}
            current["metadata"].pop("resourceVersion", None)
            return current

        ctx = WriteContext(user="system:apiserver", groups=("system:masters",))
        await self.objects.update(info, "", crd["metadata"]["name"], mutate, ctx,
                                  WriteOptions(field_manager="kube-apiserver", subresource="status"),
                                  info.status_strategy or info.strategy)

    async def _delete_objects(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}/"
        for e in list(self.cache.list(prefix)):
            with contextlib.suppress(Exception):
                await self.objects.store.delete(e.key)

    async def _finalize(self, crd: dict[str, Any]) -> None:
        """Delete the custom objects, then drop the CRD's cleanup finalizer."""
        await self._delete_objects(crd)
        info = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert info is not None

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            assert current is not None
            fins = [f for f in current["metadata"].get("finalizers") or [] if f != "customresourcecleanup.apiextensions.k8s.io"]
            current["metadata"]["finalizers"] = fins
            current["metadata"].pop("resourceVersion", None)
            return current

        ctx = WriteContext(user="system:apiserver", groups=("system:masters",))
        with contextlib.suppress(Exception):
            await self.objects.update(info, "", crd["metadata"]["name"], mutate, ctx,
                                      WriteOptions(field_manager="kube-apiserver"))

    async def _remove(self, crd: dict[str, Any]) -> None:
        self._unregister(crd["metadata"]["name"])
        await self._delete_objects(crd)
