"""The real node: registration with the host's capacity, Lease heartbeats and periodic node status.

Role: :mod:`.agent` creates a :class:`NodeAgent` once the runtime is up and the kubelet server listens,
calls :meth:`NodeAgent.register`, then runs :meth:`NodeAgent.run` beside the pod workers. The Node
object is :mod:`.nodestatus`'s (shared with the hollow kubelet) filled with what this host has: CPUs,
memory (``MemTotal``), ephemeral storage (the data directory's filesystem), 110 pods; allocatable keeps
back the kubelet's default hard-eviction thresholds (100Mi memory, 10 % of storage). Ready follows the
runtime's RuntimeReady/NetworkReady; the pressure conditions follow the ``pressure`` callable (the
agent's :class:`~.pressure.PressureTracker`). The Lease in ``kube-node-lease`` is renewed every 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.errors import AlreadyExistsError, ApiError, ConflictError, NotFoundError
from kybernetes.client.rest import LEASES, NODES, Client
from kybernetes.kubelet import nodestatus
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.nodestatus import NodeConfig

__all__ = ["CONTROL_PLANE_LABEL", "NodeAgent", "host_capacity"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EVICTION_MEMORY = 100 * 1024 * 1024


def _mem_total() -> int:
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def host_capacity(data_dir: Path) -> tuple[int, int, int]:
    """(cpus, memory bytes, bytes of the data directory's filesystem) of this host (blocking)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    st = os.statvfs(data_dir)
    return cpus, _mem_total(), st.f_blocks * st.f_frsize


def _ki(n: int) -> str:
    return f"{n // 1024}Ki"


class NodeAgent:
    """Registers the node and keeps it (and its Lease) fresh."""

    def __init__(self, client: Client, cfg: KubeletConfig, *, kubelet_port: int, runtime_version: str,
                 runtime_ready: Callable[[], Awaitable[tuple[bool, str]]],
                 pressure: Callable[[], frozenset[str]] = frozenset) -> None:
        self.client = client
        self.pressure = pressure
        self.cfg = cfg
        self.kubelet_port = kubelet_port
        self.runtime_version = runtime_version
        self.runtime_ready = runtime_ready
        self.node: Obj | None = None
        self.lease: Obj | None = None
        self.node_config: NodeConfig | None = None
        self.memory_capacity = 0
        self.allocatable: dict[str, str] = {}

    async def _node_config(self) -> NodeConfig:
        cpus, memory, storage = await asyncio.to_thread(host_capacity, self.cfg.data_dir)
        self.memory_capacity = memory
        labels = dict(self.cfg.labels)
        if self.cfg.control_plane:
            labels[CONTROL_PLANE_LABEL] = "true"
        reserved = {"memory": _ki(EVICTION_MEMORY), "ephemeral-storage": _ki(storage // 10)}
        return NodeConfig(self.cfg.node_name, self.cfg.node_ip, cpu=str(cpus), memory=_ki(memory),
                          pods=self.cfg.max_pods, ephemeral_storage=_ki(storage), labels=labels,
                          os_image=await asyncio.to_thread(_os_image),
                          container_runtime_version=self.runtime_version, reserved=reserved)

    async def _status(self, now: str) -> Obj:
        assert self.node_config is not None
        ncfg = self.node_config
        transitions = nodestatus.transition_times(self.node or {})
        status = nodestatus.node_status(ncfg, now, transitions, self.pressure())
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self.kubelet_port}}
        ok, message = await self.runtime_ready()
        if not ok:
            for c in status["conditions"]:
                if c["type"] == "Ready":
                    prev_status, since = transitions.get("Ready", ("", ""))
                    c.update(status="False", reason="KubeletNotReady", message=message,
                             lastTransitionTime=since if prev_status == "False" and since else now)
        self.allocatable = dict(status["allocatable"])
        return status

    async def register(self) -> Obj:
        """Create the Node (or adopt the existing one) and its Lease."""
        self.node_config = await self._node_config()
        body = nodestatus.build_node(self.node_config)
        now = format_time()
        body["status"] = await self._status(now)
        try:
            self.node = await self.client.create(NODES, body)
            log.info("Registered node %s", self.cfg.node_name)
        except AlreadyExistsError:
            self.node = await self.client.get(NODES, self.cfg.node_name)
            labels = body["metadata"]["labels"]
            self.node = await self.client.patch(NODES, self.cfg.node_name, {"metadata": {"labels": labels}})
            await self.post_status()
            log.info("Node %s already registered; updated it", self.cfg.node_name)
        await self.renew_lease()
        return self.node

    async def post_status(self) -> None:
        status = await self._status(format_time())
        try:
            self.node = await self.client.patch(NODES, self.cfg.node_name, {"status": status}, subresource="status")
        except (ApiError, OSError, TimeoutError) as e:
            log.warning("posting status of node %s failed: %s", self.cfg.node_name, e)

    async def renew_lease(self) -> None:
        if self.node is None:
            return
        now = format_time(micro=True)
        try:
            if self.lease is None:
                try:
                    self.lease = await self.client.create(
                        LEASES, nodestatus.lease(self.node, self.cfg.lease_duration, now), "kube-node-lease")
                    return
                except AlreadyExistsError:
                    self.lease = await self.client.get(LEASES, self.cfg.node_name, "kube-node-lease")
            spec = {**(self.lease.get("spec") or {}), "renewTime": now, "holderIdentity": self.cfg.node_name,
                    "leaseDurationSeconds": self.cfg.lease_duration}
            self.lease = await self.client.replace(LEASES, {**self.lease, "spec": spec}, "kube-node-lease")
        except (ConflictError, NotFoundError):
            self.lease = None
        except (ApiError, OSError, TimeoutError) as e:
            log.warning("renewing the lease of node %s failed: %s", self.cfg.node_name, e)

    async def run(self, stop: asyncio.Event) -> None:
        """Renew the Lease every ``lease_interval`` and post status every ``status_interval`` until ``stop``."""
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.cfg.status_interval
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.lease_interval)
            if stop.is_set():
                return
            await self.renew_lease()
            if loop.time() >= next_status:
                next_status = loop.time() + self.cfg.status_interval
                await self.post_status()
