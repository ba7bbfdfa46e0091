"""Workload controllers end to end: a real ``kyb server`` (its own controller manager and scheduler off),
the StatefulSet, DaemonSet, Job, TTL-after-finished and garbage-collector controllers running in this
process (their own event loop in a thread, HTTPS with the cluster's kubeconfig), a CronJob controller
on an offset clock and a Pod GC with a short quarantine, checked with the real kubectl.

No kubelet runs: pods are marked Running/Ready/Succeeded by patching ``pods/status``, as a kubelet
would. Every wait polls with a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import DISPATCHER, Cluster, ComponentThread, Kubectl, bare_server, wait_until

pytestmark = pytest.mark.e2e

ENABLED = ["statefulset", "daemonset", "job", "ttl-after-finished", "garbagecollector"]


class OffsetClock:
    """Wall time plus an offset the test moves forward (the CronJob controller's clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class WorkloadControllers(ComponentThread):
    """The controllers under test on their own event loop in a daemon thread."""

    name = "workload-controllers"

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.clock = OffsetClock()
        self.cronjobs: Any = None

    async def main(self, stop: asyncio.Event) -> None:
        from kybernetes.client.events import EventRecorder
        from kybernetes.client.rest import CRONJOBS, JOBS, NODES, PODS, Client, load_kubeconfig
        from kybernetes.client.sharedinformers import SharedInformerFactory
        from kybernetes.controllers import cronjob, manager, podgc

        client = Client(load_kubeconfig(self.cluster.kubeconfig, user_agent="kube-controller-manager"))
        informers = SharedInformerFactory(client)
        recorder = EventRecorder(client, "cronjob-controller")
        self.cronjobs = cronjob.CronJobController(informers.informer(CRONJOBS), informers.informer(JOBS), client,
                                                  recorder, clock=self.clock)
        gc = podgc.PodGCController(informers.informer(PODS), informers.informer(NODES), client, recorder,
                                   gc_period=0.5, quarantine=1.0)
        informers.start()
        recorder.start()
        self.started.set()
        tasks = [asyncio.create_task(manager.run_controllers(client, stop, enabled=ENABLED), name="manager"),
                 asyncio.create_task(self.cronjobs.run(2), name="cronjob"),
                 asyncio.create_task(gc.run(), name="podgc")]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await informers.stop()
            await recorder.stop()
            await client.close()

    def sync_cronjob(self, key: str) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.cronjobs.queue.add, key)


@pytest.fixture(scope="module")
def wl_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with bare_server(tmp_path_factory.mktemp("kyb-workloads"), "--disable-controller-manager",
                     "--disable-scheduler") as c:
        yield c


@pytest.fixture(scope="module")
def controllers(wl_cluster: Cluster) -> Iterator[WorkloadControllers]:
    with WorkloadControllers(wl_cluster) as wc:
        yield wc


@pytest.fixture(scope="module")
def k(wl_cluster: Cluster, controllers: WorkloadControllers) -> Kubectl:
    return Kubectl(wl_cluster, DISPATCHER, "1.32")


def items(k: Kubectl, kind: str, ns: str, *args: str) -> list[dict[str, Any]]:
    return json.loads(k("get", kind, "-n", ns, *args, "-o", "json"))["items"]  # type: ignore[no-any-return]


def names(k: Kubectl, kind: str, ns: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in items(k, kind, ns) if not o["metadata"].get("deletionTimestamp"))


def set_phase(k: Kubectl, ns: str, name: str, phase: str, ready: bool) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                              "lastTransitionTime": now}]}
    k("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}))


def apply(k: Kubectl, ns: str, manifest: dict[str, Any]) -> None:
    k("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))


def row(k: Kubectl, kind: str, name: str, ns: str) -> list[str]:
    return k("get", kind, name, "-n", ns, "--no-headers").split()


def namespace(k: Kubectl, name: str) -> str:
    k("create", "namespace", name)
    return name


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}


def test_statefulset_ordered_pods_claims_and_scale_down(k: Kubectl) -> None:
    ns = namespace(k, "sts")
    apply(k, ns, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
                  "spec": {"replicas": 3, "serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
                           "template": TEMPLATE,
                           "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                               "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    for i in range(3):
        wait_until(f"web-{i}", lambda i=i: f"web-{i}" in names(k, "pods", ns))
        assert names(k, "pods", ns) == [f"web-{j}" for j in range(i + 1)]  # one at a time, in order
        set_phase(k, ns, f"web-{i}", "Running", True)
    pod = json.loads(k("get", "pod", "web-1", "-n", ns, "-o", "json"))
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "nginx"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert names(k, "pvc", ns) == ["www-web-0", "www-web-1", "www-web-2"]
    wait_until("READY 3/3", lambda: row(k, "sts", "web", ns)[1] == "3/3")
    revs = items(k, "controllerrevisions", ns)
    assert len(revs) == 1 and revs[0]["revision"] == 1
    assert pod["metadata"]["labels"]["controller-revision-hash"] == revs[0]["metadata"]["name"]
    k("scale", "sts", "web", "-n", ns, "--replicas=1")
    wait_until("scaled down to web-0", lambda: names(k, "pods", ns) == ["web-0"])  # (order: unit tests)
    assert names(k, "pvc", ns) == ["www-web-0", "www-web-1", "www-web-2"]  # claims are kept
    events = k("get", "events", "-n", ns, "--field-selector", "involvedObject.name=web")
    assert "create Pod web-0 in StatefulSet web successful" in events
    assert "delete Pod web-2 in StatefulSet web successful" in events
    assert "delete Pod web-1 in StatefulSet web successful" in events


def test_daemonset_one_pod_per_eligible_node(k: Kubectl) -> None:
    ns = namespace(k, "ds")
    for name, taints in (("wl-node-a", []), ("wl-node-b", [{"key": "gpu", "value": "true", "effect": "NoSchedule"}])):
        apply(k, ns, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"pool": "wl"}},
                      "spec": {"taints": taints}})
    apply(k, ns, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                           "template": {"metadata": {"labels": {"app": "agent"}},
                                        "spec": {"nodeSelector": {"pool": "wl"},
                                                 "containers": [{"name": "a", "image": "agent:1"}]}}}})
    [pod] = wait_until("one daemon pod", lambda: items(k, "pods", ns) or None)
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["wl-node-a"]
    set_phase(k, ns, pod["metadata"]["name"], "Running", True)
    wait_until("ds ready", lambda: row(k, "ds", "agent", ns)[1:6] == ["1", "1", "1", "1", "1"])
    k("patch", "node", "wl-node-b", "--type=merge", "-p", json.dumps({"spec": {"taints": None}}))
    wait_until("a pod for node b", lambda: len(items(k, "pods", ns)) == 2)
    for name in ("wl-node-a", "wl-node-b"):
        k("delete", "node", name)


def test_job_runs_to_completion_then_ttl_deletes_it(k: Kubectl) -> None:
    ns = namespace(k, "jobs")
    apply(k, ns, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
                  "spec": {"completions": 2, "parallelism": 1, "ttlSecondsAfterFinished": 2, "template": {
                      "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}}})
    for done in range(2):
        pod = wait_until("a pending job pod", lambda: next((p for p in items(k, "pods", ns)
                                                           if p["status"].get("phase") == "Pending"), None))
        assert "batch.kubernetes.io/job-tracking" in pod["metadata"]["finalizers"]
        assert pod["metadata"]["labels"]["job-name"] == "pi"
        set_phase(k, ns, pod["metadata"]["name"], "Succeeded", False)
        wait_until(f"{done + 1} succeeded", lambda done=done: json.loads(k("get", "job", "pi", "-n", ns, "-o", "json"))
                   ["status"].get("succeeded") == done + 1)
    k("wait", "--for=condition=complete", "job/pi", "-n", ns, "--timeout=30s")
    job_row = row(k, "job", "pi", ns)
    assert job_row[1:3] == ["Complete", "2/2"]
    assert all(not p["metadata"].get("finalizers") for p in items(k, "pods", ns))
    wait_until("job deleted by its TTL", lambda: "pi" not in names(k, "jobs", ns))


def test_cronjob_creates_job_at_schedule(k: Kubectl, controllers: WorkloadControllers) -> None:
    ns = namespace(k, "cron")
    apply(k, ns, {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello"},
                  "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {
                      "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}})
    cj = json.loads(k("get", "cj", "hello", "-n", ns, "-o", "json"))
    created = time.mktime(time.strptime(cj["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    boundary = (int(created) // 60 + 1) * 60
    controllers.clock.offset = boundary + 1 - time.time()  # the clock now stands just past the next minute
    controllers.sync_cronjob(f"{ns}/hello")
    job_name = f"hello-{boundary // 60}"
    wait_until("the scheduled job", lambda: job_name in names(k, "jobs", ns))
    job = json.loads(k("get", "job", job_name, "-n", ns, "-o", "json"))
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boundary))
    wait_until("ACTIVE 1", lambda: row(k, "cj", "hello", ns)[-3] == "1")  # NAME SCHEDULE(5) TZ SUSPEND ACTIVE LAST AGE
    pod = wait_until("the job's pod", lambda: next(iter(items(k, "pods", ns)), None))
    set_phase(k, ns, pod["metadata"]["name"], "Succeeded", False)
    wait_until("cronjob sees completion", lambda: not json.loads(k("get", "cj", "hello", "-n", ns, "-o", "json"))
               ["status"].get("active"))
    events = k("get", "events", "-n", ns, "--field-selector", "involvedObject.name=hello")
    assert f"Created job {job_name}" in events and f"Saw completed job: {job_name}, condition: Complete" in events


def test_podgc_removes_pods_of_missing_nodes(k: Kubectl) -> None:
    ns = namespace(k, "podgc")
    apply(k, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan"},
                  "spec": {"nodeName": "no-such-node", "containers": [{"name": "c", "image": "busybox"}]}})
    wait_until("orphan collected", lambda: "orphan" not in names(k, "pods", ns))
