"""The node agent (the real kubelet), composed: runtime, kubelet server, Node + Lease, pod workers.

Role: ``kyb agent`` (and later ``kyb server``'s embedded agent) calls :func:`run_agent`. Straight-line
start, each step logged: pod bridge (unless an operator's CNI is configured) → containerd (ours, an
existing endpoint, or a :class:`~kybernetes.runtime.NodeRuntime` handed in) with its offline images →
kubelet server → Node registration → the node's pod range (``spec.podCIDR``, waited for) in our CNI
conflist → pod and service informers → PLEG and pod workers, beside the stats sampler (whose
summaries also drive the node's pressure conditions) and container log rotation. Pods already running
in containerd are adopted by their workers (nothing is restarted); runtime pods no API pod claims are
removed. On
``stop`` every task ends; pods keep running, and our containerd is stopped (its shims survive).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer
from kybernetes.client.rest import NODES, PODS, SERVICES, Client
from kybernetes.kubelet import cni, dns, node, nodestatus, podworkers, pressure
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.context import ApiObjects, KubeletContext
from kybernetes.kubelet.images import ImageManager
from kybernetes.kubelet.logrotation import ContainerLogManager
from kybernetes.kubelet.pleg import PLEG
from kybernetes.kubelet.prober import ProbeManager
from kybernetes.kubelet.server import KubeletServer
from kybernetes.kubelet.stats import StatsProvider
from kybernetes.kubelet.volumes import VolumeManager
from kybernetes.runtime import bootstrap, images
from kybernetes.runtime.bootstrap import NodeRuntime, RuntimeOptions

__all__ = ["Agent", "run_agent"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def offline_images() -> frozenset[str]:
    """Names of the built-in images that are never pulled (no registry is reachable for them)."""
    return frozenset((images.PAUSE_IMAGE, *images.BUSYBOX_NAMES, *images.NGINX_NAMES))


class Agent:
    """One node agent; build with a config, then :meth:`run`."""

    def __init__(self, client: Client, cfg: KubeletConfig, runtime: NodeRuntime, *, owns_runtime: bool,
                 manage_network: bool = False) -> None:
        self.client = client
        self.cfg = cfg
        self.node_runtime = runtime
        self.owns_runtime = owns_runtime
        self.manage_network = manage_network  # write our CNI conflist for the node's pod range
        self.recorder = EventRecorder(client, "kubelet", host=cfg.node_name)
        self.pods = Informer(client, PODS, field_selector=f"spec.nodeName={cfg.node_name}")
        self.services = Informer(client, SERVICES)
        rt = runtime.client
        self.pleg = PLEG(rt, self._wake, period=cfg.pleg_period)
        self.probes = ProbeManager(rt, self.record, self._wake)
        objects = ApiObjects(client)
        self.kc = KubeletContext(
            cfg=cfg, runtime=rt, record=self.record,
            images=ImageManager(rt, Backoff(cfg.backoff_base, cfg.backoff_max), offline=cfg.offline_images),
            volumes=VolumeManager(cfg.pods_dir, objects, objects, refresh_period=cfg.volume_refresh_period,
                                  host_ip=cfg.node_ip, claims=objects),
            objects=objects, services=self.services.list, probes=self.probes,
            backoff=Backoff(cfg.backoff_base, cfg.backoff_max), pleg=self.pleg, host_dns=dns.DNSSettings())
        self.workers = podworkers.PodWorkers(self.kc, client)
        self.stats = StatsProvider(cfg, rt)
        self.pressure = pressure.PressureTracker(pressure.parse_thresholds(cfg.eviction_hard),
                                                 cfg.eviction_pressure_transition_period)
        self.log_rotation = ContainerLogManager(rt, max_size=cfg.container_log_max_size,
                                                max_files=cfg.container_log_max_files,
                                                period=cfg.container_log_monitor_period)
        self.server = KubeletServer(cfg, self.workers.pod_by_name, rt, summary=self.stats.summary)
        self.node: node.NodeAgent | None = None
        self.ready = asyncio.Event()

    def record(self, pod: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        """Queue an event about ``pod`` (from ``kubelet``, ``source.host`` = the node)."""
        ref = {"apiVersion": "v1", "kind": "Pod", **pod}
        self.recorder.record(ref, type_, reason, message, field_path)

    async def _observe_pressure(self, summary: Obj) -> None:
        """Re-evaluate the eviction thresholds; a changed pressure condition is posted at once, with the
        Node event the kubelet records (``NodeHasInsufficientMemory``, ``NodeHasNoDiskPressure``, …)."""
        before = self.pressure.conditions
        if not self.pressure.observe(summary, time.time()) or self.node is None:
            return
        log.info("node %s pressure conditions: %s (thresholds met: %s)", self.cfg.node_name,
                 sorted(self.pressure.conditions) or "none", [t.signal for t in self.pressure.met] or "none")
        name = self.cfg.node_name
        ref = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": name}}
        for condition in sorted(before ^ self.pressure.conditions):
            reason = nodestatus.PRESSURE_EVENTS[condition][condition in self.pressure.conditions]
            self.recorder.record(ref, "Normal", reason, f"Node {name} status is now: {reason}")
        await self.node.post_status()

    def _wake(self, uid: str) -> None:
        self.workers.wake(uid)

    async def _runtime_ready(self) -> tuple[bool, str]:
        try:
            cond = await self.node_runtime.client.conditions()
        except Exception as e:  # any failure means "not ready"; the message says why
            return False, f"container runtime is down: {e}"
        if not cond.get("RuntimeReady"):
            return False, "container runtime status check may not have completed yet"
        if not cond.get("NetworkReady"):
            return False, ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                           "message:Network plugin returns error: cni plugin not initialized")
        return True, ""

    async def _orphans(self) -> None:
        """Remove runtime pods that no pod of the API claims (after the informer listed)."""
        api_uids = {(p.get("metadata") or {}).get("uid") for p in self.pods.list()}
        in_runtime = await self.pleg.runtime_uids()
        for uid in in_runtime - api_uids - set(self.workers.workers):
            log.info("Removing pod %s: it is in the runtime but not in the API", uid)
            self.workers.adopt_orphan(uid)

    async def start(self, stop: asyncio.Event | None = None) -> None:
        """Everything up to "pods are being synced" (``stop`` ends a wait for the node's pod range)."""
        self.recorder.start()
        self.kc.host_dns = dns.parse_resolv_conf(await asyncio.to_thread(_read, self.cfg.host_resolv_conf))
        version = await self.node_runtime.client.version()
        port = await self.server.start()
        self.node = node.NodeAgent(self.client, self.cfg, kubelet_port=port,
                                   runtime_version=f"{version.runtime_name}://{version.runtime_version}",
                                   runtime_ready=self._runtime_ready, pressure=lambda: self.pressure.conditions)
        await self.node.register()
        if self.manage_network:
            await self._pod_network(stop or asyncio.Event())
        self.stats.memory_capacity = self.node.memory_capacity
        self.kc.allocatable = dict(self.node.allocatable)
        self.kc.memory_capacity = self.node.memory_capacity
        self.kc.volumes.allocatable = dict(self.node.allocatable)
        self.services.start()
        self.pods.add_handlers(self.workers.update, lambda old, new: self.workers.update(new), self.workers.remove)
        self.pods.start()
        await self.services.wait_synced()
        await self.pods.wait_synced()
        await self.pleg.relist()
        await self._orphans()
        self.ready.set()
        log.info("Running kubelet for node %s (%d pods)", self.cfg.node_name, len(self.pods.list()))

    async def run(self, stop: asyncio.Event) -> None:
        """Start, then serve until ``stop``; always shuts down cleanly."""
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.start(stop)
            assert self.node is not None
            tasks = [asyncio.create_task(self.pleg.run(stop), name="kubelet-pleg"),
                     asyncio.create_task(self.node.run(stop), name="kubelet-node-status"),
                     asyncio.create_task(self._housekeeping(stop), name="kubelet-housekeeping"),
                     asyncio.create_task(self.stats.run(stop, self._observe_pressure), name="kubelet-stats"),
                     asyncio.create_task(self.log_rotation.run(stop), name="kubelet-log-rotation")]
            for t in tasks:
                t.add_done_callback(_log_failure)
            await stop.wait()
        finally:
            await self.shutdown(tasks)

    async def _pod_network(self, stop: asyncio.Event) -> None:
        """Our CNI conflist for the node's pod range (configured, else ``spec.podCIDR`` once the controller
        manager assigned it) before any pod starts; Ready is posted once containerd has loaded it."""
        assert self.node is not None
        cidr = self.cfg.pod_cidr or await _assigned_pod_cidr(self.client, self.cfg.node_name, stop)
        if not cidr:
            return
        written = await asyncio.to_thread(cni.ensure_conflist, self.cfg.cni_conf_dir, self.cfg.cni_bridge, cidr,
                                          self.cfg.agent_dir / "cni" / "ipam")
        if written is None:
            return
        log.info("Wrote CNI configuration %s (bridge %s, pods %s)", written, self.cfg.cni_bridge, cidr)
        for _ in range(100):  # containerd watches the directory; CRI has no event for it, so poll (10 s at most)
            if (await self._runtime_ready())[0]:
                break
            await asyncio.sleep(0.1)
        await self.node.post_status()

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
            if not stop.is_set():
                await self._orphans()
                self.kc.backoff.gc()

    async def shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        log.info("Shutting down kubelet for node %s", self.cfg.node_name)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.workers.shutdown()
        await self.probes.stop()
        await self.pods.stop()
        await self.services.stop()
        await self.server.stop()
        await self.recorder.stop()
        if self.owns_runtime:
            await self.node_runtime.close()


async def _assigned_pod_cidr(client: Client, node_name: str, stop: asyncio.Event) -> str:
    """The node's ``spec.podCIDR``, waited for (watching the Node); "" if ``stop`` comes first."""
    nodes = Informer(client, NODES, field_selector=f"metadata.name={node_name}")
    assigned = asyncio.Event()

    def seen(obj: Obj) -> None:
        if (obj.get("spec") or {}).get("podCIDR"):
            assigned.set()

    nodes.add_handlers(seen, lambda _old, new: seen(new))
    nodes.start()
    try:
        patience = 2.0  # usually assigned within milliseconds of registration
        while True:
            waiters = [asyncio.ensure_future(e.wait()) for e in (assigned, stop)]
            await asyncio.wait(waiters, timeout=patience, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            if assigned.is_set() or stop.is_set():
                break
            log.info("Waiting for node %s to be assigned a podCIDR (by the controller manager's nodeipam)", node_name)
            patience = 30.0
        node = nodes.get(node_name) or {}
        return str((node.get("spec") or {}).get("podCIDR") or "") if assigned.is_set() else ""
    finally:
        await nodes.stop()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kubelet task %s failed", task.get_name(), exc_info=task.exception())


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


async def run_agent(client: Client, stop: asyncio.Event, *, node_name: str, node_ip: str, data_dir: Path,
                    containerd: NodeRuntime | str | None = None, config: KubeletConfig | None = None,
                    **overrides: Any) -> None:
    """Run a node agent until ``stop``. ``containerd``: None starts our own, a string is the endpoint of
    an existing CRI runtime, a :class:`NodeRuntime` is used as is (and not stopped). ``overrides`` are
    :class:`KubeletConfig` fields."""
    if config is None:
        overrides.setdefault("offline_images", offline_images())
        config = KubeletConfig.for_data_dir(node_name, node_ip, data_dir, **overrides)
    owns = not isinstance(containerd, NodeRuntime)
    manage_network = False
    if isinstance(containerd, NodeRuntime):
        runtime = containerd
    else:
        # our bridge network unless an operator's CNI is configured (the conflist waits for the pod range)
        manage_network = await asyncio.to_thread(cni.foreign_config, config.cni_conf_dir) is None
        if manage_network:
            await asyncio.to_thread(cni.prepare_bridge, config.cni_bridge)
        runtime = await bootstrap.bring_up(RuntimeOptions(data_dir, container_runtime_endpoint=containerd or "",
                                                          cni_conf_dir=config.cni_conf_dir,
                                                          registries=config.registries))
    managed = runtime.managed
    if managed is not None and managed.host_fixes.restrict_oom_score_adj and config.min_oom_score_adj < 0:
        from dataclasses import replace

        config = replace(config, min_oom_score_adj=0)
    await Agent(client, config, runtime, owns_runtime=owns, manage_network=manage_network).run(stop)
