"""Pod status as the 1.32 kubelet computes it: phase tables, container states, conditions."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.kubelet import podstate, status
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime, SandboxInfo

NOW = 1_800_000_000.0


def ctr(name: str, state: str, attempt: int = 0, exit_code: int = 0, cid: str = "", reason: str = "",
        created: float = 0.0) -> ContainerInfo:
    return ContainerInfo(id=cid or f"{name}-{attempt}", name=name, attempt=attempt, state=state, sandbox_id="sb",
                         created_at=created or NOW - 100 + attempt, started_at=NOW - 90 + attempt,
                         finished_at=NOW - 50 + attempt if state == podstate.EXITED else 0.0, exit_code=exit_code,
                         reason=reason or ("Completed" if exit_code == 0 else "Error") if state == podstate.EXITED
                         else "", image="docker.io/library/busybox:latest", image_ref="sha256:abc")


def rt(*containers: ContainerInfo, ready: bool = True) -> PodRuntime:
    ordered = tuple(sorted(containers, key=lambda c: c.created_at, reverse=True))
    return PodRuntime("uid-1", "p", "default", (SandboxInfo("sb", ready, ip="10.42.0.7"),), ordered)


def pod(policy: str = "Always", containers: tuple[str, ...] = ("a",), init: tuple[dict[str, Any], ...] = (),
        **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": policy, "containers": [{"name": n, "image": "busybox"} for n in containers]}
    if init:
        spec["initContainers"] = list(init)
    spec.update(extra)
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"}, "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def compute(p: dict[str, Any], r: PodRuntime, **kw: Any) -> dict[str, Any]:
    return status.pod_status(p, r, host_ip="127.0.0.1", now=NOW, qos_class="BestEffort", **kw)


@pytest.mark.parametrize(("policy", "containers", "phase"), [
    ("Always", [], "Pending"),
    ("Always", [("a", podstate.RUNNING, 0)], "Running"),
    ("Never", [("a", podstate.EXITED, 0)], "Succeeded"),
    ("Never", [("a", podstate.EXITED, 1)], "Failed"),
    ("OnFailure", [("a", podstate.EXITED, 0)], "Succeeded"),
    ("OnFailure", [("a", podstate.EXITED, 2)], "Running"),
    ("Always", [("a", podstate.EXITED, 0)], "Running"),
])
def test_phase_single_container(policy: str, containers: list[tuple[str, str, int]], phase: str) -> None:
    r = rt(*(ctr(n, s, exit_code=e) for n, s, e in containers))
    assert compute(pod(policy), r)["phase"] == phase


def test_phase_two_containers_one_done_one_running() -> None:
    r = rt(ctr("a", podstate.EXITED, exit_code=0), ctr("b", podstate.RUNNING))
    assert compute(pod("Never", ("a", "b")), r)["phase"] == "Running"


def test_terminal_flag_turns_stopped_always_pod_into_failed_or_succeeded() -> None:
    r = rt(ctr("a", podstate.EXITED, exit_code=137))
    assert compute(pod("Always"), r, terminal=True)["phase"] == "Failed"
    r = rt(ctr("a", podstate.EXITED, exit_code=0))
    assert compute(pod("Always"), r, terminal=True)["phase"] == "Succeeded"


def test_waiting_container_creating_and_conditions() -> None:
    st = compute(pod(), rt())
    (cs,) = st["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert cs["ready"] is False and cs["restartCount"] == 0 and cs["image"] == "busybox"
    conds = {c["type"]: c for c in st["conditions"]}
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                     "ContainersReady", "PodScheduled"]
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [a]"
    assert conds["PodScheduled"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert st["podIP"] == "10.42.0.7" and st["hostIP"] == "127.0.0.1"


def test_running_ready_and_started() -> None:
    st = compute(pod(), rt(ctr("a", podstate.RUNNING)))
    (cs,) = st["containerStatuses"]
    assert "running" in cs["state"] and cs["ready"] and cs["started"]
    assert cs["containerID"] == "containerd://a-0" and cs["imageID"] == "sha256:abc"
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}


def test_readiness_probe_gates_ready() -> None:
    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    st = compute(p, rt(ctr("a", podstate.RUNNING)))
    assert st["containerStatuses"][0]["ready"] is False
    st = compute(p, rt(ctr("a", podstate.RUNNING)), readiness={"a-0": True})
    assert st["containerStatuses"][0]["ready"] is True


def test_startup_probe_gates_started() -> None:
    p = pod()
    p["spec"]["containers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    st = compute(p, rt(ctr("a", podstate.RUNNING)))
    assert st["containerStatuses"][0]["started"] is False and st["containerStatuses"][0]["ready"] is False
    st = compute(p, rt(ctr("a", podstate.RUNNING)), startup={"a-0": True})
    assert st["containerStatuses"][0]["started"] is True


def test_crash_loop_back_off_state_and_last_state() -> None:
    r = rt(ctr("a", podstate.EXITED, attempt=0, exit_code=1), ctr("a", podstate.EXITED, attempt=1, exit_code=1))
    st = compute(pod(), r, waiting={"a": ("CrashLoopBackOff", "back-off 10s restarting failed container=a pod=p")})
    (cs,) = st["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 10s restarting failed container=a pod=p"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["lastState"]["terminated"]["containerID"] == "containerd://a-1"
    assert cs["restartCount"] == 1
    assert st["phase"] == "Running"


def test_waiting_reason_ignored_when_no_restart_is_due() -> None:
    r = rt(ctr("a", podstate.EXITED, exit_code=0))
    st = compute(pod("Never"), r, waiting={"a": ("CrashLoopBackOff", "x")})
    assert "terminated" in st["containerStatuses"][0]["state"]


def test_image_pull_back_off_pending() -> None:
    st = compute(pod(), rt(), waiting={"a": ("ImagePullBackOff", 'Back-off pulling image "busybox"')})
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"


def test_init_containers_pod_initializing_and_incomplete() -> None:
    p = pod(init=({"name": "init", "image": "busybox"},))
    st = compute(p, rt(ctr("init", podstate.RUNNING)))
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = {c["type"]: c for c in st["conditions"]}["Initialized"]
    assert init["status"] == "False" and init["reason"] == "ContainersNotInitialized"
    assert init["message"] == "containers with incomplete status: [init]"
    st = compute(p, rt(ctr("init", podstate.EXITED, exit_code=0), ctr("a", podstate.RUNNING, created=NOW)))
    assert st["phase"] == "Running"
    assert st["initContainerStatuses"][0]["ready"] is True
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "True"


def test_failed_init_container_with_never_fails_pod() -> None:
    p = pod("Never", init=({"name": "init", "image": "busybox"},))
    st = compute(p, rt(ctr("init", podstate.EXITED, exit_code=3)))
    assert st["phase"] == "Failed"


def test_sidecar_counts_for_readiness_and_phase() -> None:
    p = pod("Never", init=({"name": "side", "image": "busybox", "restartPolicy": "Always"},))
    st = compute(p, rt(ctr("side", podstate.RUNNING), ctr("a", podstate.RUNNING, created=NOW)))
    assert st["phase"] == "Running"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    st = compute(p, rt(ctr("side", podstate.RUNNING)))
    assert st["phase"] == "Pending"


def test_succeeded_pod_conditions() -> None:
    st = compute(pod("Never"), rt(ctr("a", podstate.EXITED, exit_code=0), ready=False))
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == "Succeeded"
    assert conds["Ready"]["reason"] == "PodCompleted" and conds["ContainersReady"]["reason"] == "PodCompleted"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0


def test_terminal_phase_is_never_left() -> None:
    p = pod()
    p["status"]["phase"] = "Succeeded"
    assert compute(p, rt(ctr("a", podstate.RUNNING)))["phase"] == "Succeeded"


def test_transition_time_kept_while_status_unchanged() -> None:
    p = pod()
    first = compute(p, rt(ctr("a", podstate.RUNNING)))
    p["status"] = first
    again = status.pod_status(p, rt(ctr("a", podstate.RUNNING)), host_ip="127.0.0.1", now=NOW + 60,
                              qos_class="BestEffort")
    assert again["conditions"] == first["conditions"]


def test_volume_mounts_and_sorted_statuses() -> None:
    p = pod(containers=("b", "a"))
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v", "readOnly": True}]
    st = compute(p, rt())
    assert [c["name"] for c in st["containerStatuses"]] == ["a", "b"]
    assert st["containerStatuses"][1]["volumeMounts"] == [{"name": "v", "mountPath": "/v", "readOnly": True,
                                                           "recursiveReadOnly": "Disabled"}]


@pytest.mark.parametrize(("policy", "exit_code", "init", "expected"), [
    ("Always", 0, False, True), ("OnFailure", 0, False, False), ("OnFailure", 1, False, True),
    ("Never", 1, False, False), ("Always", 0, True, False), ("Always", 1, True, True), ("Never", 1, True, False),
])
def test_should_restart(policy: str, exit_code: int, init: bool, expected: bool) -> None:
    latest = ctr("a", podstate.EXITED, exit_code=exit_code)
    assert status.should_restart({"name": "a"}, latest, policy, init=init) is expected
    assert status.should_restart({"name": "a"}, None, policy, init=init) is True
    assert status.should_restart({"name": "a"}, ctr("a", podstate.RUNNING), policy, init=init) is False
