"""ReplicaSet controller: slow start, deletion ranking, adoption/orphaning, status, expectations."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.rest import PODS, REPLICASETS, REPLICATIONCONTROLLERS
from kybernetes.controllers import podcontrol, replicaset
from kybernetes.controllers.replicaset import ReplicaSetController
from kybernetes.controllers.replicationcontroller import ReplicationControllerController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client, conflict


def setup(*objs: dict, attach: bool = True) -> tuple[ReplicaSetController, FakeClient, FakeRecorder]:
    client, rec = FakeClient(Clock(T0)), FakeRecorder()
    for o in objs:
        client.add(REPLICASETS if o["kind"] == "ReplicaSet" else PODS, o)
    ctrl = ReplicaSetController(client.informer(REPLICASETS), client.informer(PODS, attach=attach),
                                as_client(client), rec, clock=client.clock)
    return ctrl, client, rec


async def test_slow_start_batches_double() -> None:
    started: list[int] = []
    completed = 0

    async def fn() -> None:
        nonlocal completed
        started.append(completed)
        await asyncio.sleep(0)  # yield so the whole batch starts before any finishes
        completed += 1

    ok, err = await podcontrol.slow_start_batch(10, 1, fn)
    assert (ok, err) == (10, None)
    batches = [started.count(c) for c in sorted(set(started))]
    assert batches == [1, 2, 4, 3]


async def test_scale_up_creates_pods_with_owner_and_events() -> None:
    rs = b.replicaset("web-abc", 3)
    ctrl, client, rec = setup(rs)
    await ctrl.sync("default/web-abc")
    pods = client.all(PODS, "default")
    assert len(pods) == 3
    for p in pods:
        md = p["metadata"]
        assert md["generateName"] == "web-abc-"
        assert md["labels"] == {"app": "web"}
        assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                          "uid": rs["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]
    assert rec.messages("SuccessfulCreate") == [f"Created pod: {p['metadata']['name']}" for p in pods]
    assert ctrl.expectations.satisfied("default/web-abc")
    # the next sync sees the pods and reports them
    await ctrl.sync("default/web-abc")
    status = client.stored(REPLICASETS, "web-abc", "default")["status"]
    assert status["replicas"] == 3 and status["observedGeneration"] == 1
    assert status["fullyLabeledReplicas"] == 3
    assert client.verbs("pods").count("create") == 3


async def test_failed_create_stops_slow_start_and_sets_replica_failure() -> None:
    rs = b.replicaset("web-abc", 10)
    ctrl, client, rec = setup(rs)
    client.fail("create", "pods", conflict(PODS, "x", "quota exceeded"),
                when=lambda a: sum(1 for x in client.actions if x.verb == "create") == 5)
    with pytest.raises(Exception, match="quota exceeded"):
        await ctrl.sync("default/web-abc")
    assert client.verbs("pods").count("create") == 7  # batches 1, 2, 4 — the 4-batch had a failure
    assert len(client.all(PODS)) == 6
    assert ctrl.expectations.satisfied("default/web-abc")  # the skipped creates were un-expected
    assert rec.reasons().count("FailedCreate") == 1
    assert rec.messages("FailedCreate")[0].startswith("Error creating: ")
    cond = client.stored(REPLICASETS, "web-abc", "default")["status"]["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["reason"] == "FailedCreate" and cond["status"] == "True"
    # once creates work again the condition goes away
    await ctrl.sync("default/web-abc")
    assert len(client.all(PODS)) == 10
    await ctrl.sync("default/web-abc")
    assert "conditions" not in client.stored(REPLICASETS, "web-abc", "default")["status"]


async def test_expectations_prevent_double_creates_with_stale_cache() -> None:
    rs = b.replicaset("web-abc", 2)
    ctrl, client, _ = setup(rs, attach=False)  # pod informer never sees the creates
    await ctrl.sync("default/web-abc")
    await ctrl.sync("default/web-abc")
    assert client.verbs("pods").count("create") == 2
    assert not ctrl.expectations.satisfied("default/web-abc")


async def test_burst_limit() -> None:
    ctrl, client, _ = setup(b.replicaset("big", 20))
    ctrl.burst_replicas = 5
    await ctrl.sync("default/big")
    assert len(client.all(PODS)) == 5


async def test_scale_down_ranking() -> None:
    rs = b.replicaset("web-abc", 2)
    ctrl, client, rec = setup(rs)
    rs = client.stored(REPLICASETS, "web-abc", "default")
    now = T0
    pods = [
        b.pod("ready-old", owner=rs, node="n1", phase="Running", ready_at=now - 86400, created=now - 90000),
        b.pod("ready-new", owner=rs, node="n2", phase="Running", ready_at=now - 10, created=now - 100),
        b.pod("running-notready", owner=rs, node="n3", phase="Running", created=now - 90000),
        b.pod("pending", owner=rs, node="n4", phase="Pending", created=now - 90000),
        b.pod("unscheduled", owner=rs, phase="Pending", created=now - 90000),
    ]
    for p in pods:
        client.add(PODS, p)
    await ctrl.sync("default/web-abc")
    deleted = [a.name for a in client.actions if a.verb == "delete"]
    assert sorted(deleted) == ["pending", "running-notready", "unscheduled"]
    assert sorted(n for n in (m.removeprefix("Deleted pod: ") for m in rec.messages("SuccessfulDelete"))) == sorted(deleted)
    assert {p["metadata"]["name"] for p in client.all(PODS)} == {"ready-old", "ready-new"}
    assert ctrl.expectations.satisfied("default/web-abc")


def test_deletion_order_details() -> None:
    now = T0
    rs = {"metadata": {"name": "r", "uid": "u"}, "kind": "ReplicaSet", "apiVersion": "apps/v1"}
    old = b.pod("old", owner=rs, node="n", phase="Running", ready_at=now - 86400 * 30, uid="a")
    new = b.pod("new", owner=rs, node="n", phase="Running", ready_at=now - 5, uid="b")
    crashy = b.pod("crashy", owner=rs, node="n", phase="Running", ready_at=now - 86400 * 30, restarts=7, uid="c")
    order = replicaset.pods_to_delete([old, crashy, new], [], 2, now)
    assert [p["metadata"]["name"] for p in order] == ["new", "crashy"]
    # a pod sharing its node with more siblings goes first among otherwise equal pods
    a = b.pod("a", owner=rs, node="busy", phase="Running", ready_at=now - 100, uid="x")
    c = b.pod("c", owner=rs, node="quiet", phase="Running", ready_at=now - 100, uid="y")
    related = [a, c, b.pod("s1", node="busy", phase="Running"), b.pod("s2", node="busy", phase="Running")]
    assert replicaset.pods_to_delete([c, a], related, 1, now)[0]["metadata"]["name"] == "a"


async def test_adopt_orphans_and_release_mismatched() -> None:
    rs = b.replicaset("web-abc", 2)
    ctrl, client, _ = setup(rs)
    rs = client.stored(REPLICASETS, "web-abc", "default")
    other = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "other", "uid": "other-uid"}}
    client.add(PODS, b.pod("orphan", labels={"app": "web"}))
    client.add(PODS, b.pod("strayed", labels={"app": "db"}, owner=rs))
    client.add(PODS, b.pod("foreign", labels={"app": "web"}, owner=other))
    client.add(PODS, b.pod("mine", labels={"app": "web"}, owner=rs))
    await ctrl.sync("default/web-abc")
    patches = {a.name: a for a in client.actions if a.verb == "patch"}
    assert set(patches) == {"orphan", "strayed"}
    assert patches["orphan"].params["type"] == "application/strategic-merge-patch+json"
    assert patches["orphan"].body["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert patches["strayed"].body["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": rs["metadata"]["uid"]}]
    assert any(a.verb == "get" and a.resource == "replicasets" for a in client.actions)  # can_adopt re-read
    assert client.stored(PODS, "strayed", "default")["metadata"]["ownerReferences"] == []
    assert client.stored(PODS, "foreign", "default")["metadata"]["ownerReferences"][0]["uid"] == "other-uid"
    assert client.verbs("pods").count("create") == 0  # orphan + mine make 2
    assert client.stored(REPLICASETS, "web-abc", "default")["status"]["replicas"] == 2


async def test_no_adoption_when_owner_is_being_deleted() -> None:
    rs = b.replicaset("web-abc", 1)
    rs["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    ctrl, client, _ = setup(rs)
    client.add(PODS, b.pod("orphan"))
    await ctrl.sync("default/web-abc")
    assert "patch" not in client.verbs() and "create" not in client.verbs()


async def test_status_ready_available_and_min_ready_requeue() -> None:
    rs = b.replicaset("web-abc", 2, min_ready=30)
    ctrl, client, _ = setup(rs)
    rs = client.stored(REPLICASETS, "web-abc", "default")
    client.add(PODS, b.pod("p1", owner=rs, phase="Running", ready_at=T0 - 100))
    client.add(PODS, b.pod("p2", owner=rs, phase="Running", ready_at=T0 - 5))
    later: list[tuple[str, float]] = []
    ctrl.queue.add_after = lambda key, delay: later.append((key, delay))  # type: ignore[method-assign]
    await ctrl.sync("default/web-abc")
    st = client.stored(REPLICASETS, "web-abc", "default")["status"]
    assert (st["replicas"], st["readyReplicas"], st["availableReplicas"]) == (2, 2, 1)
    assert later == [("default/web-abc", 30)]


async def test_status_unchanged_means_no_write() -> None:
    ctrl, client, _ = setup(b.replicaset("web-abc", 0))
    await ctrl.sync("default/web-abc")
    client.clear()
    await ctrl.sync("default/web-abc")
    assert client.verbs() == []


async def test_pod_callbacks_enqueue_owner_and_observe_expectations() -> None:
    rs = b.replicaset("web-abc", 1)
    ctrl, client, _ = setup(rs)
    rs = client.stored(REPLICASETS, "web-abc", "default")
    ctrl.expectations.expect_creations("default/web-abc", 1)
    client.add(PODS, b.pod("p1", owner=rs))
    assert ctrl.expectations.satisfied("default/web-abc")
    assert len(ctrl.queue) == 1


async def test_deleted_rs_drops_expectations() -> None:
    ctrl, _client, _ = setup()
    ctrl.expectations.expect_creations("default/gone", 3)
    await ctrl.sync("default/gone")
    assert ctrl.expectations.get("default/gone") is None


async def test_replication_controller_uses_map_selector_and_v1_owner() -> None:
    client, rec = FakeClient(), FakeRecorder()
    rc = {"apiVersion": "v1", "kind": "ReplicationController",
          "metadata": {"name": "nginx", "namespace": "default", "generation": 1},
          "spec": {"replicas": 2, "selector": {"app": "nginx"}, "template": b.template({"app": "nginx"})}}
    client.add(REPLICATIONCONTROLLERS, rc)
    ctrl = ReplicationControllerController(client.informer(REPLICATIONCONTROLLERS), client.informer(PODS),
                                           as_client(client), rec)
    await ctrl.sync("default/nginx")
    pods = client.all(PODS)
    assert len(pods) == 2
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert pods[0]["metadata"]["ownerReferences"][0]["apiVersion"] == "v1"
