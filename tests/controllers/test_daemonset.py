"""DaemonSet controller: placement by nodeSelector, affinity and taints (with the default daemon
tolerations), pods pinned by node affinity, failed pods, rolling updates bounded by maxUnavailable
and maxSurge (checked after every sync), revisions and status.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.client.rest import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kybernetes.controllers import daemonset_util as du
from kybernetes.controllers.daemonset import DaemonSetController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeRecorder, as_client
from tests.controllers.fakes_workloads import WorkloadFakeClient

KEY = "default/agent"


def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                                                       **(labels or {})}},
            "spec": spec, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def daemonset(node_selector: dict[str, str] | None = None, tolerations: list[dict[str, Any]] | None = None,
              strategy: dict[str, Any] | None = None, image: str = "agent:1") -> dict[str, Any]:
    template = b.template({"app": "agent"}, image)
    if node_selector:
        template["spec"]["nodeSelector"] = node_selector
    if tolerations:
        template["spec"]["tolerations"] = tolerations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "generation": 1,
                         "annotations": {du.TEMPLATE_GENERATION_ANNOTATION: "1"}},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template, "revisionHistoryLimit": 10,
                     "updateStrategy": strategy or {"type": "RollingUpdate",
                                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}}


class Cluster:
    def __init__(self, ds: dict[str, Any], *nodes: dict[str, Any]) -> None:
        self.clock = Clock(T0)
        self.client = WorkloadFakeClient(self.clock)
        self.rec = FakeRecorder()
        for n in nodes:
            self.client.add(NODES, n)
        self.client.add(DAEMONSETS, ds)
        infs = [self.client.informer(r) for r in (DAEMONSETS, PODS, NODES, CONTROLLERREVISIONS)]
        self.ctrl = DaemonSetController(*infs, as_client(self.client), self.rec, clock=self.clock)

    async def sync(self) -> None:
        await self.ctrl.sync(KEY)

    def live(self) -> list[dict[str, Any]]:
        return [p for p in self.client.all(PODS) if not p["metadata"].get("deletionTimestamp")]

    def placement(self) -> list[str]:
        return sorted(du.target_node(p) for p in self.live())

    def by_node(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.live() if du.target_node(p) == name]

    async def ready_all(self) -> None:
        for p in self.live():
            if p["status"]["phase"] != "Running":
                await self.client.set_pod_status(p["metadata"]["name"], "Running", ready=True)

    async def update(self, image: str) -> None:
        ds = copy.deepcopy(self.client.stored(DAEMONSETS, "agent", "default"))
        assert ds is not None
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
        gen = int(ds["metadata"]["annotations"][du.TEMPLATE_GENERATION_ANNOTATION]) + 1
        ds["metadata"]["annotations"][du.TEMPLATE_GENERATION_ANNOTATION] = str(gen)
        await self.client.replace(DAEMONSETS, ds, "default")

    def status(self) -> dict[str, Any]:
        ds = self.client.stored(DAEMONSETS, "agent", "default")
        assert ds is not None
        return ds["status"]


NODES3 = (node("n1", {"disktype": "ssd"}), node("n2"),
          node("n3", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))


async def test_one_pod_per_eligible_node_pinned_by_affinity() -> None:
    c = Cluster(daemonset(), *NODES3)
    await c.sync()
    assert c.placement() == ["n1", "n2"]  # n3's taint is not tolerated
    pod = c.by_node("n1")[0]
    assert pod["metadata"]["generateName"] == "agent-"
    assert "nodeName" not in pod["spec"]  # the scheduler binds it
    assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}
    assert [(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]] == list(du.DAEMON_TOLERATIONS)
    labels = pod["metadata"]["labels"]
    rev = c.client.all(CONTROLLERREVISIONS)[0]
    assert labels[du.HASH_LABEL] == rev["metadata"]["labels"][du.HASH_LABEL]
    assert rev["metadata"]["name"] == f"agent-{labels[du.HASH_LABEL]}" and rev["revision"] == 1
    assert labels[du.GENERATION_LABEL] == "1"
    assert len(c.rec.messages("SuccessfulCreate")) == 2
    assert all(m.startswith("Created pod: agent-") for m in c.rec.messages("SuccessfulCreate"))
    await c.ready_all()
    await c.sync()
    st = c.status()
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"], st["numberAvailable"],
            st["updatedNumberScheduled"], st["numberMisscheduled"], st["observedGeneration"]) == (2, 2, 2, 2, 2, 0, 1)
    assert "numberUnavailable" not in st
    await c.sync()
    assert len(c.live()) == 2  # idempotent


async def test_node_selector_and_tolerations() -> None:
    c = Cluster(daemonset(node_selector={"disktype": "ssd"}), *NODES3)
    await c.sync()
    assert c.placement() == ["n1"]
    c = Cluster(daemonset(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                        "effect": "NoSchedule"}]), *NODES3)
    await c.sync()
    assert c.placement() == ["n1", "n2", "n3"]
    c = Cluster(daemonset(), node("hn", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]))
    await c.sync()
    assert c.placement() == ["hn"]  # tolerated by every daemon pod


async def test_required_node_affinity() -> None:
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disktype", "operator": "NotIn", "values": ["ssd"]}]}]}}}
    c = Cluster(ds, *NODES3[:2])
    await c.sync()
    assert c.placement() == ["n2"]


async def test_taint_changes_evict_or_keep() -> None:
    c = Cluster(daemonset(), node("n1"), node("n2"))
    await c.sync()
    await c.ready_all()
    n1 = copy.deepcopy(c.client.stored(NODES, "n1"))
    n1["spec"]["taints"] = [{"key": "maintenance", "effect": "NoSchedule"}]  # type: ignore[index]
    await c.client.replace(NODES, n1)  # type: ignore[arg-type]
    await c.sync()
    assert c.placement() == ["n1", "n2"]  # NoSchedule: the running pod may stay
    assert c.status()["numberMisscheduled"] == 1 and c.status()["desiredNumberScheduled"] == 1
    await c.client.patch(NODES, "n1", {"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}})  # type: ignore[arg-type]
    await c.sync()
    assert c.placement() == ["n2"]
    assert c.rec.messages("SuccessfulDelete")[0].startswith("Deleted pod: agent-")


async def test_failed_pod_deleted_with_backoff() -> None:
    c = Cluster(daemonset(), node("n1"))
    await c.sync()
    name = c.live()[0]["metadata"]["name"]
    await c.client.set_pod_status(name, "Failed")
    await c.sync()
    assert c.rec.messages("FailedDaemonPod") == [f"Found failed daemon pod default/{name} on node n1, will try to "
                                                 "kill it"]
    await c.sync()  # recreated
    second = c.live()[0]["metadata"]["name"]
    assert second != name
    await c.client.set_pod_status(second, "Failed")
    await c.sync()
    assert [p["metadata"]["name"] for p in c.live()] == [second]  # within the backoff: kept for now
    c.clock.advance(5)
    await c.sync()
    assert second not in [p["metadata"]["name"] for p in c.live()]


async def test_unscheduled_pod_for_deleted_node_is_removed() -> None:
    c = Cluster(daemonset(), node("n1"), node("n2"))
    await c.sync()
    await c.client.delete(NODES, "n2")
    await c.sync()
    assert c.placement() == ["n1"]


def max_unavailable_check(c: Cluster, limit: int) -> None:
    nodes = {n["metadata"]["name"] for n in c.client.all(NODES)}
    unavailable = sum(1 for n in nodes if not any(p["status"]["phase"] == "Running" and not p["metadata"].get(
        "deletionTimestamp") for p in c.by_node(n)))
    assert unavailable <= limit, (unavailable, c.placement())


async def test_rolling_update_respects_max_unavailable() -> None:
    c = Cluster(daemonset(), node("n1"), node("n2"), node("n3"))
    await c.sync()
    await c.ready_all()
    await c.sync()
    await c.update("agent:2")
    for _ in range(20):
        await c.sync()
        max_unavailable_check(c, 1)
        await c.sync()
        max_unavailable_check(c, 1)
        await c.ready_all()
        if all(p["spec"]["containers"][0]["image"] == "agent:2" for p in c.live()) and len(c.live()) == 3:
            break
    await c.sync()
    st = c.status()
    assert st["updatedNumberScheduled"] == 3 and st["numberAvailable"] == 3 and st["observedGeneration"] == 2
    assert sorted(r["revision"] for r in c.client.all(CONTROLLERREVISIONS)) == [1, 2]


async def test_rolling_update_with_surge() -> None:
    c = Cluster(daemonset(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
                node("n1"), node("n2"))
    await c.sync()
    await c.ready_all()
    await c.sync()
    await c.update("agent:2")
    await c.sync()
    assert len(c.live()) == 3  # one surge pod next to the old one
    await c.sync()
    assert len(c.live()) == 3  # the surge pod is not ready: no second surge, nothing deleted
    max_unavailable_check(c, 0)
    for _ in range(10):
        await c.ready_all()
        await c.sync()
        max_unavailable_check(c, 0)
        assert len(c.live()) <= 3
        if len(c.live()) == 2 and all(p["spec"]["containers"][0]["image"] == "agent:2" for p in c.live()):
            break
    assert sorted(p["spec"]["containers"][0]["image"] for p in c.live()) == ["agent:2", "agent:2"]


async def test_on_delete_does_not_replace() -> None:
    c = Cluster(daemonset(strategy={"type": "OnDelete"}), node("n1"))
    await c.sync()
    await c.ready_all()
    await c.update("agent:2")
    await c.sync()
    assert [p["spec"]["containers"][0]["image"] for p in c.live()] == ["agent:1"]
    assert "updatedNumberScheduled" not in c.status()  # zero: the one pod is at the old revision


async def test_selecting_all_is_refused() -> None:
    ds = daemonset()
    ds["spec"]["selector"] = {}
    c = Cluster(ds, node("n1"))
    await c.sync()
    assert c.live() == [] and c.rec.reasons() == ["SelectingAll"]
