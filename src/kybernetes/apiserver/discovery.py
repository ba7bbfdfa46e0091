"""API discovery: aggregated (apidiscovery.k8s.io/v2, what kubectl 1.32 uses) and legacy
(APIVersions / APIGroupList / APIResourceList, what the Python client uses).

Documents are built from the registry and cached until the registry changes (CRDs come and go).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from kybernetes.api.registry import Registry
from kybernetes.api.strategy import ResourceInfo

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_CT_BETA = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> str | None:
    """The aggregated content type the client asked for, if any (v2 preferred)."""
    for item in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in item.split(";")[1:] if "=" in p}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            return AGGREGATED_CT if params.get("v") == "v2" else AGGREGATED_CT_BETA
    return None


def _resource_entry(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": sorted(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    subs = []
    for sub in info.subresources:
        subs.append({"subresource": sub.name,
                     "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                     "verbs": sorted(sub.verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


class Discovery:
    def __init__(self, registry: Registry, server_address: str = "127.0.0.1:6443") -> None:
        self.registry = registry
        self.server_address = server_address
        self._generation = -1
        self._cache: dict[str, bytes] = {}

    def _fresh(self) -> dict[str, bytes]:
        if self._generation != self.registry.generation:
            self._cache = {}
            self._generation = self.registry.generation
        return self._cache

    def _memo(self, key: str, build: Any) -> bytes:
        cache = self._fresh()
        if key not in cache:
            cache[key] = orjson.dumps(build())
        return cache[key]

    # --- aggregated -----------------------------------------------------------------------------
    def aggregated(self, legacy: bool, content_type: str) -> bytes:
        api_version = "apidiscovery.k8s.io/v2" if content_type == AGGREGATED_CT else "apidiscovery.k8s.io/v2beta1"

        def build() -> dict[str, Any]:
            items = []
            for group, versions in self.registry.group_versions():
                if (group == "") != legacy:
                    continue
                items.append({
                    "metadata": {"name": group, "creationTimestamp": None},
                    "versions": [{"version": v, "freshness": "Current",
                                  "resources": [_resource_entry(i) for i in self.registry.resources_of(group, v)]}
                                 for v in versions],
                })
            return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}

        return self._memo(f"agg:{legacy}:{api_version}", build)

    def etag(self, body: bytes) -> str:
        return '"' + hashlib.sha512(body).hexdigest().upper() + '"'

    # --- legacy ---------------------------------------------------------------------------------
    def api_versions(self) -> bytes:
        return self._memo("api", lambda: {
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}]})

    def _group(self, group: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self) -> bytes:
        return self._memo("apis", lambda: {
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [self._group(g, vs) for g, vs in self.registry.group_versions() if g]})

    def api_group(self, group: str) -> bytes | None:
        for g, vs in self.registry.group_versions():
            if g == group and g:
                return self._memo(f"group:{g}", lambda g=g, vs=vs: {"kind": "APIGroup", "apiVersion": "v1",
                                                                   **self._group(g, vs)})
        return None

    def resource_list(self, group: str, version: str) -> bytes | None:
        infos = self.registry.resources_of(group, version)
        if not infos:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for info in infos:
                r: dict[str, Any] = {"name": info.plural, "singularName": info.singular,
                                     "namespaced": info.namespaced, "kind": info.kind, "verbs": sorted(info.verbs)}
                if info.short_names:
                    r["shortNames"] = list(info.short_names)
                if info.categories:
                    r["categories"] = list(info.categories)
                r["storageVersionHash"] = base64.b64encode(hashlib.sha256(
                    f"{info.group}/{info.version}/{info.kind}".encode()).digest()[:8]).decode()
                resources.append(r)
                for sub in info.subresources:
                    s: dict[str, Any] = {"name": f"{info.plural}/{sub.name}", "singularName": "",
                                         "namespaced": info.namespaced, "kind": sub.kind,
                                         "verbs": sorted(sub.verbs)}
                    if sub.group != info.group or sub.version != info.version:
                        s["group"], s["version"] = sub.group, sub.version
                    resources.append(s)
            gv = f"{group}/{version}" if group else version
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

        return self._memo(f"res:{group}/{version}", build)
