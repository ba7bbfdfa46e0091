"""``pod.status`` from the pod spec and what the runtime reports, computed like the kubelet of Kubernetes 1.32.

Role: after every sync the pod worker calls :func:`pod_status` with the runtime's view of the pod
(:class:`.podstate.PodRuntime`), the probe results, and the waiting reasons its last start attempt
left (CrashLoopBackOff, ErrImagePull, …); :mod:`.podworkers` PATCHes the result to ``pods/<name>/status``.
Pure functions, no I/O. Upstream: pkg/kubelet/kubelet_pods.go (getPhase, convertToAPIContainerStatuses)
and pkg/kubelet/status/generate.go (conditions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.kubelet import podstate
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime

__all__ = [
    "CONTAINER_CREATING",
    "POD_INITIALIZING",
    "container_statuses",
    "get_phase",
    "is_sidecar",
    "pod_status",
    "should_restart",
]

Obj = dict[str, Any]
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def is_sidecar(container: Obj) -> bool:
    """A restartable init container (``restartPolicy: Always`` on an init container)."""
    return container.get("restartPolicy") == "Always"


def should_restart(container: Obj, latest: ContainerInfo | None, restart_policy: str, *, init: bool = False) -> bool:
    """Whether the pod worker would (re)start this container: never started, or exited and the policy
    (the pod's, or Always for a sidecar; init containers only restart on failure) says so."""
    if latest is None:
        return True
    if latest.state in (podstate.RUNNING, podstate.CREATED):
        return False
    if latest.state != podstate.EXITED:
        return True
    if init and is_sidecar(container):
        return True
    if init:
        return latest.exit_code != 0 and restart_policy != "Never"
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return latest.exit_code != 0
    return True


def _terminated(c: ContainerInfo) -> Obj:
    out: Obj = {"exitCode": c.exit_code, "startedAt": format_time(c.started_at) if c.started_at else None,
                "finishedAt": format_time(c.finished_at) if c.finished_at else None, "containerID": c.container_id}
    if c.reason:
        out["reason"] = c.reason
    if c.message:
        out["message"] = c.message
    return out


def _state(c: ContainerInfo) -> Obj:
    if c.state == podstate.RUNNING:
        return {"running": {"startedAt": format_time(c.started_at or c.created_at)}}
    if c.state == podstate.EXITED:
        return {"terminated": _terminated(c)}
    return {"waiting": {}}


def _volume_mounts(spec: Obj) -> list[Obj]:
    out = []
    for m in spec.get("volumeMounts") or []:
        vm: Obj = {"name": m.get("name"), "mountPath": m.get("mountPath")}
        if m.get("readOnly"):
            vm.update(readOnly=True, recursiveReadOnly="Disabled")
        out.append(vm)
    return out


def container_statuses(pod: Obj, rt: PodRuntime, containers: list[Obj], old: list[Obj], *, init: bool,
                       waiting: Mapping[str, tuple[str, str]], readiness: Mapping[str, bool],
                       startup: Mapping[str, bool]) -> list[Obj]:
    """``containerStatuses`` (or ``initContainerStatuses`` with ``init``) for ``containers``."""
    spec = pod.get("spec") or {}
    has_init = bool(spec.get("initContainers"))
    policy = spec.get("restartPolicy") or "Always"
    default_reason = POD_INITIALIZING if has_init else CONTAINER_CREATING
    old_by_name = {s.get("name"): s for s in old}
    out: list[Obj] = []
    for ctr in containers:
        name = ctr.get("name", "")
        prev = old_by_name.get(name) or {}
        attempts = rt.of(name)
        status: Obj = {"name": name, "image": ctr.get("image", ""), "imageID": "", "ready": False,
                       "restartCount": int(prev.get("restartCount") or 0), "started": False,
                       "state": {"waiting": {"reason": default_reason}}, "lastState": prev.get("lastState") or {}}
        if not attempts and "terminated" in (prev.get("state") or {}):
            status = {**prev}
        if attempts:
            cur = attempts[0]
            status.update(image=cur.image or ctr.get("image", ""), imageID=cur.image_ref,
                          containerID=cur.container_id, restartCount=cur.attempt, state=_state(cur))
            if len(attempts) > 1:
                status["lastState"] = _state(attempts[1])
            running = cur.state == podstate.RUNNING
            started = running and (startup.get(cur.id, False) if ctr.get("startupProbe") else True)
            if ctr.get("readinessProbe"):
                ready = started and readiness.get(cur.id, False)
            else:
                ready = started
            if init and not is_sidecar(ctr):
                ready = cur.state == podstate.EXITED and cur.exit_code == 0
            status.update(ready=ready, started=started)
        reason = waiting.get(name)
        latest = attempts[0] if attempts else None
        skip = init and latest is not None and latest.state == podstate.EXITED and latest.exit_code == 0 \
            and not is_sidecar(ctr)
        if reason is not None and not skip and should_restart(ctr, latest, policy, init=init):
            if "terminated" in status["state"]:
                status["lastState"] = status["state"]
            waiting_state: Obj = {"reason": reason[0]}
            if reason[1]:
                waiting_state["message"] = reason[1]
            status.update(state={"waiting": waiting_state}, ready=False, started=False)
        mounts = _volume_mounts(ctr)
        if mounts:
            status["volumeMounts"] = mounts
        out.append(status)
    if not init:
        out.sort(key=lambda s: s["name"])
    return out


def _started(status: Obj) -> bool:
    return bool(status.get("started"))


def _any_regular_started(spec: Obj, statuses: Mapping[str, Obj]) -> bool:
    """A regular container is running, terminated, or waiting after having terminated."""
    for c in spec.get("containers") or []:
        st = statuses.get(c.get("name", "")) or {}
        state, last = st.get("state") or {}, st.get("lastState") or {}
        if "running" in state or "terminated" in state or ("waiting" in state and "terminated" in last):
            return True
    return False


def get_phase(spec: Obj, statuses: Mapping[str, Obj], terminal: bool) -> str:
    """The pod phase from its container statuses (upstream ``getPhase``)."""
    pending_init = failed_init = 0
    for c in spec.get("initContainers") or []:
        st = statuses.get(c.get("name", ""))
        if is_sidecar(c):
            continue
        state = (st or {}).get("state") or {}
        last = (st or {}).get("lastState") or {}
        if st is None or "running" in state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"].get("exitCode", 0) != 0
        elif "waiting" in state and "terminated" in last:
            failed_init += last["terminated"].get("exitCode", 0) != 0
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        if not is_sidecar(c):
            continue
        st = statuses.get(c.get("name", ""))
        if st is None:
            unknown += 1
            continue
        state, last = st.get("state") or {}, st.get("lastState") or {}
        if "running" in state:
            pending_init += not _started(st)
            running += 1
        elif "waiting" in state and "terminated" not in last:
            pending_init += 1
            waiting += 1
    for c in spec.get("containers") or []:
        st = statuses.get(c.get("name", ""))
        if st is None:
            unknown += 1
            continue
        state, last = st.get("state") or {}, st.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = spec.get("restartPolicy") or "Always"
    if failed_init and policy == "Never":
        return "Failed"
    if (pending_init and not _any_regular_started(spec, statuses)) or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _conditions(spec: Obj, statuses: Mapping[str, Obj], phase: str, sandbox_ready: bool) -> list[tuple[str, bool, str, str]]:
    """(type, ok, reason, message) of the four kubelet-computed conditions, in upstream order."""
    init = spec.get("initContainers") or []
    incomplete = [c.get("name", "") for c in init if c.get("name") in statuses and not (
        _started(statuses[c["name"]]) if is_sidecar(c) else statuses[c["name"]].get("ready"))]
    unknown_init = [c.get("name", "") for c in init if c.get("name") not in statuses]
    if phase == "Succeeded" and not unknown_init:
        initialized = (True, "PodCompleted", "")
    elif _any_regular_started(spec, statuses):
        initialized = (True, "", "")
    else:
        msgs = []
        if unknown_init:
            msgs.append(f"containers with unknown status: {_names(unknown_init)}")
        if incomplete:
            msgs.append(f"containers with incomplete status: {_names(incomplete)}")
        initialized = (not msgs, "ContainersNotInitialized" if msgs else "", ", ".join(msgs))
    relevant = [c for c in init if is_sidecar(c)] + list(spec.get("containers") or [])
    unknown = [c.get("name", "") for c in relevant if c.get("name") not in statuses]
    unready = [c.get("name", "") for c in relevant if c.get("name") in statuses and not statuses[c["name"]].get("ready")]
    if phase == "Succeeded" and not unknown:
        ready = (False, "PodCompleted", "")
    else:
        msgs = []
        if unknown:
            msgs.append(f"containers with unknown status: {_names(unknown)}")
        if unready:
            msgs.append(f"containers with unready status: {_names(unready)}")
        ready = (not msgs, "ContainersNotReady" if msgs else "", ", ".join(msgs))
    return [("PodReadyToStartContainers", sandbox_ready, "", ""), ("Initialized", *initialized),
            ("Ready", *ready), ("ContainersReady", *ready)]


def pod_status(pod: Obj, rt: PodRuntime, *, host_ip: str, now: float, qos_class: str,
               waiting: Mapping[str, tuple[str, str]] | None = None, readiness: Mapping[str, bool] | None = None,
               startup: Mapping[str, bool] | None = None, terminal: bool = False) -> Obj:
    """The full ``status`` the kubelet posts for ``pod``."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    waiting, readiness, startup = waiting or {}, readiness or {}, startup or {}
    now_s = format_time(now)
    init = container_statuses(pod, rt, list(spec.get("initContainers") or []),
                              list(old.get("initContainerStatuses") or []), init=True, waiting=waiting,
                              readiness=readiness, startup=startup)
    regular = container_statuses(pod, rt, list(spec.get("containers") or []),
                                 list(old.get("containerStatuses") or []), init=False, waiting=waiting,
                                 readiness=readiness, startup=startup)
    by_name = {s["name"]: s for s in [*init, *regular]}
    phase = get_phase(spec, by_name, terminal)
    old_phase = old.get("phase")
    if phase not in ("Succeeded", "Failed") and old_phase in ("Succeeded", "Failed"):
        phase = old_phase
    sandbox = rt.sandbox
    pod_ip = host_ip if spec.get("hostNetwork") else rt.pod_ip
    if not pod_ip:
        pod_ip = old.get("podIP") or ""
    out: Obj = {"phase": phase, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                "startTime": old.get("startTime") or now_s, "qosClass": old.get("qosClass") or qos_class,
                "containerStatuses": regular}
    if pod_ip:
        out.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    if init:
        out["initContainerStatuses"] = init
    if phase == old_phase:
        for key in ("reason", "message"):
            if old.get(key):
                out[key] = old[key]
    prev = {c.get("type"): c for c in old.get("conditions") or []}
    conditions: list[Obj] = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    sandbox_ready = sandbox is not None and sandbox.ready and phase not in ("Succeeded", "Failed")
    for type_, ok, reason, message in _conditions(spec, by_name, phase, sandbox_ready):
        value = "True" if ok else "False"
        before = prev.get(type_) or {}
        cond: Obj = {"type": type_, "status": value, "lastProbeTime": None,
                     "lastTransitionTime": before.get("lastTransitionTime") if before.get("status") == value
                     and before.get("lastTransitionTime") else now_s}
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        conditions.append(cond)
    conditions.append(prev.get("PodScheduled") or {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                                   "lastTransitionTime": now_s})
    out["conditions"] = conditions
    return out
