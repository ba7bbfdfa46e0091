"""Legacy API discovery from the client side: which resources the server serves, with their verbs.

``GET /api`` and ``/apis`` name the group versions; ``GET /api/v1`` and ``/apis/<group>/<version>``
(the preferred version of each group) list the resources. Callers are the garbage collector (which
kinds to watch, how to find an owner from ``apiVersion``/``kind``) and the namespace controller
(what to delete in a terminating namespace). Groups that fail are reported, not fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kybernetes.client.errors import ApiError
from kybernetes.client.rest import Client, Resource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DiscoveredResource:
    resource: Resource
    verbs: frozenset[str]

    def supports(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    resources: tuple[DiscoveredResource, ...]
    failed: dict[str, str]  # group/version → error message

    def by_kind(self) -> dict[tuple[str, str], Resource]:
        """``(apiVersion, kind)`` → resource, for resolving ownerReferences."""
        return {(d.resource.api_version, d.resource.kind): d.resource for d in self.resources}

    def namespaced(self, *verbs: str) -> list[DiscoveredResource]:
        return [d for d in self.resources if d.resource.namespaced and d.supports(*verbs)]


def _resources(group: str, version: str, doc: dict[str, object]) -> list[DiscoveredResource]:
    out: list[DiscoveredResource] = []
    for r in doc.get("resources") or []:  # type: ignore[attr-defined]
        if not isinstance(r, dict) or "/" in str(r.get("name", "")):
            continue  # subresources (pods/status…) are not collections
        res = Resource(group, version, str(r["name"]), namespaced=bool(r.get("namespaced")), kind=str(r.get("kind", "")))
        out.append(DiscoveredResource(res, frozenset(str(v) for v in r.get("verbs") or [])))
    return out


async def discover(client: Client) -> DiscoveryResult:
    """Every resource the server serves in each group's preferred version."""
    failed: dict[str, str] = {}
    found: list[DiscoveredResource] = []
    versions: list[tuple[str, str]] = []
    try:
        core = await client.request("GET", "/api")
        versions.extend(("", v) for v in core.get("versions") or ["v1"])
    except ApiError as e:
        failed["v1"] = str(e)
    try:
        groups = await client.request("GET", "/apis")
        for g in groups.get("groups") or []:
            preferred = (g.get("preferredVersion") or {}).get("version") or \
                ((g.get("versions") or [{}])[0]).get("version")
            if preferred:
                versions.append((g["name"], preferred))
    except ApiError as e:
        failed["apis"] = str(e)
    for group, version in versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        gv = f"{group}/{version}" if group else version
        try:
            found.extend(_resources(group, version, await client.request("GET", path)))
        except ApiError as e:
            log.debug("discovery of %s failed: %s", gv, e)
            failed[gv] = str(e)
    return DiscoveryResult(tuple(found), failed)
