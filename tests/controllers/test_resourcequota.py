"""ResourceQuota: usage numbers (pods, compute, counts, services, storage, scopes), the admission check's
messages, and the controller writing status from fake informers."""

from __future__ import annotations

from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.api.quota import admission_check
from kybernetes.client.rest import CONFIGMAPS, JOBS, PODS, SERVICES, Resource
from kybernetes.controllers.resourcequota import RESOURCEQUOTAS, ResourceQuotaController, quota_usage
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeInformer, FakeRecorder, as_client

Obj = dict[str, Any]


def quota(hard: dict[str, str], name: str = "q", scopes: list[str] | None = None, status: Obj | None = None) -> Obj:
    spec: Obj = {"hard": dict(hard)}
    if scopes:
        spec["scopes"] = scopes
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": "default"},
            "spec": spec, "status": status or {}}


def pod(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
        phase: str = "Running", init: dict[str, str] | None = None, **spec: Any) -> Obj:
    p = b.pod(name, phase=phase)
    res: Obj = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    p["spec"]["containers"][0]["resources"] = res
    if init:
        p["spec"]["initContainers"] = [{"name": "init", "image": "busybox", "resources": {"requests": init}}]
    p["spec"].update(spec)
    return p


def svc(name: str, type_: str = "ClusterIP", ports: int = 1) -> Obj:
    s = b.service(name)
    s["spec"]["type"] = type_
    s["spec"]["ports"] = [{"name": f"p{i}", "port": 80 + i, "protocol": "TCP"} for i in range(ports)]
    return s


def test_pod_compute_usage_and_counts() -> None:
    pods = [pod("a", {"cpu": "100m", "memory": "64Mi"}, {"cpu": "200m", "memory": "128Mi"}),
            pod("b", {"cpu": "1", "memory": "64Mi"}, {"cpu": "1", "memory": "64Mi"}),
            pod("c", {"cpu": "250m"}, phase="Pending", init={"cpu": "2"}),
            pod("done", {"cpu": "4", "memory": "1Gi"}, phase="Succeeded"),
            pod("failed", {"cpu": "4"}, phase="Failed")]
    q = quota({"pods": "10", "count/pods": "10", "requests.cpu": "10", "cpu": "10", "requests.memory": "1Gi",
               "memory": "1Gi", "limits.cpu": "10", "limits.memory": "2Gi", "requests.ephemeral-storage": "1Gi"})
    assert quota_usage(q, {"pods": pods}, T0) == {
        "pods": "3", "count/pods": "5", "requests.cpu": "3100m", "cpu": "3100m", "requests.memory": "128Mi",
        "memory": "128Mi", "limits.cpu": "1200m", "limits.memory": "192Mi", "requests.ephemeral-storage": "0"}


def test_stuck_terminating_pod_stops_counting_after_its_grace_period() -> None:
    p = pod("going", {"cpu": "1"})
    p["metadata"]["deletionTimestamp"] = format_time(T0 - 60)
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    q = quota({"pods": "5", "count/pods": "5"})
    assert quota_usage(q, {"pods": [p]}, T0) == {"pods": "0", "count/pods": "1"}
    assert quota_usage(q, {"pods": [p]}, T0 - 45) == {"pods": "1", "count/pods": "1"}


def test_object_counts_services_and_storage() -> None:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
             "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}
    q = quota({"services": "10", "count/services": "10", "services.nodeports": "5", "services.loadbalancers": "2",
               "configmaps": "5", "count/configmaps": "5", "count/deployments.apps": "3", "persistentvolumeclaims": "4",
               "requests.storage": "100Gi", "fast.storageclass.storage.k8s.io/requests.storage": "50Gi",
               "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "2", "count/widgets.example.com": "1"})
    objects = {"services": [svc("a"), svc("b", "NodePort", 2), svc("c", "LoadBalancer", 3)],
               "configmaps": [{"metadata": {"name": "x"}}, {"metadata": {"name": "y"}}],
               "deployments.apps": [b.deployment("web")], "persistentvolumeclaims": [claim]}
    assert quota_usage(q, objects, T0) == {
        "services": "3", "count/services": "3", "services.nodeports": "5", "services.loadbalancers": "1",
        "configmaps": "2", "count/configmaps": "2", "count/deployments.apps": "1", "persistentvolumeclaims": "1",
        "requests.storage": "10Gi", "fast.storageclass.storage.k8s.io/requests.storage": "10Gi",
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1"}  # widgets: no collection given


def test_scopes_select_pods_only() -> None:
    pods = [pod("be"), pod("burstable", {"cpu": "1"}), pod("job", activeDeadlineSeconds=60)]
    best_effort = quota({"pods": "10", "services": "10"}, scopes=["BestEffort"])
    assert quota_usage(best_effort, {"pods": pods, "services": [svc("a")]}, T0) == {"pods": "2", "services": "0"}
    assert quota_usage(quota({"pods": "10"}, scopes=["NotBestEffort"]), {"pods": pods}, T0) == {"pods": "1"}
    assert quota_usage(quota({"pods": "10"}, scopes=["Terminating"]), {"pods": pods}, T0) == {"pods": "1"}
    critical = quota({"pods": "10"})
    critical["spec"]["scopeSelector"] = {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["critical"]}]}
    high = pod("high")
    high["spec"]["priorityClassName"] = "critical"
    assert quota_usage(critical, {"pods": [*pods, high]}, T0) == {"pods": "1"}


def test_admission_check_messages() -> None:
    full = quota({"pods": "2"}, status={"hard": {"pods": "2"}, "used": {"pods": "2"}})
    assert admission_check(full, pod("new")) == "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
    roomy = quota({"pods": "3"}, status={"hard": {"pods": "3"}, "used": {"pods": "2"}})
    assert admission_check(roomy, pod("new")) is None
    cpu = quota({"requests.cpu": "1", "limits.memory": "1Gi"},
                status={"hard": {"requests.cpu": "1", "limits.memory": "1Gi"},
                        "used": {"requests.cpu": "800m", "limits.memory": "0"}})
    assert admission_check(cpu, pod("new")) == \
        "failed quota: q: must specify limits.memory for: nginx; requests.cpu for: nginx"
    assert admission_check(cpu, pod("new", {"cpu": "500m"}, {"memory": "256Mi"})) == \
        "exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=800m, limited: requests.cpu=1"
    unknown = quota({"pods": "2"}, status={"hard": {"pods": "2"}})
    assert admission_check(unknown, pod("new")) == "status unknown for quota: q, resources: pods"
    assert admission_check(full, svc("s")) is None  # the quota does not limit services
    svcs = quota({"services.nodeports": "1"}, status={"hard": {"services.nodeports": "1"},
                                                      "used": {"services.nodeports": "1"}})
    assert admission_check(svcs, svc("np", "NodePort")) == ("exceeded quota: q, requested: services.nodeports=1, "
                                                            "used: services.nodeports=1, limited: services.nodeports=1")
    jobs = quota({"count/jobs.batch": "1"}, status={"hard": {"count/jobs.batch": "1"}, "used": {"count/jobs.batch": "1"}})
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}
    assert admission_check(jobs, job) == ("exceeded quota: q, requested: count/jobs.batch=1, used: count/jobs.batch=1, "
                                          "limited: count/jobs.batch=1")
    scoped = quota({"pods": "1"}, scopes=["BestEffort"], status={"hard": {"pods": "1"}, "used": {"pods": "1"}})
    assert admission_check(scoped, pod("burstable", {"cpu": "1"})) is None


def setup(*objs: Obj, lazy: dict[str, FakeInformer] | None = None) -> tuple[ResourceQuotaController, FakeClient]:
    client, rec = FakeClient(Clock(T0)), FakeRecorder()
    for o in objs:
        res = {"ResourceQuota": RESOURCEQUOTAS, "Pod": PODS, "Service": SERVICES, "ConfigMap": CONFIGMAPS}[o["kind"]]
        client.add(res, o)
    informers = {"pods": client.informer(PODS), "services": client.informer(SERVICES),
                 "configmaps": client.informer(CONFIGMAPS)}
    ctrl = ResourceQuotaController(client.informer(RESOURCEQUOTAS), informers, as_client(client), rec,
                                   informer_for=(lazy or {}).get, clock=client.clock)
    return ctrl, client


async def test_controller_writes_hard_and_used_and_is_idempotent() -> None:
    ctrl, client = setup(quota({"pods": "5", "requests.memory": "1Gi", "services": "2"}),
                         pod("a", {"memory": "64Mi"}), pod("b", {"memory": "64Mi"}), svc("s"))
    await ctrl.sync("default/q")
    status = client.stored(RESOURCEQUOTAS, "q", "default")["status"]  # type: ignore[index]
    assert status == {"hard": {"pods": "5", "requests.memory": "1Gi", "services": "2"},
                      "used": {"pods": "2", "requests.memory": "128Mi", "services": "1"}}
    client.clear()
    await ctrl.sync("default/q")
    assert client.actions == []
    await client.delete(PODS, "b", "default")
    key = await ctrl.queue.get()  # the deletion enqueued the namespace's quota
    assert key == "default/q"
    ctrl.queue.done(key)
    await ctrl.sync("default/q")
    used = client.stored(RESOURCEQUOTAS, "q", "default")["status"]["used"]  # type: ignore[index]
    assert used == {"pods": "1", "requests.memory": "64Mi", "services": "1"}


async def test_controller_watches_other_counted_resources_on_demand() -> None:
    jobs = FakeInformer(JOBS, [{"metadata": {"name": "j1", "namespace": "default"}},
                               {"metadata": {"name": "j2", "namespace": "other"}}])
    ctrl, client = setup(quota({"count/jobs.batch": "3", "count/widgets.example.com": "1"}),
                         lazy={"jobs.batch": jobs})
    await ctrl.sync("default/q")
    assert client.stored(RESOURCEQUOTAS, "q", "default")["status"]["used"] == {  # type: ignore[index]
        "count/jobs.batch": "1"}
    slow = FakeInformer(Resource("example.com", "v1", "gadgets", kind="Gadget"))
    slow._synced.clear()
    ctrl2, client2 = setup(quota({"count/gadgets.example.com": "1", "pods": "1"}), lazy={"gadgets.example.com": slow})
    await ctrl2.sync("default/q")
    assert client2.stored(RESOURCEQUOTAS, "q", "default")["status"]["used"] == {"pods": "0"}  # type: ignore[index]
    assert "default/q" in ctrl2.queue._timers  # retried once the new informer has synced
