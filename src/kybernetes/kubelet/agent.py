"""The node agent (the real kubelet), composed: runtime, kubelet server, Node + Lease, pod workers.

Role: ``kyb agent`` (and later ``kyb server``'s embedded agent) calls :func:`run_agent`. Straight-line
start, each step logged: CNI conflist (if none) → containerd (ours, an existing endpoint, or a
:class:`~kybernetes.runtime.NodeRuntime` handed in) with its offline images → kubelet server → Node
registration → pod and service informers → PLEG and pod workers. Pods already running in containerd
are adopted by their workers (nothing is restarted); runtime pods no API pod claims are removed. On
``stop`` every task ends; pods keep running, and our containerd is stopped (its shims survive).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer
from kybernetes.client.rest import PODS, SERVICES, Client
from kybernetes.kubelet import cni, dns, node, podworkers
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.context import ApiObjects, KubeletContext
from kybernetes.kubelet.images import ImageManager
from kybernetes.kubelet.pleg import PLEG
from kybernetes.kubelet.prober import ProbeManager
from kybernetes.kubelet.server import KubeletServer
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

    def __init__(self, client: Client, cfg: KubeletConfig, runtime: NodeRuntime, *, owns_runtime: bool) -> None:
        self.client = client
        self.cfg = cfg
        self.node_runtime = runtime
        self.owns_runtime = owns_runtime
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
                                  host_ip=cfg.node_ip),
            objects=objects, services=self.services.list, probes=self.probes,
            backoff=Backoff(cfg.backoff_base, cfg.backoff_max), pleg=self.pleg, host_dns=dns.DNSSettings())
        self.workers = podworkers.PodWorkers(self.kc, client)
        self.server = KubeletServer(cfg, self.workers.pod_by_name, rt)
        self.node: node.NodeAgent | None = None
        self.ready = asyncio.Event()

    def record(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        """Queue an event about ``pod`` (from ``kubelet``, ``source.host`` = the node)."""
        ref = {"apiVersion": "v1", "kind": "Pod", **pod}
        self.recorder.record(ref, type_, reason, message)

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

    async def start(self) -> None:
        """Everything up to "pods are being synced"."""
        self.recorder.start()
        self.kc.host_dns = dns.parse_resolv_conf(await asyncio.to_thread(_read, self.cfg.host_resolv_conf))
        version = await self.node_runtime.client.version()
        port = await self.server.start()
        self.node = node.NodeAgent(self.client, self.cfg, kubelet_port=port,
                                   runtime_version=f"{version.runtime_name}://{version.runtime_version}",
                                   runtime_ready=self._runtime_ready)
        await self.node.register()
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
            await self.start()
            assert self.node is not None
            tasks = [asyncio.create_task(self.pleg.run(stop), name="kubelet-pleg"),
                     asyncio.create_task(self.node.run(stop), name="kubelet-node-status"),
                     asyncio.create_task(self._housekeeping(stop), name="kubelet-housekeeping")]
            for t in tasks:
                t.add_done_callback(_log_failure)
            await stop.wait()
        finally:
            await self.shutdown(tasks)

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
    if isinstance(containerd, NodeRuntime):
        runtime = containerd
    else:
        written = await asyncio.to_thread(cni.ensure_conflist, config.cni_conf_dir, config.cni_bridge,
                                          config.pod_cidr, config.agent_dir / "cni" / "ipam")
        if written is not None:
            log.info("Wrote CNI configuration %s (bridge %s, pods %s)", written, config.cni_bridge, config.pod_cidr)
        runtime = await bootstrap.bring_up(RuntimeOptions(data_dir, container_runtime_endpoint=containerd or "",
                                                          cni_conf_dir=config.cni_conf_dir))
    managed = runtime.managed
    if managed is not None and managed.host_fixes.restrict_oom_score_adj and config.min_oom_score_adj < 0:
        from dataclasses import replace

        config = replace(config, min_oom_score_adj=0)
    await Agent(client, config, runtime, owns_runtime=owns).run(stop)
