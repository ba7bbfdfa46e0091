"""Pod lifecycle event generator: the kubelet's view of the runtime, refreshed by relisting.

Role: containerd 1.6 does not implement CRI GetContainerEvents, so :class:`PLEG` relists sandboxes
and containers every ``period`` (1 s) and calls ``on_change(uid)`` for every pod whose sandboxes or
containers appeared, vanished or changed state; the pod workers then sync that pod. :meth:`PLEG.pod`
reads one pod fresh (what a sync starts from) into a :class:`.podstate.PodRuntime`. Statuses of exited
containers never change, so they are read once and cached; for them the termination message is read
from the container's termination-log file (or, with ``FallbackToLogsOnError``, from its log tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from kybernetes.kubelet import logs, podstate
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime, SandboxInfo
from kybernetes.runtime import cri, criconfig, errors
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["PLEG", "container_info", "sandbox_info"]

log = logging.getLogger(__name__)

_STATES = {api.CONTAINER_CREATED: podstate.CREATED, api.CONTAINER_RUNNING: podstate.RUNNING,
           api.CONTAINER_EXITED: podstate.EXITED}
MAX_MESSAGE_BYTES = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048


def _sec(ns: int) -> float:
    return ns / 1e9 if ns > 0 else 0.0


def sandbox_info(sb: api.PodSandbox, status: api.PodSandboxStatus | None) -> SandboxInfo:
    """A :class:`SandboxInfo` from ListPodSandbox (+ PodSandboxStatus for the IP)."""
    ip, host_network = "", False
    if status is not None:
        ip = status.network.ip
        host_network = status.linux.namespaces.options.network == api.NODE
    return SandboxInfo(id=sb.id, ready=sb.state == api.SANDBOX_READY, attempt=sb.metadata.attempt,
                       created_at=_sec(sb.created_at), ip=ip, host_network=host_network)


def container_info(c: api.Container, st: api.ContainerStatus | None, message: str = "") -> ContainerInfo:
    """A :class:`ContainerInfo` from ListContainers (+ ContainerStatus for exit code and times)."""
    state = _STATES.get(c.state, podstate.UNKNOWN)
    spec_image = c.annotations.get(podstate.CONTAINER_IMAGE_ANNOTATION, "")
    info = ContainerInfo(id=c.id, name=c.metadata.name, attempt=c.metadata.attempt, state=state,
                         sandbox_id=c.pod_sandbox_id, created_at=_sec(c.created_at), image=spec_image or c.image.image,
                         image_ref=c.image_ref, hash=c.annotations.get(podstate.CONTAINER_HASH_ANNOTATION, ""))
    if st is None:
        return info
    return ContainerInfo(
        id=info.id, name=info.name, attempt=info.attempt, state=_STATES.get(st.state, podstate.UNKNOWN),
        sandbox_id=info.sandbox_id, created_at=_sec(st.created_at) or info.created_at,
        started_at=_sec(st.started_at), finished_at=_sec(st.finished_at), exit_code=st.exit_code,
        reason=st.reason, message=message or st.message, image=spec_image or st.image.image or info.image,
        image_ref=st.image_ref or info.image_ref, hash=info.hash, log_path=st.log_path)


def _read_limited(path: str, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode(errors="replace")


def termination_message(st: api.ContainerStatus) -> str:
    """The message an exited container left (termination-log file, or its log tail on error)."""
    target = st.annotations.get(podstate.TERMINATION_MESSAGE_PATH_ANNOTATION, "")
    message = ""
    if target:
        for m in st.mounts:
            if m.container_path == target:
                with contextlib.suppress(OSError):
                    message = _read_limited(m.host_path, MAX_MESSAGE_BYTES)
                break
    policy = st.annotations.get(podstate.TERMINATION_MESSAGE_POLICY_ANNOTATION, "")
    if not message and policy == "FallbackToLogsOnError" and st.exit_code != 0 and st.log_path:
        with contextlib.suppress(OSError):
            message = logs.tail_text(Path(st.log_path), FALLBACK_LINES, FALLBACK_BYTES)
    return message


class PLEG:
    """Relists the runtime and notifies pod workers of changes."""

    def __init__(self, runtime: cri.RuntimeClient, on_change: Callable[[str], None], *, period: float = 1.0) -> None:
        self.runtime = runtime
        self.on_change = on_change
        self.period = period
        self._exited: dict[str, ContainerInfo] = {}
        self._sandbox_status: dict[str, api.PodSandboxStatus] = {}
        self._seen: dict[str, dict[str, int]] = {}  # uid → {sandbox/container id: state}
        self.relisted = asyncio.Event()

    async def _container(self, c: api.Container) -> ContainerInfo:
        cached = self._exited.get(c.id)
        if cached is not None:
            return cached
        try:
            st = await self.runtime.container_status(c.id)
        except errors.NotFoundError:
            return container_info(c, None)
        message = await asyncio.to_thread(termination_message, st) if st.state == api.CONTAINER_EXITED else ""
        info = container_info(c, st, message)
        if info.state == podstate.EXITED:
            self._exited[c.id] = info
        return info

    async def _sandbox(self, sb: api.PodSandbox) -> SandboxInfo:
        status = self._sandbox_status.get(sb.id)
        if status is None or status.state != sb.state:
            try:
                status = (await self.runtime.pod_sandbox_status(sb.id)).status
                self._sandbox_status[sb.id] = status
            except errors.NotFoundError:
                status = None
        return sandbox_info(sb, status)

    async def _build(self, uid: str, sandboxes: Iterable[api.PodSandbox],
                     containers: Iterable[api.Container]) -> PodRuntime:
        sbs = sorted(sandboxes, key=lambda s: s.created_at, reverse=True)
        ctrs = sorted(containers, key=lambda c: c.created_at, reverse=True)
        name = namespace = ""
        if sbs:
            name, namespace = sbs[0].metadata.name, sbs[0].metadata.namespace
        return PodRuntime(uid=uid, name=name, namespace=namespace,
                          sandboxes=tuple([await self._sandbox(s) for s in sbs]),
                          containers=tuple([await self._container(c) for c in ctrs]))

    async def pod(self, uid: str) -> PodRuntime:
        """A fresh view of pod ``uid``."""
        labels = {criconfig.POD_UID_LABEL: uid}
        sandboxes = await self.runtime.list_pod_sandbox(labels=labels)
        containers = await self.runtime.list_containers(labels=labels)
        return await self._build(uid, sandboxes, containers)

    async def all_pods(self) -> dict[str, PodRuntime]:
        """Every pod the runtime knows (by UID label)."""
        sandboxes = await self.runtime.list_pod_sandbox()
        containers = await self.runtime.list_containers()
        by_uid: dict[str, tuple[list[api.PodSandbox], list[api.Container]]] = {}
        for s in sandboxes:
            uid = s.labels.get(criconfig.POD_UID_LABEL)
            if uid:
                by_uid.setdefault(uid, ([], []))[0].append(s)
        for c in containers:
            uid = c.labels.get(criconfig.POD_UID_LABEL)
            if uid:
                by_uid.setdefault(uid, ([], []))[1].append(c)
        return {uid: await self._build(uid, sbs, ctrs) for uid, (sbs, ctrs) in by_uid.items()}

    async def relist(self) -> None:
        """List everything once and notify the pods whose runtime state changed."""
        sandboxes = await self.runtime.list_pod_sandbox()
        containers = await self.runtime.list_containers()
        now: dict[str, dict[str, int]] = {}
        for s in sandboxes:
            uid = s.labels.get(criconfig.POD_UID_LABEL)
            if uid:
                now.setdefault(uid, {})[s.id] = int(s.state)
        for c in containers:
            uid = c.labels.get(criconfig.POD_UID_LABEL)
            if uid:
                now.setdefault(uid, {})[c.id] = 100 + int(c.state)
        live = {c.id for c in containers}
        for cid in [k for k in self._exited if k not in live]:
            del self._exited[cid]
        live_sb = {s.id for s in sandboxes}
        for sid in [k for k in self._sandbox_status if k not in live_sb]:
            del self._sandbox_status[sid]
        changed = [uid for uid in set(now) | set(self._seen) if now.get(uid) != self._seen.get(uid)]
        self._seen = now
        for uid in changed:
            self.on_change(uid)
        self.relisted.set()

    def known_uids(self) -> set[str]:
        """UIDs seen at the last relist."""
        return set(self._seen)

    async def runtime_uids(self) -> set[str]:
        """UIDs that have a sandbox or a container in the runtime right now (a fresh listing)."""
        sandboxes = await self.runtime.list_pod_sandbox()
        containers = await self.runtime.list_containers()
        labels = [*(s.labels for s in sandboxes), *(c.labels for c in containers)]
        return {lab[criconfig.POD_UID_LABEL] for lab in labels if criconfig.POD_UID_LABEL in lab}

    def forget(self, container_ids: Iterable[str]) -> None:
        for cid in container_ids:
            self._exited.pop(cid, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Relist every ``period`` until ``stop``."""
        while not stop.is_set():
            try:
                await self.relist()
            except errors.CRIError as e:
                log.warning("PLEG relist failed: %s", e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)
