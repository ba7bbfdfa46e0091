"""Deployment controller: RS naming and annotations, rolling and recreate rollouts (invariants checked
after every sync), rollback by template, revision history cleanup, pause/resume, progress deadline.

The Deployment and ReplicaSet controllers run against one ``FakeClient`` whose writes reach the
informers at once; ``settle`` calls ``sync`` on every key until nothing more is written, and pods
"become ready" when a test patches their status.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from kybernetes.client.rest import DEPLOYMENTS, PODS, REPLICASETS
from kybernetes.controllers import templatehash
from kybernetes.controllers.deployment import DeploymentController, util
from kybernetes.controllers.replicaset import ReplicaSetController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

WRITES = {"create", "update", "patch", "delete"}


class Cluster:
    def __init__(self, *objs: dict) -> None:
        self.clock = Clock(T0)
        self.client = FakeClient(self.clock)
        self.rec = FakeRecorder()
        for o in objs:
            self.client.add(DEPLOYMENTS if o["kind"] == "Deployment" else REPLICASETS, o)
        d_inf, rs_inf, pod_inf = (self.client.informer(r) for r in (DEPLOYMENTS, REPLICASETS, PODS))
        self.dc = DeploymentController(d_inf, rs_inf, pod_inf, as_client(self.client), self.rec, clock=self.clock)
        self.rsc = ReplicaSetController(rs_inf, pod_inf, as_client(self.client), self.rec, clock=self.clock)
        self.checks: list[Callable[[], None]] = []

    def writes(self) -> int:
        return sum(1 for a in self.client.actions if a.verb in WRITES)

    async def settle(self, rounds: int = 100) -> None:
        for _ in range(rounds):
            before = self.writes()
            for o in list(self.client.all(DEPLOYMENTS)):
                await self.dc.sync(f"{o['metadata']['namespace']}/{o['metadata']['name']}")
                self.check()
            for o in list(self.client.all(REPLICASETS)):
                await self.rsc.sync(f"{o['metadata']['namespace']}/{o['metadata']['name']}")
                self.check()
            if self.writes() == before:
                return
        raise AssertionError("did not settle")

    def check(self) -> None:
        for c in self.checks:
            c()

    async def make_ready(self) -> int:
        n = 0
        for p in self.client.all(PODS):
            if not (p.get("status") or {}).get("conditions"):
                await self.client.patch(PODS, p["metadata"]["name"], {"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}},
                    p["metadata"]["namespace"], subresource="status")
                n += 1
        return n

    def d(self, name: str = "web") -> dict:
        return self.client.stored(DEPLOYMENTS, name, "default")

    def rss(self) -> list[dict]:
        return sorted(self.client.all(REPLICASETS), key=lambda r: util.revision(r))

    def pods_of(self, rs: dict) -> list[dict]:
        uid = rs["metadata"]["uid"]
        return [p for p in self.client.all(PODS) if p["metadata"]["ownerReferences"][0]["uid"] == uid]

    async def set_image(self, image: str, name: str = "web") -> None:
        d = copy.deepcopy(self.d(name))
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        await self.client.replace(DEPLOYMENTS, d, "default")

    async def rollout(self) -> None:
        """Settle, make new pods ready, repeat until every pod is ready."""
        for _ in range(50):
            await self.settle()
            if not await self.make_ready():
                await self.settle()
                return
        raise AssertionError("rollout did not finish")


def cond(d: dict, type_: str) -> dict:
    return next(c for c in d["status"]["conditions"] if c["type"] == type_)


async def test_new_replica_set_named_by_hash_with_labels_and_annotations() -> None:
    d = b.deployment(replicas=3)
    d["metadata"]["annotations"] = {util.CHANGE_CAUSE: "kubectl create deploy web", util.LAST_APPLIED: "{}"}
    c = Cluster(d)
    await c.dc.sync("default/web")
    [rs] = c.rss()
    h = rs["metadata"]["labels"]["pod-template-hash"]
    p = cond(c.d(), "Progressing")
    assert (p["reason"], p["message"]) == ("NewReplicaSetCreated", f'Created new replica set "web-{h}"')
    await c.settle()
    [rs] = c.rss()
    assert rs["metadata"]["name"] == f"web-{h}"
    assert h == templatehash.compute_hash(b.deployment()["spec"]["template"])
    assert set(h) <= set(templatehash.SAFE_ALPHABET) and 1 <= len(h) <= 10
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    ann = rs["metadata"]["annotations"]
    assert ann == {util.REVISION: "1", util.DESIRED_REPLICAS: "3", util.MAX_REPLICAS: "4",
                   util.CHANGE_CAUSE: "kubectl create deploy web"}
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("Deployment", "web", True, True)
    assert len(c.pods_of(rs)) == 3
    assert all(p["metadata"]["labels"]["pod-template-hash"] == h for p in c.pods_of(rs))
    assert f"Scaled up replica set web-{h} from 0 to 3" in c.rec.messages("ScalingReplicaSet")
    dep = c.d()
    assert dep["metadata"]["annotations"][util.REVISION] == "1"
    assert (cond(dep, "Progressing")["reason"], cond(dep, "Progressing")["message"]) == \
        ("ReplicaSetUpdated", f'ReplicaSet "web-{h}" is progressing.')
    assert cond(dep, "Available")["status"] == "False"


async def test_status_and_conditions_when_rolled_out() -> None:
    c = Cluster(b.deployment(replicas=3))
    await c.rollout()
    dep = c.d()
    st = dep["status"]
    assert (st["observedGeneration"], st["replicas"], st["updatedReplicas"], st["readyReplicas"],
            st["availableReplicas"]) == (1, 3, 3, 3, 3)
    assert "unavailableReplicas" not in st
    [rs] = c.rss()
    assert (cond(dep, "Available")["reason"], cond(dep, "Available")["message"]) == \
        ("MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (cond(dep, "Progressing")["reason"], cond(dep, "Progressing")["message"]) == \
        ("NewReplicaSetAvailable", f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.')


async def test_rolling_update_respects_max_surge_and_max_unavailable() -> None:
    c = Cluster(b.deployment(replicas=4, max_surge=1, max_unavailable=1))
    await c.rollout()
    pods = lambda: [p for p in c.client.all(PODS) if not p["metadata"].get("deletionTimestamp")]  # noqa: E731
    ready = lambda: sum(1 for p in pods() if (p.get("status") or {}).get("conditions"))  # noqa: E731
    seen = {"max_pods": 0, "min_ready": 99}

    def invariant() -> None:
        spec_total = sum(r["spec"]["replicas"] for r in c.client.all(REPLICASETS))
        assert spec_total <= 5, spec_total
        assert len(pods()) <= 5
        assert ready() >= 3, ready()
        seen["max_pods"] = max(seen["max_pods"], len(pods()))
        seen["min_ready"] = min(seen["min_ready"], ready())

    c.checks.append(invariant)
    await c.set_image("nginx:1.26")
    await c.rollout()
    old, new = c.rss()
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 4
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert util.revision(new) == 2 and c.d()["metadata"]["annotations"][util.REVISION] == "2"
    assert len(c.pods_of(new)) == 4 and not c.pods_of(old)
    assert seen == {"max_pods": 5, "min_ready": 3}  # the surge and the unavailability budget were both used
    msgs = c.rec.messages("ScalingReplicaSet")
    assert any(m.startswith(f"Scaled down replica set {old['metadata']['name']} from 4 to ") for m in msgs)
    st = c.d()["status"]
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (4, 4, 4)


async def test_stale_old_status_never_scales_an_old_replica_set_up() -> None:
    """An old ReplicaSet whose status still counts more available pods than its spec (its controller
    has not reported the last scale-down yet) is not "cleaned up" upwards: the sync fails and waits."""
    c = Cluster(b.deployment(replicas=4, max_surge=1, max_unavailable=1))
    await c.rollout()
    await c.set_image("nginx:1.26")
    await c.dc.sync("default/web")  # the new ReplicaSet, scaled to 1
    old, new = (copy.deepcopy(r) for r in c.rss())
    old["spec"]["replicas"] = 2  # scaled down twice; its status still counts three available pods
    old["status"].update(replicas=3, readyReplicas=3, availableReplicas=3)
    new["spec"]["replicas"] = 3  # 5 in all: no more surge; two of them available
    new["status"] = {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                     "observedGeneration": new["metadata"].get("generation", 1)}
    c.client.add(REPLICASETS, old)
    c.client.add(REPLICASETS, new)
    before = c.writes()
    with pytest.raises(RuntimeError, match="got invalid request to scale down default/web-"):
        await c.dc.sync("default/web")
    assert c.rss()[0]["spec"]["replicas"] == 2 and c.writes() == before


async def test_percent_fenceposts() -> None:
    d = b.deployment(replicas=10, max_surge="25%", max_unavailable="25%")
    assert (util.max_surge(d), util.max_unavailable(d)) == (3, 2)  # surge rounds up, unavailable down
    d = b.deployment(replicas=1, max_surge="0%", max_unavailable="0%")
    assert util.resolve_fenceposts(d) == (0, 1)
    assert util.max_surge(b.deployment(strategy="Recreate")) == 0


async def test_recreate_removes_old_pods_before_creating_new() -> None:
    c = Cluster(b.deployment(replicas=3, strategy="Recreate"))
    await c.rollout()

    def never_both() -> None:
        rss = c.rss()
        live = [rs for rs in rss if c.pods_of(rs)]
        assert len(live) <= 1, [rs["metadata"]["name"] for rs in live]

    c.checks.append(never_both)
    await c.set_image("nginx:1.26")
    await c.rollout()
    old, new = c.rss()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    assert len(c.pods_of(new)) == 3
    assert any(m.startswith("Scaled down replica set") and m.endswith("from 3 to 0")
               for m in c.rec.messages("ScalingReplicaSet"))


async def test_rollback_reuses_old_replica_set_and_bumps_revision() -> None:
    c = Cluster(b.deployment(replicas=2))
    await c.rollout()
    v1_template = copy.deepcopy(c.rss()[0]["spec"]["template"])
    await c.set_image("nginx:1.26")
    await c.rollout()
    assert len(c.rss()) == 2
    # what `kubectl rollout undo --to-revision=1` writes: the RS template without the hash label
    d = copy.deepcopy(c.d())
    v1_template["metadata"]["labels"].pop("pod-template-hash")
    d["spec"]["template"] = v1_template
    await c.client.replace(DEPLOYMENTS, d, "default")
    await c.rollout()
    rss = c.rss()
    assert len(rss) == 2  # no new ReplicaSet
    v2, v1 = rss  # sorted by revision: v1 is now the newest
    assert v1["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert v1["metadata"]["annotations"][util.REVISION] == "3"
    assert v1["metadata"]["annotations"][util.REVISION_HISTORY] == "1"
    assert v1["spec"]["replicas"] == 2 and v2["spec"]["replicas"] == 0
    assert c.d()["metadata"]["annotations"][util.REVISION] == "3"


async def test_revision_history_limit_deletes_oldest_unused() -> None:
    c = Cluster(b.deployment(replicas=1, history=1))
    await c.rollout()
    for image in ("nginx:1.26", "nginx:1.27", "nginx:1.28"):
        await c.set_image(image)
        await c.rollout()
    rss = c.rss()
    assert [util.revision(r) for r in rss] == [3, 4]
    assert [a.name for a in c.client.actions if a.verb == "delete" and a.resource == "replicasets"] == \
        [f"web-{templatehash.compute_hash(b.deployment(replicas=1, image=i)['spec']['template'])}"
         for i in ("nginx:1.25", "nginx:1.26")]


async def test_paused_deployment_scales_but_does_not_roll_out() -> None:
    c = Cluster(b.deployment(replicas=2))
    await c.rollout()
    d = copy.deepcopy(c.d())
    d["spec"]["paused"] = True
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    d["spec"]["replicas"] = 3
    await c.client.replace(DEPLOYMENTS, d, "default")
    await c.rollout()
    [rs] = c.rss()  # no new ReplicaSet while paused
    assert rs["spec"]["replicas"] == 3  # but scaling works
    p = cond(c.d(), "Progressing")
    assert (p["status"], p["reason"], p["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    d = copy.deepcopy(c.d())
    d["spec"]["paused"] = False
    await c.client.replace(DEPLOYMENTS, d, "default")
    await c.dc.sync("default/web")
    assert cond(c.d(), "Progressing")["reason"] in ("DeploymentResumed", "NewReplicaSetCreated")
    await c.rollout()
    assert len(c.rss()) == 2
    assert cond(c.d(), "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_progress_deadline_exceeded() -> None:
    c = Cluster(b.deployment(replicas=2, deadline=60))
    await c.settle()
    later: list[tuple[str, float]] = []
    c.dc.queue.add_after = lambda key, delay: later.append((key, delay))  # type: ignore[method-assign]
    await c.dc.sync("default/web")
    assert later and later[-1][0] == "default/web" and 59 <= later[-1][1] <= 61
    c.clock.advance(61)
    await c.dc.sync("default/web")
    p = cond(c.d(), "Progressing")
    name = c.rss()[0]["metadata"]["name"]
    assert (p["status"], p["reason"], p["message"]) == \
        ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.')


async def test_scale_event_mid_rollout_is_proportional() -> None:
    c = Cluster(b.deployment(replicas=10, max_surge=3, max_unavailable=2))
    await c.rollout()
    await c.set_image("nginx:1.26")
    await c.settle()  # new pods stay unready: the rollout is stuck half way
    old, new = c.rss()
    before = (old["spec"]["replicas"], new["spec"]["replicas"])
    d = copy.deepcopy(c.d())
    d["spec"]["replicas"] = 20
    await c.client.replace(DEPLOYMENTS, d, "default")
    await c.dc.sync("default/web")
    old, new = c.rss()
    total = old["spec"]["replicas"] + new["spec"]["replicas"]
    assert total == 20 + util.max_surge(c.d())
    assert old["spec"]["replicas"] > before[0] and new["spec"]["replicas"] > before[1]


async def test_adopts_orphan_replica_set_matching_template() -> None:
    d = b.deployment(replicas=1)
    orphan = b.replicaset("web-old", 1, labels={"app": "web"}, tmpl=d["spec"]["template"],
                          annotations={util.REVISION: "1"})
    c = Cluster(d, orphan)
    await c.settle()
    [rs] = c.rss()
    assert rs["metadata"]["name"] == "web-old"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"


async def test_selecting_all_is_refused() -> None:
    d = b.deployment()
    d["spec"]["selector"] = {}
    c = Cluster(d)
    await c.dc.sync("default/web")
    assert c.rec.reasons() == ["SelectingAll"]
    assert not c.rss()
