"""Ending a pod on the node: stop its containers gracefully, stop its sandbox, then clean up after it.

Role: the pod worker calls :func:`kill_pod` when a pod is deleted (grace period from the deletion),
when it reached a terminal phase (only sidecars or leftovers remain) or when it is orphaned, and
:func:`cleanup_pod` once the pod is gone from the API (or at start-up for leftovers): remove
containers and sandboxes, the ``/var/log/containers`` links, the pod's log directory, its volumes
(unmounting tmpfs), its pod directory and its cgroup directories. Regular containers stop in parallel,
then sidecars in reverse order, as in Kubernetes 1.32.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

from kybernetes.kubelet import cgroups, lifecycle, logrotation, podstate, sandbox
from kybernetes.kubelet.containers import log_symlink_path
from kybernetes.kubelet.context import KubeletContext
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime
from kybernetes.kubelet.status import is_sidecar
from kybernetes.runtime import criconfig, errors

__all__ = ["cleanup_pod", "gc_dead", "kill_containers", "kill_pod"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def _spec_of(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if c.get("name") == name:
            return dict(c)
    return None


async def kill_containers(kc: KubeletContext, pod: Obj, victims: list[ContainerInfo], grace: int,
                          pod_ip: str = "") -> None:
    """Stop ``victims`` (running ones get the Killing event and preStop) in parallel."""
    async def one(c: ContainerInfo) -> None:
        try:
            await lifecycle.kill_container(kc.runtime, kc.record, pod, _spec_of(pod, c.name), c.id, name=c.name,
                                           running=c.state == podstate.RUNNING, grace=grace, pod_ip=pod_ip)
        except errors.CRIError as e:
            log.warning("stopping container %s of %s: %s", c.name, lifecycle.format_pod(pod), e)

    await asyncio.gather(*(one(c) for c in victims if c.state in (podstate.RUNNING, podstate.CREATED)))


async def kill_pod(kc: KubeletContext, pod: Obj, grace_override: int | None = None) -> PodRuntime:
    """Stop every container (regular first, then sidecars last-to-first) and every sandbox of ``pod``."""
    uid = pod["metadata"]["uid"]
    rt = await kc.pleg.pod(uid)
    grace = lifecycle.grace_period(pod, grace_override)
    spec = pod.get("spec") or {}
    sidecars = [c.get("name") for c in spec.get("initContainers") or [] if is_sidecar(c)]
    running = [c for c in rt.containers if c.state in (podstate.RUNNING, podstate.CREATED)]
    first = [c for c in running if c.name not in sidecars]
    await kill_containers(kc, pod, first, grace, rt.pod_ip)
    for name in reversed(sidecars):
        await kill_containers(kc, pod, [c for c in running if c.name == name], grace, rt.pod_ip)
    for sb in rt.sandboxes:
        if sb.ready:
            try:
                await sandbox.stop(kc.runtime, sb.id)
            except errors.CRIError as e:
                log.warning("stopping sandbox of %s: %s", lifecycle.format_pod(pod), e)
    return await kc.pleg.pod(uid)


async def gc_dead(kc: KubeletContext, pod: Obj, rt: PodRuntime, keep: int = 2) -> None:
    """Remove exited containers beyond the newest ``keep`` attempts of each container (their logs and
    ``/var/log/containers`` links too), and stopped sandboxes older than the newest one that no longer
    hold containers — like the kubelet's container GC while a pod lives."""
    md = pod["metadata"]
    removed: list[str] = []
    for name in {c.name for c in rt.containers}:
        for c in rt.of(name)[keep:]:
            if c.state != podstate.EXITED:
                continue
            try:
                await kc.runtime.remove_container(c.id)
            except errors.CRIError as e:
                log.debug("removing dead container %s: %s", c.id[:12], e)
                continue
            removed.append(c.id)
            link = log_symlink_path(kc.cfg.containers_log_dir, md.get("name", ""), md.get("namespace") or "default",
                                    c.name, c.id)
            await asyncio.to_thread(link.unlink, True)
            if c.log_path:
                await asyncio.to_thread(logrotation.remove_logs, c.log_path)
    kc.pleg.forget(removed)
    holding = {c.sandbox_id for c in rt.containers if c.id not in removed}
    for sb in rt.sandboxes[1:]:
        if not sb.ready and sb.id not in holding:
            with contextlib.suppress(errors.CRIError):
                await sandbox.remove(kc.runtime, sb.id)


async def cleanup_pod(kc: KubeletContext, uid: str, pod: Obj | None = None) -> None:
    """Remove everything the node still holds for pod ``uid`` (its containers must be stopped)."""
    await kc.probes.stop_pod(uid)
    rt = await kc.pleg.pod(uid)
    name, namespace = rt.name, rt.namespace
    if pod is not None:
        name, namespace = pod["metadata"].get("name", name), pod["metadata"].get("namespace", namespace)
    for c in rt.containers:
        with contextlib.suppress(errors.NotFoundError):
            await kc.runtime.remove_container(c.id)
        link = log_symlink_path(kc.cfg.containers_log_dir, name, namespace, c.name, c.id)
        await asyncio.to_thread(link.unlink, True)
    kc.pleg.forget(c.id for c in rt.containers)
    for sb in rt.sandboxes:
        try:
            await sandbox.stop(kc.runtime, sb.id)
            await sandbox.remove(kc.runtime, sb.id)
        except errors.CRIError as e:
            log.warning("removing sandbox %s of pod %s: %s", sb.id[:12], uid, e)
    await kc.volumes.teardown(uid)
    await asyncio.to_thread(shutil.rmtree, kc.cfg.pod_dir(uid), True)
    if name:
        log_dir = Path(criconfig.pod_log_directory(namespace or "default", name, uid, str(kc.cfg.pod_logs_root)))
        await asyncio.to_thread(shutil.rmtree, log_dir, True)
    busy = await asyncio.to_thread(cgroups.remove_pod_cgroups, kc.cfg.cgroup_root, uid)
    if busy:
        log.debug("cgroups of pod %s still busy: %s", uid, busy)
    kc.backoff.forget_prefix(uid)
