"""The controller manager: leader election, shared informers, and the controllers, as in
kube-controller-manager.

``run_controller_manager`` campaigns for the ``kube-system/kube-controller-manager`` Lease
(``client.leaderelection``: 15 s lease, renewed every 2 s, given up after 10 s without renewal), so
two copies never both act. While leading it discovers the served resources, builds every enabled
controller from ``CONTROLLERS`` (the single name → builder map) over one ``SharedInformerFactory``
(one informer per resource, shared), starts the informers and one event recorder per controller
(``source.component`` as in Kubernetes), and runs each controller with its worker count until
``stop`` is set or leadership is lost. Callers: ``kyb controller-manager`` and the ``kyb server``
composition root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.client import discovery, leaderelection
from kybernetes.client.errors import ApiError
from kybernetes.client.events import NORMAL, EventRecorder
from kybernetes.client.rest import (
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    JOBS,
    LEASES,
    NAMESPACES,
    NODES,
    PODDISRUPTIONBUDGETS,
    PODS,
    PVCS,
    PVS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
    STORAGECLASSES,
    Client,
    Resource,
)
from kybernetes.client.sharedinformers import SharedInformerFactory
from kybernetes.controllers import (
    disruption,
    endpoints,
    endpointslice,
    garbagecollector,
    horizontalpodautoscaler,
    namespace,
    nodeipam,
    nodelifecycle,
    persistentvolume,
    pvcprotection,
    pvprotection,
    replicaset,
    replicationcontroller,
    resourcequota,
    rootcacert,
    serviceaccount,
    tainteviction,
    workloads,
)
from kybernetes.controllers.deployment import DeploymentController

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False,
                kind="CustomResourceDefinition")
#: Kinds whose objects the garbage collector follows (custom resources are added from CRDs).
GC_RESOURCES = (PODS, REPLICASETS, DEPLOYMENTS, STATEFULSETS, DAEMONSETS, JOBS, CRONJOBS, CONTROLLERREVISIONS,
                ENDPOINTSLICES, ENDPOINTS, SERVICES, CONFIGMAPS, SECRETS, PVCS, SERVICEACCOUNTS,
                REPLICATIONCONTROLLERS)


class Runnable(Protocol):
    name: str

    async def run(self, workers: int) -> None: ...


@dataclass
class ControllerContext:
    """What builders get: the client, the shared informers, discovery, and recorders by component."""

    client: Client
    informers: SharedInformerFactory
    root_ca_pem: str = ""
    found: discovery.DiscoveryResult = field(default_factory=lambda: discovery.DiscoveryResult((), {}))
    custom_resources: list[Resource] = field(default_factory=list)
    recorders: dict[str, EventRecorder] = field(default_factory=dict)
    ipam: nodeipam.IPAMConfig | None = None  # node pod ranges to allocate (None: --allocate-node-cidrs off)

    def recorder(self, component: str) -> EventRecorder:
        if component not in self.recorders:
            self.recorders[component] = EventRecorder(self.client, component)
        return self.recorders[component]


Builder = Callable[[ControllerContext], Runnable | None]


def _replicaset(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return replicaset.ReplicaSetController(inf(REPLICASETS), inf(PODS), ctx.client, ctx.recorder("replicaset-controller"))


def _replicationcontroller(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return replicationcontroller.ReplicationControllerController(
        inf(REPLICATIONCONTROLLERS), inf(PODS), ctx.client, ctx.recorder("replication-controller"))


def _deployment(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return DeploymentController(inf(DEPLOYMENTS), inf(REPLICASETS), inf(PODS), ctx.client,
                                ctx.recorder("deployment-controller"))


def _garbagecollector(ctx: ControllerContext) -> Runnable:
    resources = list(dict.fromkeys([*GC_RESOURCES, *ctx.custom_resources]))
    kinds = {**ctx.found.by_kind()}
    return garbagecollector.GarbageCollector([ctx.informers.informer(r) for r in resources], ctx.client,
                                             ctx.recorder("garbage-collector-controller"), kinds=kinds)


def _namespace(ctx: ControllerContext) -> Runnable:
    return namespace.NamespaceController(ctx.informers.informer(NAMESPACES), ctx.client,
                                         ctx.recorder("namespace-controller"))


def _serviceaccount(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return serviceaccount.ServiceAccountController(inf(NAMESPACES), inf(SERVICEACCOUNTS), ctx.client,
                                                   ctx.recorder("service-account-controller"))


def _rootcacert(ctx: ControllerContext) -> Runnable | None:
    if not ctx.root_ca_pem:
        log.info("no root CA given: not publishing %s", rootcacert.CONFIGMAP_NAME)
        return None
    inf = ctx.informers.informer
    return rootcacert.RootCACertPublisher(inf(NAMESPACES), inf(CONFIGMAPS), ctx.client,
                                          ctx.recorder("root-ca-cert-publisher"), ctx.root_ca_pem)


def _endpoints(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return endpoints.EndpointsController(inf(SERVICES), inf(PODS), inf(ENDPOINTS), ctx.client,
                                         ctx.recorder("endpoint-controller"))


def _endpointslice(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return endpointslice.EndpointSliceController(inf(SERVICES), inf(PODS), inf(ENDPOINTSLICES), ctx.client,
                                                 ctx.recorder("endpoint-slice-controller"), node_informer=inf(NODES))


def _nodelifecycle(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return nodelifecycle.NodeLifecycleController(inf(NODES), inf(LEASES), inf(PODS), ctx.client,
                                                 ctx.recorder("node-controller"))


def _nodeipam(ctx: ControllerContext) -> Runnable | None:
    if ctx.ipam is None:
        log.info("no cluster CIDR given: not allocating node pod ranges")
        return None
    return nodeipam.NodeIPAMController(ctx.informers.informer(NODES), ctx.client, ctx.recorder("cidrAllocator"),
                                       ctx.ipam)


def _tainteviction(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return tainteviction.TaintEvictionController(inf(NODES), inf(PODS), ctx.client,
                                                 ctx.recorder("taint-eviction-controller"))


def _resourcequota(ctx: ControllerContext) -> Runnable:
    served = [d.resource for d in ctx.found.namespaced("list", "watch")]
    return resourcequota.new_controller(ctx.informers.informer, served, ctx.client,
                                        ctx.recorder("resourcequota-controller"))


def _disruption(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return disruption.DisruptionController(inf(PODDISRUPTIONBUDGETS), inf(PODS), inf(REPLICASETS), inf(DEPLOYMENTS),
                                           inf(STATEFULSETS), inf(REPLICATIONCONTROLLERS), ctx.client,
                                           ctx.recorder("controllermanager"))


def _horizontalpodautoscaling(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return horizontalpodautoscaler.HorizontalController(inf(horizontalpodautoscaler.HPAS), inf(PODS), ctx.client,
                                                        ctx.recorder("horizontal-pod-autoscaler"),
                                                        kinds=ctx.found.by_kind())


def _persistentvolume_binder(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return persistentvolume.PersistentVolumeController(inf(PVS), inf(PVCS), inf(STORAGECLASSES), ctx.client,
                                                       ctx.recorder("persistentvolume-controller"))


def _pvc_protection(ctx: ControllerContext) -> Runnable:
    inf = ctx.informers.informer
    return pvcprotection.PVCProtectionController(inf(PVCS), inf(PODS), ctx.client,
                                                 ctx.recorder("pvc-protection-controller"))


def _pv_protection(ctx: ControllerContext) -> Runnable:
    return pvprotection.PVProtectionController(ctx.informers.informer(PVS), ctx.client,
                                               ctx.recorder("pv-protection-controller"))


#: name → (builder, workers). The one place a controller is registered; workers follow
#: kube-controller-manager's ``--concurrent-*-syncs`` defaults.
CONTROLLERS: dict[str, tuple[Builder, int]] = {
    "replicaset": (_replicaset, 5),
    "replicationcontroller": (_replicationcontroller, 5),
    "deployment": (_deployment, 5),
    "garbagecollector": (_garbagecollector, 20),
    "namespace": (_namespace, 10),
    "serviceaccount": (_serviceaccount, 1),
    "root-ca-cert-publisher": (_rootcacert, 1),
    "endpoints": (_endpoints, 5),
    "endpointslice": (_endpointslice, 5),
    "nodelifecycle": (_nodelifecycle, 8),
    "nodeipam": (_nodeipam, 10),
    "taint-eviction-controller": (_tainteviction, 8),
    "resourcequota": (_resourcequota, 5),
    "disruption": (_disruption, 1),
    "horizontalpodautoscaling": (_horizontalpodautoscaling, 5),
    "persistentvolume-binder": (_persistentvolume_binder, 1),
    "pvc-protection": (_pvc_protection, 1),
    "pv-protection": (_pv_protection, 1),
    **workloads.CONTROLLERS,  # statefulset, daemonset, job, cronjob, ttl-after-finished, podgc
}


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


async def _discover(client: Client, stop: asyncio.Event) -> tuple[discovery.DiscoveryResult, list[Resource]]:
    """Served resources (retried until the API answers) and the custom resources CRDs define."""
    delay = 0.2
    while True:
        found = await discovery.discover(client)
        if found.resources or stop.is_set():
            break
        log.info("Waiting for API discovery: %s", found.failed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
    custom: list[Resource] = []
    try:
        crds = (await client.list(CRDS)).get("items") or []
    except ApiError as e:
        log.debug("cannot list CRDs: %s", e)
        crds = []
    groups = {((c.get("spec") or {}).get("group"), ((c.get("spec") or {}).get("names") or {}).get("plural"))
              for c in crds}
    for d in found.resources:
        if (d.resource.group, d.resource.plural) in groups and d.supports("list", "watch", "delete"):
            custom.append(d.resource)
    return found, custom


async def run_controllers(client: Client, stop: asyncio.Event, *, root_ca_pem: str = "",
                          enabled: Iterable[str] | None = None, ipam: nodeipam.IPAMConfig | None = None) -> None:
    """Build and run the controllers until ``stop`` is set (no leader election)."""
    names = list(enabled) if enabled is not None else list(CONTROLLERS)
    unknown = [n for n in names if n not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controllers {unknown}; known: {', '.join(CONTROLLERS)}")
    found, custom = await _discover(client, stop)
    ctx = ControllerContext(client, SharedInformerFactory(client), root_ca_pem, found, custom, ipam=ipam)
    running: list[tuple[Runnable, int]] = []
    for name in names:
        builder, workers = CONTROLLERS[name]
        ctrl = builder(ctx)
        if ctrl is not None:
            running.append((ctrl, workers))
    ctx.informers.start()
    for rec in ctx.recorders.values():
        rec.start()
    tasks = [asyncio.create_task(c.run(w), name=f"controller-{c.name}") for c, w in running]
    stopper = asyncio.create_task(stop.wait(), name="controller-manager-stop")
    log.info("Started %d controllers: %s", len(running), ", ".join(c.name for c, _ in running))
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not stopper and not t.cancelled() and t.exception() is not None:
                log.error("controller %s failed", t.get_name(), exc_info=t.exception())
    finally:
        for t in [*tasks, stopper]:
            t.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        await ctx.informers.stop()
        for rec in ctx.recorders.values():
            with contextlib.suppress(asyncio.CancelledError):
                await rec.stop()


async def run_controller_manager(client: Client, stop: asyncio.Event, identity: str = "", *, root_ca_pem: str = "",
                                 leader_elect: bool = True, controllers: Iterable[str] | None = None,
                                 ipam: nodeipam.IPAMConfig | None = None) -> None:
    """Entry point for ``kyb controller-manager`` and ``kyb server``: returns once ``stop`` is set."""
    identity = identity or default_identity()
    enabled = list(controllers) if controllers is not None else None
    if not leader_elect:
        await run_controllers(client, stop, root_ca_pem=root_ca_pem, enabled=enabled, ipam=ipam)
        return

    async def lead(lost: asyncio.Event) -> None:
        log.info("Running kube-controller-manager as leader %s", identity)
        halt = asyncio.Event()
        relay = asyncio.create_task(_first_of(halt, stop, lost), name="controller-manager-relay")
        recorder = EventRecorder(client, "kube-controller-manager")
        recorder.start()
        try:
            with contextlib.suppress(ApiError):
                lease = await client.get(LEASES, LEASE_NAME, LEASE_NAMESPACE)
                recorder.record(lease, NORMAL, "LeaderElection", f"{identity} became leader")
            await run_controllers(client, halt, root_ca_pem=root_ca_pem, enabled=enabled, ipam=ipam)
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            with contextlib.suppress(asyncio.CancelledError):
                await recorder.stop()

    elector = leaderelection.LeaderElector(client, LEASE_NAMESPACE, LEASE_NAME, identity)
    await elector.run(lead, stop)


async def _first_of(target: asyncio.Event, *events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        target.set()
    finally:
        for w in waiters:
            w.cancel()


def root_ca_from_kubeconfig(path: str, context: str | None = None) -> str:
    """The cluster CA (PEM) a kubeconfig trusts: what ``kube-root-ca.crt`` publishes by default."""
    import base64
    from pathlib import Path

    import yaml

    p = Path(path)
    cfg: dict[str, Any] = yaml.safe_load(p.read_text()) or {}
    ctx_name = context or cfg.get("current-context")
    empty: dict[str, Any] = {}
    ctx: dict[str, Any] = next((c["context"] for c in cfg.get("contexts") or [] if c.get("name") == ctx_name),
                               empty) or empty
    cluster: dict[str, Any] = next((c["cluster"] for c in cfg.get("clusters") or []
                                    if c.get("name") == ctx.get("cluster")), empty) or empty
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(str(cluster["certificate-authority-data"])).decode()
    if cluster.get("certificate-authority"):
        return (p.parent / str(cluster["certificate-authority"])).read_text()
    return ""
