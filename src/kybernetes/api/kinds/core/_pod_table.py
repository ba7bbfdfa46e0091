"""The pods table (``kubectl get pods``): columns and the READY/STATUS/RESTARTS cells.

Follows Kubernetes 1.32's ``printPod``: init-container progress (``Init:0/1``), container waiting and
terminated reasons (``CrashLoopBackOff``, ``Completed``, ``ExitCode:1``), sidecars counted as
containers, ``Terminating`` for pods being deleted and ``RESTARTS`` like ``2 (5m ago)``. Used by
``pod.py``.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import printing
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column
from kybernetes.api.types import Object


@functools.cache
def columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column("Restarts", description="The number of times the containers in this pod have been restarted and "
                                       "when the last container in this pod has restarted."),
        AGE_COLUMN,
        c.column("IP", "PodStatus", "podIP", priority=1),
        c.column("Node", "PodSpec", "nodeName", priority=1),
        c.column("Nominated Node", "PodStatus", "nominatedNodeName", priority=1),
        c.column("Readiness Gates", "PodSpec", "readinessGates", priority=1),
    )


def _restartable(ctr: dict[str, Any] | None) -> bool:
    return bool(ctr) and (ctr or {}).get("restartPolicy") == "Always"


def _condition_true(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(cond.get("type") == kind and cond.get("status") == "True" for cond in conditions)


def _finished_at(cs: dict[str, Any]) -> float | None:
    term = c.section(c.section(cs, "lastState"), "terminated")
    return printing.parse_time(term.get("finishedAt")) if term else None


def _latest(current: float | None, candidate: float | None) -> float | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode') or 0}"


def row(obj: Object, now: float) -> list[Any]:
    spec, status = c.section(obj, "spec"), c.section(obj, "status")
    conditions = c.dicts(status.get("conditions"))
    restarts = restartable_restarts = ready = 0
    total = len(c.dicts(spec.get("containers")))
    last_restart: float | None = None
    last_restartable: float | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {str(ctr.get("name")): ctr for ctr in c.dicts(spec.get("initContainers"))}
    total += sum(1 for ctr in init_specs.values() if _restartable(ctr))
    init_total = len(c.dicts(spec.get("initContainers")))
    initializing = False
    for i, cs in enumerate(c.dicts(status.get("initContainerStatuses"))):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = _latest(last_restart, _finished_at(cs))
        sidecar = _restartable(init_specs.get(str(cs.get("name"))))
        if sidecar:
            restartable_restarts += int(cs.get("restartCount") or 0)
            last_restartable = _latest(last_restartable, _finished_at(cs))
        state = c.section(cs, "state")
        term, waiting = c.section(state, "terminated"), c.section(state, "waiting")
        if isinstance(state.get("terminated"), dict) and not term.get("exitCode"):
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(state.get("terminated"), dict):
            reason = _terminated_reason(term, "Init:")
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{init_total}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = restartable_restarts, last_restartable
        has_running = False
        for cs in reversed(c.dicts(status.get("containerStatuses"))):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = _latest(last_restart, _finished_at(cs))
            state = c.section(cs, "state")
            term, waiting = c.section(state, "terminated"), c.section(state, "waiting")
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(state.get("terminated"), dict):
                reason = _terminated_reason(term)
            elif cs.get("ready") and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if c.is_terminating(obj) and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif c.is_terminating(obj) and phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({printing.human_duration(now - last_restart)} ago)"

    ips = c.dicts(status.get("podIPs"))
    pod_ip = str(ips[0].get("ip") or "") if ips else ""
    gates = c.dicts(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        by_type: dict[Any, dict[str, Any]] = {}
        for cond in conditions:
            by_type.setdefault(cond.get("type"), cond)
        true = len([g for g in gates if (by_type.get(g.get("conditionType")) or {}).get("status") == "True"])
        gates_text = f"{true}/{len(gates)}"
    return [c.name(obj), f"{ready}/{total}", reason, restarts_text, printing.age(obj, now),
            pod_ip or "<none>", spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            gates_text]
