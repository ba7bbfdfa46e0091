"""ImageLocality, VolumeBinding, SchedulingGates, DefaultBinder."""

from __future__ import annotations

import pytest

from kybernetes.client.errors import ConflictError
from kybernetes.scheduler.framework import Code, CycleState
from kybernetes.scheduler.nodeinfo import PodInfo, normalized_image_name
from kybernetes.scheduler.plugins import defaultbinder, imagelocality, schedulinggates, volumebinding
from tests.scheduler.fixtures import (
    RecordingClient,
    cache_with,
    framework,
    node,
    node_info,
    pod,
    reasons,
    run_filter,
)

MB = 1024 * 1024


@pytest.mark.parametrize(("name", "want"), [
    ("nginx", "nginx:latest"), ("nginx:1.27", "nginx:1.27"), ("reg:5000/app", "reg:5000/app:latest"),
    ("app@sha256:abc", "app@sha256:abc"),
])
def test_normalized_image_name(name, want):
    assert normalized_image_name(name) == want


def test_image_locality_prefers_nodes_with_big_spread_images():
    big = [{"names": ["nginx:latest"], "sizeBytes": 500 * MB}]
    c = cache_with([node("has", images=big), node("also", images=big), node("none")])
    pl = imagelocality.ImageLocality(framework(c))
    p = PodInfo(pod("a", image="nginx"))
    state = CycleState()
    assert pl.pre_score(state, p, c.list()) is None
    # 500MB * 2/3 spread = 333MB; (333-23)/(1000-23) of 100 -> 31
    assert {n.name: pl.score(state, p, n) for n in c.list()} == {"has": 31, "also": 31, "none": 0}
    st = pl.pre_score(CycleState(), PodInfo(pod("b", image="redis")), c.list())
    assert st is not None and st.code == Code.SKIP


def test_calculate_priority_clamps():
    assert imagelocality.calculate_priority(0, 1) == 0
    assert imagelocality.calculate_priority(10_000 * MB, 1) == 100


def _pvc(name, volume="", sc="", deleting=False):
    md = {"name": name, "namespace": "default"}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": {"volumeName": volume, **({"storageClassName": sc} if sc else {})}}


def _pv(name, zone=None):
    spec = {}
    if zone:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": [zone]}]}]}}
    return {"metadata": {"name": name}, "spec": spec}


def _with_claim(claim="data", ephemeral=False):
    vol = {"name": "v", "ephemeral": {"volumeClaimTemplate": {}}} if ephemeral else \
        {"name": "v", "persistentVolumeClaim": {"claimName": claim}}
    return pod("a", volumes=[vol])


WFFC = {"metadata": {"name": "local"}, "volumeBindingMode": "WaitForFirstConsumer"}
IMMEDIATE = {"metadata": {"name": "fast"}, "volumeBindingMode": "Immediate"}


@pytest.mark.parametrize(("p", "pvcs", "want"), [
    (pod("a"), [], ()),
    (_with_claim(), [], ('persistentvolumeclaim "data" not found',)),
    (_with_claim(ephemeral=True), [],
     ('waiting for ephemeral volume controller to create the persistentvolumeclaim "a-v"',)),
    (_with_claim(), [_pvc("data", deleting=True)], ('persistentvolumeclaim "data" is being deleted',)),
    (_with_claim(), [_pvc("data")], ("pod has unbound immediate PersistentVolumeClaims",)),
    (_with_claim(), [_pvc("data", sc="fast")], ("pod has unbound immediate PersistentVolumeClaims",)),
    (_with_claim(), [_pvc("data", sc="local")], ()),
    (_with_claim(), [_pvc("data", volume="pv1")], ()),
    (_with_claim(), [_pvc("data", volume="pv-b")], ("node(s) had volume node affinity conflict",)),
    (_with_claim(), [_pvc("data", volume="pv-a")], ()),
])
def test_volume_binding(p, pvcs, want):
    fw = framework(PersistentVolumeClaim=pvcs, PersistentVolume=[_pv("pv1"), _pv("pv-a", "a"), _pv("pv-b", "b")],
                   StorageClass=[WFFC, IMMEDIATE])
    st = run_filter(volumebinding.VolumeBinding(None, fw), p, node_info(node("n1", labels={"zone": "a"})))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


async def test_volume_binding_pre_bind_selects_node_and_waits_for_the_claim():
    fw = framework(PersistentVolumeClaim=[_pvc("data", sc="local")], StorageClass=[WFFC])
    client = RecordingClient()
    fw._client = client  # type: ignore[assignment]
    pl = volumebinding.VolumeBinding({"bindTimeoutSeconds": 5}, fw)
    state, pi = CycleState(), PodInfo(_with_claim())
    pl.pre_filter(state, pi)
    fw.lister("PersistentVolumeClaim").store["default/data"]["spec"]["volumeName"] = "pv-new"  # provisioned
    assert await pl.pre_bind(state, pi, "n1") is None
    assert client.of("patch")[0]["patch"] == {"metadata": {"annotations": {
        "volume.kubernetes.io/selected-node": "n1"}}}


def test_scheduling_gates():
    pl = schedulinggates.SchedulingGates()
    assert pl.pre_enqueue(PodInfo(pod("a"))) is None
    st = pl.pre_enqueue(PodInfo(pod("b", schedulingGates=[{"name": "x"}, {"name": "y"}])))
    assert st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("waiting for scheduling gates: [x y]",)


async def test_default_binder_posts_binding():
    fw = framework()
    client = RecordingClient()
    fw._client = client  # type: ignore[assignment]
    pl = defaultbinder.DefaultBinder(fw)
    assert await pl.bind(CycleState(), PodInfo(pod("web-1")), "node1") is None
    assert client.calls == [("create", "pods", "default", "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web-1", "namespace": "default", "uid": "uid-web-1"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node1"}})]
    client.fail_bind = ConflictError(409, {"message": 'pod web-1 is already assigned to node "n2"'})
    st = await pl.bind(CycleState(), PodInfo(pod("web-1")), "node1")
    assert st is not None and st.code == Code.ERROR


def _static_pv(name, node_name, size="5Gi", sc="local"):
    return {"metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                     "local": {"path": f"/mnt/{name}"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]}]}}},
            "status": {"phase": "Available"}}


def _sized_pvc(name, sc="local", size="1Gi"):
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"storageClassName": sc, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}}}


NO_PROVISIONER = {"metadata": {"name": "local"}, "volumeBindingMode": "WaitForFirstConsumer",
                  "provisioner": "kubernetes.io/no-provisioner"}


async def test_volume_binding_finds_static_local_volumes_per_node_and_reserves_one():
    fw = framework(PersistentVolumeClaim=[_sized_pvc("data")], StorageClass=[NO_PROVISIONER],
                   PersistentVolume=[_static_pv("on-n1", "n1"), _static_pv("small-on-n2", "n2", size="100Mi")])
    client = RecordingClient()
    fw._client = client  # type: ignore[assignment]
    pl = volumebinding.VolumeBinding({"bindTimeoutSeconds": 5}, fw)
    state, pi = CycleState(), PodInfo(_with_claim())
    pl.pre_filter(state, pi)
    assert pl.filter(state, pi, node_info(node("n1"))) is None
    st = pl.filter(state, pi, node_info(node("n2")))
    assert reasons(st) == ("node(s) didn't find available persistent volumes to bind",)
    fw.lister("PersistentVolumeClaim").store["default/data"]["spec"]["volumeName"] = "on-n1"  # the binder's part
    assert await pl.pre_bind(state, pi, "n1") is None
    (reserved,) = client.of("replace")
    assert reserved["metadata"]["name"] == "on-n1"
    assert reserved["spec"]["claimRef"]["name"] == "data" and reserved["spec"]["claimRef"]["uid"] == "uid-data"
    assert reserved["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert client.of("patch") == []  # nothing to provision
    assert "claimRef" not in fw.lister("PersistentVolume").store["on-n1"]["spec"]  # the cache is not touched
