"""Lifecycle hooks (postStart, preStop) and the graceful stop of one container.

Role: :mod:`.containers` runs the postStart hook right after StartContainer (a failure records
FailedPostStartHook and kills the container) and calls :func:`kill_container` whenever a container must
go: the Killing event, the preStop hook within the grace period, then CRI StopContainer with what is left
of it (at least 2 s), which sends the image's stop signal and SIGKILL at the deadline. Messages are the
kubelet's. Upstream: pkg/kubelet/lifecycle/handlers.go, pkg/kubelet/kuberuntime/kuberuntime_container.go.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.kubelet import containerref, probes
from kybernetes.kubelet.containerref import EventSink
from kybernetes.runtime import cri, errors

__all__ = ["MIN_GRACE_PERIOD", "format_pod", "grace_period", "kill_container", "run_hook"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MIN_GRACE_PERIOD = 2


def format_pod(pod: Obj) -> str:
    """``name_namespace(uid)``, how the kubelet names a pod in messages."""
    md = pod.get("metadata") or {}
    return f"{md.get('name', '')}_{md.get('namespace', '')}({md.get('uid', '')})"


def grace_period(pod: Obj, override: int | None = None) -> int:
    """The termination grace period: an override, the deletion's, or the spec's (default 30)."""
    if override is not None:
        return override
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if md.get("deletionGracePeriodSeconds") is not None:
        return int(md["deletionGracePeriodSeconds"])
    value = spec.get("terminationGracePeriodSeconds")
    return int(value) if value is not None else 30


async def run_hook(handler: Obj, *, runtime: cri.RuntimeClient, pod: Obj, container: Obj, container_id: str,
                   pod_ip: str, seconds: float) -> str | None:
    """Run a hook once; None on success, else the message of the failure event."""
    name = container.get("name", "")
    if handler.get("exec") is not None:
        command = list((handler["exec"] or {}).get("command") or [])
        try:
            res = await runtime.exec_sync(container_id, command, timeout_seconds=max(int(seconds), 0))
        except errors.CRIError as e:
            err, output = e.details, ""
        else:
            if res.exit_code == 0:
                return None
            output = (res.stdout + res.stderr).decode(errors="replace")
            err = f"command '{' '.join(command)}' exited with {res.exit_code}: {res.stderr.decode(errors='replace')}"
        return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container \"{name}\" in Pod \"{format_pod(pod)}\" "
                f"failed - error: {err}, message: \"{output}\"")
    if handler.get("httpGet") is not None:
        result = await probes.run_handler(handler, runtime=runtime, container_id=container_id, container=container,
                                          pod_ip=pod_ip, seconds=seconds)
        if result.ok:
            return None
        return (f"HTTP lifecycle hook ({handler['httpGet'].get('path', '')}) for Container \"{name}\" in Pod "
                f"\"{format_pod(pod)}\" failed - error: {result.output}")
    if handler.get("sleep") is not None:
        await asyncio.sleep(min(float((handler["sleep"] or {}).get("seconds", 0)), seconds))
        return None
    return f"Unknown lifecycle hook for Container \"{name}\" in Pod \"{format_pod(pod)}\""


async def kill_container(runtime: cri.RuntimeClient, record: EventSink, pod: Obj, container: Obj | None,
                         container_id: str, *, name: str, running: bool, grace: int, message: str = "",
                         pod_ip: str = "") -> None:
    """Stop one container gracefully: Killing event, preStop hook, StopContainer(remaining grace)."""
    where = containerref.field_path(pod, name)
    record(pod, "Normal", "Killing", message or f"Stopping container {name}", where)
    pre_stop = ((container or {}).get("lifecycle") or {}).get("preStop")
    if pre_stop and running:
        t0 = time.monotonic()
        try:
            failure = await asyncio.wait_for(
                run_hook(pre_stop, runtime=runtime, pod=pod, container=container or {}, container_id=container_id,
                         pod_ip=pod_ip, seconds=grace), max(grace, 0.001))
        except TimeoutError:
            failure = None
            log.info("preStop hook of %s/%s did not complete in %ds", format_pod(pod), name, grace)
        if failure:
            record(pod, "Warning", "FailedPreStopHook", failure, where)
        grace -= int(time.monotonic() - t0)
    grace = max(grace, MIN_GRACE_PERIOD)
    try:
        await runtime.stop_container(container_id, grace)
    except errors.NotFoundError:
        pass
