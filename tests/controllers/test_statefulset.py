"""StatefulSet controller: ordered creation with claims, scale down in reverse, Parallel, partitioned
rolling update, OnDelete, failed pods, retention ownerRefs, revisions and their history limit.

One ``FakeClient`` echoes writes into the informers at once; tests call ``sync`` and flip pods to
Running+Ready by writing their status, as a kubelet would.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.client.rest import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS
from kybernetes.controllers import history
from kybernetes.controllers import statefulset_util as su
from kybernetes.controllers.statefulset import StatefulSetController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeRecorder, as_client
from tests.controllers.fakes_workloads import WorkloadFakeClient

KEY = "default/web"


def statefulset(replicas: int = 3, image: str = "nginx:1.25", policy: str = "OrderedReady",
                strategy: dict[str, Any] | None = None, claims: bool = True, history_limit: int = 10,
                retention: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
        "template": b.template({"app": "web"}, image), "podManagementPolicy": policy,
        "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "revisionHistoryLimit": history_limit,
        "persistentVolumeClaimRetentionPolicy": retention or {"whenDeleted": "Retain", "whenScaled": "Retain"}}
    if claims:
        spec["volumeClaimTemplates"] = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                         "metadata": {"name": "www"},
                                         "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}},
                                         "status": {"phase": "Pending"}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default", "generation": 1}, "spec": spec}


class Cluster:
    def __init__(self, st: dict[str, Any]) -> None:
        self.clock = Clock(T0)
        self.client = WorkloadFakeClient(self.clock)
        self.rec = FakeRecorder()
        self.client.add(STATEFULSETS, st)
        infs = [self.client.informer(r) for r in (STATEFULSETS, PODS, PVCS, CONTROLLERREVISIONS)]
        self.ctrl = StatefulSetController(*infs, as_client(self.client), self.rec, clock=self.clock)

    async def sync(self) -> None:
        await self.ctrl.sync(KEY)

    def pods(self) -> list[str]:
        return sorted(p["metadata"]["name"] for p in self.client.all(PODS))

    def pod(self, name: str) -> dict[str, Any]:
        pod = self.client.stored(PODS, name, "default")
        assert pod is not None, name
        return pod

    async def ready(self, *names: str, phase: str = "Running") -> None:
        for name in names or tuple(self.pods()):
            await self.client.set_pod_status(name, phase, ready=phase == "Running")

    async def scale(self, **changes: Any) -> None:
        st = copy.deepcopy(self.client.stored(STATEFULSETS, "web", "default"))
        assert st is not None
        for k, v in changes.items():
            st["spec"][k] = v
        await self.client.replace(STATEFULSETS, st, "default")

    def status(self) -> dict[str, Any]:
        st = self.client.stored(STATEFULSETS, "web", "default")
        assert st is not None
        return st["status"]

    async def run_up(self, n: int) -> None:
        """Sync and make each new pod ready until ``n`` pods run."""
        for _ in range(3 * n + 3):
            await self.sync()
            await self.ready()
            if len(self.pods()) == n and all(self.pod(p)["status"]["phase"] == "Running" for p in self.pods()):
                await self.sync()
                return
        raise AssertionError(f"never reached {n} pods: {self.pods()}")


async def test_ordered_creation_claims_identity_and_events() -> None:
    c = Cluster(statefulset())
    await c.sync()
    assert c.pods() == ["web-0"]
    pod = c.pod("web-0")
    md, spec = pod["metadata"], pod["spec"]
    rev = c.status()["updateRevision"]
    assert rev.startswith("web-") and c.status()["currentRevision"] == rev
    assert md["labels"] == {"app": "web", su.POD_NAME_LABEL: "web-0", su.POD_INDEX_LABEL: "0",
                            su.REVISION_LABEL: rev}
    assert md["generateName"] == "web-" and md["ownerReferences"][0]["kind"] == "StatefulSet"
    assert spec["hostname"] == "web-0" and spec["subdomain"] == "nginx"
    assert spec["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    claim = c.client.stored(PVCS, "www-web-0", "default")
    assert claim is not None and claim["metadata"]["labels"] == {"app": "web"}
    assert "ownerReferences" not in claim["metadata"]  # Retain/Retain
    assert c.rec.messages("SuccessfulCreate") == ["create Claim www-web-0 Pod web-0 in StatefulSet web success",
                                                  "create Pod web-0 in StatefulSet web successful"]
    # web-1 waits until web-0 is Running and Ready
    await c.sync()
    assert c.pods() == ["web-0"]
    await c.ready("web-0", phase="Pending")
    await c.sync()
    assert c.pods() == ["web-0"]
    await c.ready("web-0")
    await c.sync()
    assert c.pods() == ["web-0", "web-1"]
    await c.run_up(3)
    st = c.status()
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"],
            st["availableReplicas"], st["observedGeneration"], st["collisionCount"]) == (3, 3, 3, 3, 3, 1, 0)
    revs = c.client.all(CONTROLLERREVISIONS)
    assert [(r["metadata"]["name"], r["revision"]) for r in revs] == [(rev, 1)]
    assert revs[0]["metadata"]["labels"][history.HASH_LABEL] == rev.removeprefix("web-")
    assert revs[0]["data"]["spec"]["template"]["$patch"] == "replace"


async def test_scale_down_in_reverse_one_at_a_time_keeps_claims() -> None:
    c = Cluster(statefulset())
    await c.run_up(3)
    await c.scale(replicas=1)
    await c.sync()
    assert c.pods() == ["web-0", "web-1"]
    assert c.rec.messages("SuccessfulDelete") == ["delete Pod web-2 in StatefulSet web successful"]
    await c.sync()
    assert c.pods() == ["web-0"]
    assert sorted(p["metadata"]["name"] for p in c.client.all(PVCS)) == ["www-web-0", "www-web-1", "www-web-2"]
    await c.sync()
    assert c.status()["replicas"] == 1


async def test_scale_down_waits_for_unhealthy_predecessors() -> None:
    c = Cluster(statefulset())
    await c.run_up(3)
    await c.ready("web-0", phase="Pending")
    await c.scale(replicas=2)
    await c.sync()
    assert c.pods() == ["web-0", "web-1", "web-2"]  # web-0 must be healthy first


async def test_parallel_creates_all_and_deletes_all() -> None:
    c = Cluster(statefulset(policy="Parallel", claims=False))
    await c.sync()
    assert c.pods() == ["web-0", "web-1", "web-2"]
    await c.scale(replicas=0)
    await c.sync()
    assert c.pods() == []


async def test_partition_rollout_from_highest_ordinal() -> None:
    c = Cluster(statefulset(claims=False))
    await c.run_up(3)
    old_rev = c.status()["currentRevision"]
    st = copy.deepcopy(c.client.stored(STATEFULSETS, "web", "default"))
    assert st is not None
    st["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    st["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    await c.client.replace(STATEFULSETS, st, "default")
    await c.sync()
    new_rev = c.status()["updateRevision"]
    assert new_rev != old_rev and c.pods() == ["web-0", "web-1"]
    assert sorted(r["revision"] for r in c.client.all(CONTROLLERREVISIONS)) == [1, 2]
    await c.sync()  # web-2 comes back at the update revision, not ready yet: nothing else happens
    assert c.pod("web-2")["metadata"]["labels"][su.REVISION_LABEL] == new_rev
    assert c.pod("web-2")["spec"]["containers"][0]["image"] == "nginx:1.26"
    await c.sync()
    assert c.pods() == ["web-0", "web-1", "web-2"]
    await c.ready("web-2")
    await c.sync()
    assert c.pods() == ["web-0", "web-2"]  # web-1 is next
    await c.sync()
    await c.ready("web-1")
    await c.sync()
    assert c.pod("web-0")["metadata"]["labels"][su.REVISION_LABEL] == old_rev  # below the partition
    status = c.status()
    assert (status["currentRevision"], status["updateRevision"]) == (old_rev, new_rev)
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 2)
    # partition 0 finishes the rollout and the update revision becomes current
    await c.scale(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    await c.run_up(3)
    await c.sync()
    status = c.status()
    assert status["currentRevision"] == new_rev and status["currentReplicas"] == 3


async def test_on_delete_waits_for_manual_deletes() -> None:
    c = Cluster(statefulset(claims=False, strategy={"type": "OnDelete"}))
    await c.run_up(2 + 1)
    await c.scale(template=b.template({"app": "web"}, "nginx:1.26"))
    await c.sync()
    assert c.pods() == ["web-0", "web-1", "web-2"]
    assert c.rec.messages("SuccessfulDelete") == []
    await c.client.delete(PODS, "web-1", "default")
    await c.sync()
    assert c.pod("web-1")["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert c.pod("web-0")["spec"]["containers"][0]["image"] == "nginx:1.25"


async def test_failed_pod_is_deleted_and_recreated() -> None:
    c = Cluster(statefulset(replicas=1, claims=False))
    await c.run_up(1)
    uid = c.pod("web-0")["metadata"]["uid"]
    await c.ready("web-0", phase="Failed")
    await c.sync()
    assert c.pods() == []
    await c.sync()
    assert c.pods() == ["web-0"] and c.pod("web-0")["metadata"]["uid"] != uid


async def test_retention_delete_sets_owner_refs() -> None:
    c = Cluster(statefulset(retention={"whenDeleted": "Delete", "whenScaled": "Delete"}))
    await c.run_up(2)
    st_uid = c.client.stored(STATEFULSETS, "web", "default")["metadata"]["uid"]  # type: ignore[index]
    await c.sync()
    refs = c.client.stored(PVCS, "www-web-1", "default")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [("StatefulSet", st_uid, True)]
    await c.scale(replicas=1)
    await c.sync()  # the condemned pod's claim is handed to the pod before it is deleted
    refs = c.client.stored(PVCS, "www-web-1", "default")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [r["kind"] for r in refs] == ["Pod"]


async def test_revision_history_limit_deletes_oldest() -> None:
    c = Cluster(statefulset(replicas=1, claims=False, history_limit=1))
    await c.run_up(1)
    for image in ("nginx:2", "nginx:3", "nginx:4"):
        await c.scale(template=b.template({"app": "web"}, image))
        await c.run_up(1)
    await c.sync()  # the finished rollout made the newest revision current; the rest is history
    revs = sorted((r["revision"], r["metadata"]["name"]) for r in c.client.all(CONTROLLERREVISIONS))
    assert [r for r, _ in revs] == [3, 4]  # the live one plus one of history
    assert c.status()["currentRevision"] == revs[-1][1]


async def test_rollback_renumbers_existing_revision() -> None:
    c = Cluster(statefulset(replicas=1, claims=False))
    await c.run_up(1)
    first = c.status()["currentRevision"]
    await c.scale(template=b.template({"app": "web"}, "nginx:2"))
    await c.run_up(1)
    await c.scale(template=b.template({"app": "web"}, "nginx:1.25"))
    await c.run_up(1)
    assert c.status()["currentRevision"] == first
    assert {r["metadata"]["name"]: r["revision"] for r in c.client.all(CONTROLLERREVISIONS)}[first] == 3


async def test_deleted_set_and_foreign_pods() -> None:
    c = Cluster(statefulset(replicas=1, claims=False))
    c.client.add(PODS, b.pod("other-0", {"app": "web"}))  # selected but not a member: never adopted
    await c.sync()
    assert c.client.stored(PODS, "other-0", "default")["metadata"].get("ownerReferences") is None  # type: ignore[index]
    await c.client.delete(STATEFULSETS, "web", "default")
    await c.sync()  # gone: nothing to do
