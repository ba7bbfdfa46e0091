"""The resource registry: which group/version/resources this server serves.

Built-in resources come from ``api.kinds`` (each kind module exports ``RESOURCES``); custom
resources are added and removed at run time by the CRD machinery. Discovery, routing, OpenAPI and
``kubectl get all`` all read from here. ``generation`` bumps on every change so that caches built
from the registry (discovery documents, OpenAPI) know when to rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable

from kybernetes.api.strategy import ResourceInfo
from kybernetes.api.types import GroupVersionKind

#: Preferred order of built-in groups in discovery (Kubernetes lists them in this order).
GROUP_ORDER = (
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
    "metrics.k8s.io",
)

#: Version preference within a group: first = preferred (Kubernetes' version priority).
def version_priority(version: str) -> tuple[int, int, int]:
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"": 0, None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)


class Registry:
    def __init__(self, resources: Iterable[ResourceInfo] = ()) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._by_gvk: dict[tuple[str, str, str], ResourceInfo] = {}
        self.generation = 0
        for info in resources:
            self.add(info)

    def add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.plural)] = info
        self._by_gvk[(info.group, info.version, info.kind)] = info
        self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        info = self._by_gvr.pop((group, version, plural), None)
        if info is not None:
            self._by_gvk.pop((group, version, info.kind), None)
            self.generation += 1

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, plural))

    def require(self, group: str, version: str, plural: str) -> ResourceInfo:
        """A resource that is always served (the built-in ones); KeyError if it is not."""
        info = self.get(group, version, plural)
        if info is None:
            raise KeyError(f"{plural}.{version}.{group} is not served")
        return info

    def by_kind(self, gvk: GroupVersionKind) -> ResourceInfo | None:
        return self._by_gvk.get((gvk.group, gvk.version, gvk.kind))

    def all(self) -> list[ResourceInfo]:
        return list(self._by_gvr.values())

    def group_versions(self) -> list[tuple[str, list[str]]]:
        """Served groups in discovery order, each with its versions, preferred first."""
        groups: dict[str, set[str]] = {}
        for g, v, _ in self._by_gvr:
            groups.setdefault(g, set()).add(v)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        names = sorted(groups, key=lambda g: (order.get(g, len(order)), g))
        return [(g, sorted(groups[g], key=version_priority)) for g in names]

    def resources_of(self, group: str, version: str) -> list[ResourceInfo]:
        return sorted((i for (g, v, _), i in self._by_gvr.items() if g == group and v == version),
                      key=lambda i: i.plural)

    def storage_version(self, group: str, plural: str) -> ResourceInfo | None:
        """The preferred version's descriptor of a resource (the one objects are stored in)."""
        infos = [i for (g, _, p), i in self._by_gvr.items() if g == group and p == plural]
        return min(infos, key=lambda i: version_priority(i.version)) if infos else None
