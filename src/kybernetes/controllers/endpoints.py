"""Endpoints controller: the core/v1 Endpoints object named like each Service with a selector.

``sync`` lists the pods the selector matches, keeps those with an IP (terminating ones only with
``publishNotReadyAddresses``), resolves each service port against each pod (named target ports
per pod), puts ready pods under ``addresses`` and the others under ``notReadyAddresses``, repacks
the subsets canonically (one subset per set of addresses sharing the same ports), and writes the
Endpoints only when they changed. A deleted Service takes its Endpoints with it.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any

from kybernetes.client.errors import (
    AlreadyExistsError,
    ApiError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import ENDPOINTS, Client
from kybernetes.controllers import loop, podendpoints, podstate
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

HEADLESS_LABEL = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
_NO_PORT = ("", -1, "")


def _port_key(port: dict[str, Any] | None) -> tuple[str, int, str]:
    if port is None:
        return _NO_PORT
    return (str(port.get("name", "")), int(port["port"]), str(port.get("protocol", "TCP")))


def repack(entries: list[tuple[dict[str, Any], dict[str, Any] | None, bool]]) -> list[dict[str, Any]]:
    """(address, port, ready) triples → canonical subsets: addresses grouped by the exact set of
    ports they serve; an address not ready on some port is not ready there (not-ready wins)."""
    addrs: dict[tuple[str, str], dict[str, Any]] = {}
    ports: dict[tuple[str, int, str], dict[str, Any] | None] = {}
    by_port: dict[tuple[str, int, str], dict[tuple[str, str], bool]] = {}
    for addr, port, ready in entries:
        akey = (str(addr["ip"]), str((addr.get("targetRef") or {}).get("uid", "")))
        addrs.setdefault(akey, addr)
        pkey = _port_key(port)
        ports[pkey] = port
        seen = by_port.setdefault(pkey, {})
        if seen.get(akey, True):
            seen[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[str, int, str]]] = {}
    for pkey, seen in by_port.items():
        groups.setdefault(frozenset(seen.items()), []).append(pkey)
    subsets = []
    for members, pkeys in groups.items():
        subset: dict[str, Any] = {}
        up = sorted((a for a, r in members if r), key=lambda k: (_ip_sort(k[0]), k[1]))
        down = sorted((a for a, r in members if not r), key=lambda k: (_ip_sort(k[0]), k[1]))
        if up:
            subset["addresses"] = [addrs[a] for a in up]
        if down:
            subset["notReadyAddresses"] = [addrs[a] for a in down]
        real = sorted(p for p in pkeys if p != _NO_PORT)
        if real:
            subset["ports"] = [ports[p] for p in real]
        subsets.append(subset)
    return sorted(subsets, key=lambda s: ([_port_key(p) for p in s.get("ports") or []],
                                          [_ip_sort(a["ip"]) for a in s.get("addresses") or s.get("notReadyAddresses") or []]))


def _ip_sort(ip: str) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (addr.version, int(addr), "")


def desired_subsets(service: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    family = podendpoints.service_family(service)
    entries: list[tuple[dict[str, Any], dict[str, Any] | None, bool]] = []
    for pod in pods:
        if not podendpoints.should_pod_be_in_endpoints(pod, tolerate):
            continue
        ip = podendpoints.pod_ip(pod, family)
        if not ip:
            continue
        addr: dict[str, Any] = {"ip": ip}
        if podendpoints.should_set_hostname(pod, service):
            addr["hostname"] = pod["spec"]["hostname"]
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            addr["nodeName"] = node
        addr["targetRef"] = podendpoints.target_ref(pod)
        ready = tolerate or podstate.is_pod_ready(pod)
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":
                entries.append((addr, None, ready))
            continue
        for sp in spec["ports"]:
            try:
                number = podendpoints.find_port(pod, sp)
            except ValueError as e:
                log.debug("service %s: %s", key_of(service), e)
                continue
            entries.append((addr, podendpoints.endpoint_port(sp, number), ready))
    return repack(entries)


class EndpointsController(loop.Controller):
    name = "endpoints"

    def __init__(self, svc_informer: Informer, pod_informer: Informer, ep_informer: Informer, client: Client,
                 recorder: loop.Recorder) -> None:
        super().__init__([svc_informer, pod_informer, ep_informer])
        self.svc_informer = svc_informer
        self.pod_informer = pod_informer
        self.ep_informer = ep_informer
        self.client = client
        self.recorder = recorder
        podendpoints.register(self.queue, svc_informer, pod_informer)
        ep_informer.add_handlers(self._leftover, on_delete=lambda ep: self.queue.add(key_of(ep)))

    def _leftover(self, ep: Obj) -> None:
        """At start (the initial list), Endpoints of services deleted meanwhile get checked."""
        annotations = (ep.get("metadata") or {}).get("annotations") or {}
        if not self.ep_informer.has_synced and LEADER_ANNOTATION not in annotations:
            self.queue.add(key_of(ep))

    async def sync(self, key: str) -> None:
        ns, name = loop.split_key(key)
        service = self.svc_informer.get(key)
        if service is None:
            if self.ep_informer.get(key) is not None:
                try:
                    await self.client.delete(ENDPOINTS, name, ns)
                except NotFoundError:
                    pass
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return
        subsets = desired_subsets(service, podendpoints.pods_for_service(self.pod_informer, service))
        current = self.ep_informer.get(key)
        labels = dict((service.get("metadata") or {}).get("labels") or {})
        if not podendpoints.is_ip_service(service):
            labels[HEADLESS_LABEL] = ""
        if current is not None and (current.get("subsets") or []) == subsets and \
                ((current.get("metadata") or {}).get("labels") or {}) == labels:
            return
        if current is None:
            ep: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}
        else:
            ep = copy.deepcopy(current)
        ep["metadata"]["labels"] = labels
        if not labels:
            ep["metadata"].pop("labels")
        ep["subsets"] = subsets
        if not subsets:
            ep.pop("subsets")
        try:
            if current is None:
                await self.client.create(ENDPOINTS, ep, ns)
            else:
                await self.client.replace(ENDPOINTS, ep, ns)
        except ForbiddenError:
            if current is None:
                return  # most likely a terminating namespace
            raise
        except (AlreadyExistsError, ConflictError):
            raise  # our informer is behind a write (ours, or a previous leader's): retried once it caught up
        except ApiError as e:
            if current is None:
                self.recorder.record(ep, WARNING, "FailedToCreateEndpoint",
                                     f"Failed to create endpoint for service {ns}/{name}: {e}")
            else:
                self.recorder.record(ep, WARNING, "FailedToUpdateEndpoint", f"Failed to update endpoint {ns}/{name}: {e}")
            raise
