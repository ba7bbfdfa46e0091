"""One sync of one pod: bring the runtime in line with the pod spec, then compute the pod's status.

Role: the pod worker (:mod:`.podworkers`) calls :meth:`PodSyncer.sync` whenever the pod, its containers
or its probe results changed, and at each resync. In order, like the kubelet's SyncPod: volumes; a
sandbox (a new one — and a fresh start of every container — if it is missing or died, except for
``restartPolicy: Never`` pods that already ran); init containers one at a time, each to success (sidecar
init containers started and kept running, the next one waiting for the sidecar's startup probe); then
the regular containers — started, restarted per ``restartPolicy`` with CrashLoopBackOff, killed and
restarted on a failed liveness/startup probe or a changed spec. When every regular container is done for
good the sidecars are stopped and the pod is terminal. The reasons of failed starts (CrashLoopBackOff,
ErrImagePull, …) are remembered per container for the status. Upstream:
pkg/kubelet/kuberuntime/kuberuntime_manager.go (computePodActions, SyncPod).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from kybernetes.kubelet import containers, lifecycle, podstate, resources, sandbox, status, termination
from kybernetes.kubelet.backoff import go_duration
from kybernetes.kubelet.containerref import field_path
from kybernetes.kubelet.containers import SandboxRef, StartError
from kybernetes.kubelet.context import KubeletContext
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime
from kybernetes.kubelet.volumes import VolumeError
from kybernetes.runtime import errors

__all__ = ["PodSyncer", "SyncResult"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
RETRY = 2.0


@dataclass
class SyncResult:
    """What a sync produced: the status to post, when to sync again, whether the pod is finished."""

    status: Obj | None
    requeue_after: float | None = None
    terminal: bool = False


class PodSyncer:
    """Syncs pods against the runtime; keeps the per-container waiting reasons between syncs."""

    def __init__(self, kc: KubeletContext) -> None:
        self.kc = kc
        self.waiting: dict[str, dict[str, tuple[str, str]]] = {}

    def forget(self, uid: str) -> None:
        self.waiting.pop(uid, None)

    def build_status(self, pod: Obj, rt: PodRuntime, terminal: bool = False) -> Obj:
        return status.pod_status(pod, rt, host_ip=self.kc.cfg.node_ip, now=time.time(),
                                 qos_class=resources.qos_class(pod.get("spec") or {}),
                                 waiting=self.waiting.get(pod["metadata"]["uid"], {}),
                                 readiness=self.kc.probes.readiness, startup=self.kc.probes.startup,
                                 terminal=terminal)

    async def sync(self, pod: Obj) -> SyncResult:
        kc, md = self.kc, pod["metadata"]
        uid = md["uid"]
        waiting = self.waiting.setdefault(uid, {})
        rt = await kc.pleg.pod(uid)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            if rt.running() or any(s.ready for s in rt.sandboxes):
                await termination.kill_pod(kc, pod)
            return SyncResult(None, terminal=True)
        try:
            await kc.volumes.setup(pod, [rt.pod_ip] if rt.pod_ip else [])
        except VolumeError as e:
            kc.record(pod, "Warning", "FailedMount", str(e))
            return SyncResult(self.build_status(pod, rt), RETRY)
        ref, rt, retry = await self._ensure_sandbox(pod, rt)
        if ref is None:
            terminal = bool(rt.containers) and not any(s.ready for s in rt.sandboxes)
            return SyncResult(self.build_status(pod, rt, terminal), retry, terminal and retry is None)
        requeue: list[float] = []
        in_sb = PodRuntime(uid, rt.name, rt.namespace, rt.sandboxes,
                           tuple(c for c in rt.containers if c.sandbox_id == ref.id))
        initialized = await self._init_containers(pod, rt, in_sb, ref, waiting, requeue)
        done = False
        if initialized:
            done = await self._regular_containers(pod, rt, in_sb, ref, waiting, requeue)
        rt = await kc.pleg.pod(uid)
        kc.probes.update(pod, rt)
        keep = kc.cfg.container_attempts_kept
        if len(rt.sandboxes) > 1 or any(len(rt.of(n)) > keep for n in {c.name for c in rt.containers}):
            await termination.gc_dead(kc, pod, rt, keep)
        if done:
            rt = await termination.kill_pod(kc, pod)
            return SyncResult(self.build_status(pod, rt, terminal=True), terminal=True)
        st = self.build_status(pod, rt)
        if st["phase"] in ("Succeeded", "Failed"):
            rt = await termination.kill_pod(kc, pod)
            return SyncResult(self.build_status(pod, rt, terminal=True), terminal=True)
        return SyncResult(st, min(requeue) if requeue else None)

    # ---- sandbox ----------------------------------------------------------------------------------

    async def _ensure_sandbox(self, pod: Obj, rt: PodRuntime) -> tuple[SandboxRef | None, PodRuntime, float | None]:
        kc, spec = self.kc, pod.get("spec") or {}
        sb = rt.sandbox
        ready = [s for s in rt.sandboxes if s.ready]
        if sb is not None and sb.ready and len(ready) == 1:
            config = sandbox.sandbox_config(pod, sb.attempt, kc.cfg, kc.host_dns)
            ips = (kc.cfg.node_ip,) if spec.get("hostNetwork") else ((sb.ip,) if sb.ip else ())
            return SandboxRef(sb.id, config, ips), rt, None
        if sb is not None and (spec.get("restartPolicy") or "Always") == "Never" and rt.containers:
            if ready or rt.running():
                await termination.kill_pod(kc, pod)
                rt = await kc.pleg.pod(rt.uid)
            return None, rt, None
        if rt.running() or ready:
            await termination.kill_pod(kc, pod)
        attempt = sb.attempt + 1 if sb is not None else 0
        config = sandbox.sandbox_config(pod, attempt, kc.cfg, kc.host_dns)
        try:
            await sandbox.run(kc.runtime, config)
        except errors.CRIError as e:
            kc.record(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
            return None, await kc.pleg.pod(rt.uid), RETRY
        rt = await kc.pleg.pod(rt.uid)
        sb = rt.sandbox
        if sb is None or not sb.ready:
            return None, rt, RETRY
        ips = (kc.cfg.node_ip,) if spec.get("hostNetwork") else ((sb.ip,) if sb.ip else ())
        return SandboxRef(sb.id, config, ips), rt, None

    # ---- containers -------------------------------------------------------------------------------

    def _key(self, pod: Obj, ctr: Obj) -> str:
        return f"{pod['metadata']['uid']}/{ctr.get('name')}/{containers.container_hash(ctr)}"

    async def _start(self, pod: Obj, ctr: Obj, rt: PodRuntime, ref: SandboxRef, waiting: dict[str, tuple[str, str]],
                     requeue: list[float], latest: ContainerInfo | None) -> bool:
        """Start ``ctr`` unless it is backing off; True when it was started."""
        name = ctr.get("name", "")
        if latest is not None and latest.state == podstate.EXITED:
            key = self._key(pod, ctr)
            backoff = self.kc.backoff
            if backoff.in_backoff_since(key, latest.finished_at):
                fp = lifecycle.format_pod(pod)
                self.kc.record(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {fp}",
                               field_path(pod, name))
                waiting[name] = ("CrashLoopBackOff", f"back-off {go_duration(backoff.get(key))} restarting failed "
                                                     f"container={name} pod={fp}")
                requeue.append(max(backoff.remaining(key, latest.finished_at), 0.05))
                return False
            backoff.next(key, latest.finished_at)
        attempts = rt.of(name)
        restart_count = attempts[0].attempt + 1 if attempts else 0
        try:
            await containers.start_container(self.kc, pod, ctr, ref, restart_count)
        except StartError as e:
            waiting[name] = (e.reason, e.message)
            requeue.append(min(self.kc.cfg.backoff_base, 10.0) if e.reason != "PostStartHookError" else 0.5)
            return False
        waiting.pop(name, None)
        return True

    async def _check_running(self, pod: Obj, ctr: Obj, cur: ContainerInfo, restart: bool) -> bool:
        """Kill a running container whose liveness/startup probe failed or whose spec changed; True if killed."""
        name = ctr.get("name", "")
        failed = self.kc.probes.failed(cur.id)
        if cur.hash and cur.hash != containers.container_hash(ctr):
            message = f"Container {name} definition changed"
            why = ""
        elif failed is not None:
            message = f"Container {name} failed {failed} probe"
            why = failed
        else:
            return False
        suffix = ", will be restarted" if restart else ""
        pod_ip = (pod.get("status") or {}).get("podIP", "")
        probe = ctr.get(f"{why}Probe") or {} if why else {}
        grace = lifecycle.grace_period(pod, probe.get("terminationGracePeriodSeconds"))
        await lifecycle.kill_container(self.kc.runtime, self.kc.record, pod, ctr, cur.id, name=name, running=True,
                                       grace=grace, message=message + suffix, pod_ip=pod_ip)
        return True

    async def _init_containers(self, pod: Obj, rt: PodRuntime, in_sb: PodRuntime, ref: SandboxRef,
                               waiting: dict[str, tuple[str, str]], requeue: list[float]) -> bool:
        """Advance the init containers; True when all are done (sidecars started)."""
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        regular_started = any(in_sb.latest(c.get("name", "")) for c in spec.get("containers") or [])
        for ctr in spec.get("initContainers") or []:
            name = ctr.get("name", "")
            latest = in_sb.latest(name)
            if status.is_sidecar(ctr):
                if latest is not None and latest.state == podstate.RUNNING:
                    if await self._check_running(pod, ctr, latest, True):
                        await self._start(pod, ctr, rt, ref, waiting, requeue, None)
                        return False
                    if ctr.get("startupProbe") and not self.kc.probes.startup.get(latest.id):
                        if not regular_started:
                            return False
                    continue
                started = await self._start(pod, ctr, rt, ref, waiting, requeue, latest)
                if (not started or ctr.get("startupProbe")) and not regular_started:
                    return False
                continue
            if latest is None:
                if regular_started:
                    continue
                await self._start(pod, ctr, rt, ref, waiting, requeue, None)
                return False
            if latest.state in (podstate.RUNNING, podstate.CREATED):
                return False
            if latest.exit_code == 0:
                continue
            if policy == "Never":
                return False
            await self._start(pod, ctr, rt, ref, waiting, requeue, latest)
            return False
        return True

    async def _regular_containers(self, pod: Obj, rt: PodRuntime, in_sb: PodRuntime, ref: SandboxRef,
                                  waiting: dict[str, tuple[str, str]], requeue: list[float]) -> bool:
        """Start/restart/kill regular containers; True when all are finished for good."""
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        finished = True
        for ctr in (pod.get("spec") or {}).get("containers") or []:
            name = ctr.get("name", "")
            latest = in_sb.latest(name)
            if latest is not None and latest.state == podstate.RUNNING:
                finished = False
                if await self._check_running(pod, ctr, latest, policy != "Never") and policy != "Never":
                    await self._start(pod, ctr, rt, ref, waiting, requeue, None)
                continue
            if latest is not None and latest.state == podstate.CREATED:
                await termination.kill_containers(self.kc, pod, [latest], 0)
                latest = None
            if status.should_restart(ctr, latest, policy):
                finished = False
                await self._start(pod, ctr, rt, ref, waiting, requeue, latest)
        return finished
