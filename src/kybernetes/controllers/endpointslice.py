"""EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for each Service with a selector.

``sync`` builds the desired endpoints (terminating pods included, with conditions ready / serving /
terminating, nodeName, zone, targetRef), groups them by the exact list of ports they serve, cuts
each group into slices of at most 100 endpoints, and reconciles against the slices this controller
manages for the service (label ``endpointslice.kubernetes.io/managed-by``): slices whose ports
match are reused and rewritten only when they differ, missing ones are created as ``<svc>-<random>``
(generateName) with an ownerReference to the Service, leftovers are deleted. A service with no
endpoints keeps one empty placeholder slice, as in Kubernetes. A deleted Service's slices go with
it through the garbage collector.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kybernetes.client.errors import ApiError, ForbiddenError, NotFoundError, has_status_cause
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import ENDPOINTSLICES, Client
from kybernetes.controllers import loop, podendpoints, podstate, refmanager
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100

PortsKey = tuple[tuple[str, int, str, str], ...]


def _ports_key(ports: list[dict[str, Any]] | None) -> PortsKey:
    return tuple(sorted((str(p.get("name", "")), int(p.get("port") or 0), str(p.get("protocol", "TCP")),
                         str(p.get("appProtocol", ""))) for p in ports or []))


def slice_labels(service: Obj) -> dict[str, str]:
    labels = {k: v for k, v in ((service.get("metadata") or {}).get("labels") or {}).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)}
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if not podendpoints.is_ip_service(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def pod_endpoint(pod: Obj, service: Obj, ip: str, node_zone: str | None) -> dict[str, Any]:
    serving = podstate.is_pod_ready(pod)
    terminating = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready, "serving": serving,
                                                            "terminating": terminating}}
    if podendpoints.should_set_hostname(pod, service):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = podendpoints.target_ref(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    if node_zone:
        ep["zone"] = node_zone
    return ep


class EndpointSliceController(loop.Controller):
    name = "endpointslice"

    def __init__(self, svc_informer: Informer, pod_informer: Informer, slice_informer: Informer, client: Client,
                 recorder: loop.Recorder, node_informer: Informer | None = None,
                 max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__([i for i in (svc_informer, pod_informer, slice_informer, node_informer) if i is not None])
        self.svc_informer = svc_informer
        self.pod_informer = pod_informer
        self.slice_informer = slice_informer
        self.node_informer = node_informer
        self.client = client
        self.recorder = recorder
        self.max_per_slice = max_per_slice
        podendpoints.register(self.queue, svc_informer, pod_informer)
        slice_informer.add_handlers(self._slice_changed, lambda _o, cur: self._slice_changed(cur), self._slice_changed)

    def _slice_changed(self, s: Obj) -> None:
        md = s.get("metadata") or {}
        labels = md.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{md.get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    def _zone(self, node_name: str | None) -> str | None:
        if not node_name or self.node_informer is None:
            return None
        node = self.node_informer.get(node_name)
        zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL)
        return str(zone) if zone else None

    def desired(self, service: Obj) -> dict[PortsKey, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Ports key → (ports, endpoints) for the IPv4 address type."""
        spec = service.get("spec") or {}
        groups: dict[PortsKey, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for pod in podendpoints.pods_for_service(self.pod_informer, service):
            if not podendpoints.should_pod_be_in_endpoints(pod, True):
                continue
            ip = podendpoints.pod_ip(pod, "IPv4")
            if not ip:
                continue
            ports = []
            for sp in spec.get("ports") or []:
                try:
                    ports.append(podendpoints.endpoint_port(sp, podendpoints.find_port(pod, sp)))
                except ValueError:
                    continue
            key = _ports_key(ports)
            entry = groups.setdefault(key, (sorted(ports, key=lambda p: _ports_key([p])), []))
            entry[1].append(pod_endpoint(pod, service, ip, self._zone((pod.get("spec") or {}).get("nodeName"))))
        for _, eps in groups.values():
            eps.sort(key=lambda e: (e["targetRef"]["name"], e["addresses"][0]))
        return groups

    async def sync(self, key: str) -> None:
        ns, name = loop.split_key(key)
        service = self.svc_informer.get(key)
        if service is None:
            return  # its slices are owned by it: the garbage collector removes them
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return
        existing = [s for s in self.slice_informer.list(ns)
                    if ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == name
                    and s["metadata"]["labels"].get(MANAGED_BY_LABEL) == CONTROLLER_NAME
                    and not s["metadata"].get("deletionTimestamp")]
        existing.sort(key=lambda s: s["metadata"]["name"])
        wanted: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        for _key, (ports, eps) in sorted(self.desired(service).items()):
            for i in range(0, len(eps), self.max_per_slice):
                wanted.append((ports, eps[i:i + self.max_per_slice]))
        if not wanted:
            wanted.append(([], []))  # placeholder: the service exists and has no endpoints
        labels = slice_labels(service)
        unused = list(existing)
        try:
            for ports, eps in wanted:
                match = next((s for s in unused if _ports_key(s.get("ports")) == _ports_key(ports)), None)
                if match is None:
                    await self._create(service, labels, ports, eps)
                    continue
                unused.remove(match)
                if (match.get("endpoints") or []) != eps or (match.get("metadata") or {}).get("labels") != labels \
                        or (match.get("ports") or []) != ports:
                    updated = copy.deepcopy(match)
                    updated["metadata"]["labels"] = labels
                    updated["endpoints"] = eps
                    updated["ports"] = ports
                    await self.client.replace(ENDPOINTSLICES, updated, ns)
            for s in unused:
                try:
                    await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)
                except NotFoundError:
                    pass
        except ForbiddenError as e:
            if has_status_cause(e, "NamespaceTerminating"):
                return
            raise
        except ApiError as e:
            self.recorder.record(service, WARNING, "FailedToUpdateEndpointSlices",
                                 f"Error updating Endpoint Slices for Service {ns}/{name}: {e}")
            raise

    async def _create(self, service: Obj, labels: dict[str, str], ports: list[dict[str, Any]],
                      eps: list[dict[str, Any]]) -> None:
        md = service["metadata"]
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": f"{md['name']}-", "namespace": md["namespace"], "labels": labels,
                             "ownerReferences": [refmanager.new_controller_ref(service, "v1", "Service")]},
                "addressType": "IPv4", "endpoints": eps, "ports": ports}
        await self.client.create(ENDPOINTSLICES, body, md["namespace"])
