"""Hollow kubelets: registration, leases, pod status (running, terminated, deletion), IP allocation —
against a recording client with the pod informer's store filled by hand."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kybernetes.client.errors import AlreadyExistsError
from kybernetes.kubelet import hollow
from kybernetes.kubelet.hollow import HollowAgent, HollowConfig


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.existing: set[str] = set()

    async def create(self, res, obj, namespace=None, **kw):
        self.calls.append(("create", res.plural, obj))
        name = obj["metadata"]["name"]
        if (res.plural, name) in self.existing:
            raise AlreadyExistsError(409, {"reason": "AlreadyExists"})
        self.existing.add((res.plural, name))
        return {**obj, "metadata": {**obj["metadata"], "uid": f"uid-{name}", "resourceVersion": "1"}}

    async def get(self, res, name, namespace=None, subresource=None):
        self.calls.append(("get", res.plural, name))
        return {"metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"}, "spec": {}, "status": {}}

    async def replace(self, res, obj, namespace=None, subresource=None):
        self.calls.append(("replace", res.plural, obj))
        return obj

    async def patch(self, res, name, patch, namespace=None, subresource=None, **kw):
        self.calls.append(("patch", f"{res.plural}/{subresource}", {"name": name, "patch": patch}))
        return {"metadata": {"name": name}, **(patch if res.plural == "nodes" else {})}

    async def delete(self, res, name, namespace=None, **options):
        self.calls.append(("delete", res.plural, {"name": name, **options}))
        return {}

    def of(self, verb, what):
        return [c[2] for c in self.calls if c[0] == verb and c[1] == what]


def _pod(name, node="hollow-0", **spec):
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "annotations": {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}], **spec},
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


async def agent(count=2):
    client = FakeClient()
    a = HollowAgent(client, HollowConfig(count))  # type: ignore[arg-type]
    await a.register()
    return a, client


def put(a, pod):
    a.pods.store[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = pod


async def test_register_creates_nodes_and_leases():
    a, client = await agent(2)
    nodes = client.of("create", "nodes")
    assert [n["metadata"]["name"] for n in nodes] == ["hollow-0", "hollow-1"]
    leases = client.of("create", "leases")
    assert [(x["metadata"]["name"], x["spec"]["holderIdentity"]) for x in leases] == [
        ("hollow-0", "hollow-0"), ("hollow-1", "hollow-1")]
    assert leases[0]["metadata"]["ownerReferences"][0]["uid"] == "uid-hollow-0"
    await a._renew(a.nodes["hollow-0"])
    (renewed,) = client.of("replace", "leases")
    assert renewed["spec"]["renewTime"] != leases[0]["spec"]["renewTime"] or renewed["spec"]["renewTime"]


async def test_re_registration_reuses_existing_node():
    client = FakeClient()
    client.existing.add(("nodes", "hollow-0"))
    a = HollowAgent(client, HollowConfig(1))  # type: ignore[arg-type]
    await a.register()
    assert client.of("get", "nodes") == ["hollow-0"]
    assert client.of("patch", "nodes/status")[0]["name"] == "hollow-0"


async def test_pod_reported_running_and_ready():
    a, client = await agent()
    put(a, _pod("web"))
    await a.sync_pod("default/web")
    (p,) = client.of("patch", "pods/status")
    status = p["patch"]["status"]
    assert p["patch"]["metadata"] == {"uid": "uid-web"}
    assert status["phase"] == "Running" and status["podIP"] == "10.42.0.2" and status["hostIP"] == "198.18.0.1"
    assert status["podIPs"] == [{"ip": "10.42.0.2"}] and status["hostIPs"] == [{"ip": "198.18.0.1"}]
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", "True"),
        ("ContainersReady", "True"), ("PodScheduled", "True")]
    (cs,) = status["containerStatuses"]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["containerID"].startswith("containerd://") and len(cs["containerID"]) == 13 + 64
    # already running: no second write
    put(a, {**_pod("web"), "status": status})
    await a.sync_pod("default/web")
    assert len(client.of("patch", "pods/status")) == 1
    # a second pod on the node gets the next address
    put(a, _pod("web2"))
    await a.sync_pod("default/web2")
    assert client.of("patch", "pods/status")[1]["patch"]["status"]["podIP"] == "10.42.0.3"


async def test_pods_of_other_nodes_are_ignored():
    a, client = await agent()
    put(a, _pod("x", node="elsewhere"))
    await a.sync_pod("default/x")
    assert not client.of("patch", "pods/status")


async def test_deletion_removes_the_pod_with_grace_zero():
    a, client = await agent()
    p = _pod("web")
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    put(a, p)
    await a.sync_pod("default/web")
    assert client.of("delete", "pods") == [{"name": "web", "gracePeriodSeconds": 0,
                                            "preconditions": {"uid": "uid-web"}}]


@pytest.mark.parametrize(("policy", "code", "phase", "reason"), [
    ("Never", "0", "Succeeded", "Completed"), ("Never", "3", "Failed", "Error"), ("OnFailure", "0", "Succeeded",
                                                                                   "Completed")])
async def test_exit_code_annotation(policy, code, phase, reason):
    a, client = await agent()
    p = _pod("job", restartPolicy=policy)
    p["metadata"]["annotations"][hollow.ANNOTATION_EXIT_CODE] = code
    put(a, p)
    await a.sync_pod("default/job")  # first: running (startTime recorded)
    status = client.of("patch", "pods/status")[0]["patch"]["status"]
    assert status["phase"] == "Running"
    put(a, {**p, "status": status})
    await a.sync_pod("default/job")
    final = client.of("patch", "pods/status")[1]["patch"]["status"]
    assert final["phase"] == phase
    term = final["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (int(code), reason)
    ready = next(c for c in final["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"


async def test_restart_policy_always_ignores_exit_code():
    a, client = await agent()
    p = _pod("svc")
    p["metadata"]["annotations"][hollow.ANNOTATION_EXIT_CODE] = "0"
    put(a, p)
    await a.sync_pod("default/svc")
    status = client.of("patch", "pods/status")[0]["patch"]["status"]
    put(a, {**p, "status": status})
    await a.sync_pod("default/svc")
    assert len(client.of("patch", "pods/status")) == 1


def test_pod_cidrs_and_images_and_qos():
    assert hollow.pod_cidr(3, 10) == ipaddress.IPv4Network("10.42.3.0/24")
    assert hollow.pod_cidr(300, 1000) == ipaddress.IPv4Network("100.65.44.0/24")
    assert hollow.normalize_image("nginx:1.27") == "docker.io/library/nginx:1.27"
    assert hollow.normalize_image("ghcr.io/x/y") == "ghcr.io/x/y:latest"
    assert hollow.normalize_image("user/app") == "docker.io/user/app:latest"
    g = {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}
    b = {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}
    assert (hollow.qos_class(g), hollow.qos_class(b), hollow.qos_class({"containers": [{}]})) == (
        "Guaranteed", "Burstable", "BestEffort")


async def test_init_containers_reported_completed_and_sidecars_running():
    a, client = await agent()
    put(a, _pod("i", initContainers=[{"name": "init", "image": "busybox"},
                                     {"name": "side", "image": "envoy", "restartPolicy": "Always"}]))
    await a.sync_pod("default/i")
    status = client.of("patch", "pods/status")[0]["patch"]["status"]
    init, side = status["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed" and "running" in side["state"]


async def test_running_pods_keep_their_addresses_after_an_agent_restart():
    a, client = await agent()
    running = _pod("old")
    running["status"] = {"phase": "Running", "podIP": "10.42.0.2", "containerStatuses": [{"name": "c"}]}
    put(a, running)
    await a.sync_pod("default/old")
    assert not client.of("patch", "pods/status")
    put(a, _pod("new"))
    await a.sync_pod("default/new")
    assert client.of("patch", "pods/status")[0]["patch"]["status"]["podIP"] == "10.42.0.3"


async def test_pod_ips_come_from_the_podcidr_the_controller_manager_assigned():
    a, client = await agent(2)
    assigned = {"hollow-0": "10.42.7.0/24"}

    async def get(res, name, namespace=None, subresource=None):
        client.calls.append(("get", res.plural, name))
        spec = {"podCIDR": assigned[name], "podCIDRs": [assigned[name]]} if name in assigned else {}
        return {"metadata": {"name": name, "uid": f"uid-{name}"}, "spec": spec, "status": {}}

    client.get = get
    put(a, _pod("web"))
    await a.sync_pod("default/web")
    assert client.of("patch", "pods/status")[0]["patch"]["status"]["podIP"] == "10.42.7.2"
    put(a, _pod("other", node="hollow-1"))  # no podCIDR yet: the derived range, and no re-read for 5 s
    await a.sync_pod("default/other")
    put(a, _pod("other2", node="hollow-1"))
    await a.sync_pod("default/other2")
    assert [p["patch"]["status"]["podIP"] for p in client.of("patch", "pods/status")[1:]] == ["10.42.1.2", "10.42.1.3"]
    assert client.of("get", "nodes") == ["hollow-0", "hollow-1"]


async def test_a_node_without_podcidr_is_read_ever_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    # with no controller manager, no podCIDR ever comes: the reads back off from 5 s to 5 min
    a, client = await agent(1)
    now = [1000.0]
    monkeypatch.setattr(hollow.time, "monotonic", lambda: now[0])

    async def get(res, name, namespace=None, subresource=None):  # type: ignore[no-untyped-def]
        client.calls.append(("get", res.plural, name))
        return {"metadata": {"name": name, "uid": f"uid-{name}"}, "spec": {}, "status": {}}

    client.get = get
    reads = []
    for i, t in enumerate((1000.0, 1004.0, 1006.0, 1015.0, 1017.0, 1030.0, 1038.0, 1400.0, 1701.0)):
        now[0] = t
        put(a, _pod(f"p{i}"))
        await a.sync_pod(f"default/p{i}")
        if len(client.of("get", "nodes")) > len(reads):
            reads.append(t)
    assert reads == [1000.0, 1006.0, 1017.0, 1038.0, 1400.0, 1701.0]  # waits of 5, 10, 20, 40, 80 s
