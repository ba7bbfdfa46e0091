"""Scheduler cache: assumed pods, confirmation, forgetting, node placeholders, zone-interleaved order."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.nodeinfo import PodInfo
from tests.scheduler.fixtures import node, pod

ZONE = "topology.kubernetes.io/zone"


def test_assume_confirm_forget():
    c = Cache()
    c.add_node(node("n1"))
    pi = PodInfo(pod("a", cpu="500m")).assumed_on("n1")
    c.assume_pod(pi, "n1")
    assert c.is_assumed("default/a") and c.get("n1").requested.milli_cpu == 500
    with pytest.raises(ValueError):
        c.assume_pod(pi, "n1")
    c.forget_pod("default/a")
    assert c.get("n1").requested.milli_cpu == 0
    c.assume_pod(pi, "n1")
    c.add_pod(pod("a", cpu="500m", node_name="n1"))  # the informer saw the binding
    assert not c.is_assumed("default/a") and c.get("n1").requested.milli_cpu == 500
    c.forget_pod("default/a")  # not assumed any more: no effect
    assert c.get("n1").requested.milli_cpu == 500


def test_pod_before_node_and_node_removed_with_pods():
    c = Cache()
    c.add_pod(pod("a", cpu="1", node_name="later"))
    assert c.get("later") is None and c.list() == []
    c.add_node(node("later"))
    assert c.get("later").requested.milli_cpu == 1000
    c.remove_node("later")
    assert c.list() == []
    c.remove_pod(pod("a", node_name="later"))
    assert c.get("later") is None


def test_status_only_update_keeps_pod_info():
    c = Cache()
    c.add_node(node("n1"))
    old = pod("a", cpu="1", node_name="n1")
    c.add_pod(old)
    info = c.get_pod("default/a")
    running = {**old, "status": {"phase": "Running"}}
    c.update_pod(old, running)
    assert c.get_pod("default/a") is info and info.pod is running
    relabelled = {**running, "metadata": {**running["metadata"], "labels": {"x": "1"}}}
    c.update_pod(running, relabelled)
    assert c.get_pod("default/a") is not info


def test_zone_interleaving_and_indexes():
    c = Cache()
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        c.add_node(node(name, labels={ZONE: zone}, images=[{"names": ["img:1"], "sizeBytes": 1}]))
    assert [n.name for n in c.list()] == ["a1", "b1", "a2"]
    assert c.image_num_nodes("img:1") == 3
    c.add_pod(pod("x", node_name="a1", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}, "topologyKey": ZONE}]}}))
    assert [n.name for n in c.have_pods_with_required_anti_affinity()] == ["a1"]
    assert [n.name for n in c.have_pods_with_affinity()] == ["a1"]
    c.remove_pod(pod("x", node_name="a1"))
    assert c.have_pods_with_affinity() == []
    c.remove_node("b1")
    assert c.image_num_nodes("img:1") == 2
