"""Node IPAM: podCIDRs allocated on add, kept, released on delete, rebuilt after a restart,
CIDRNotAvailable when the range is full, flag validation. Fake informers and a recording client."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kybernetes.client.rest import NODES
from kybernetes.controllers.nodeipam import CIDR_NOT_AVAILABLE, CIDRSet, IPAMConfig, NodeIPAMController
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]


def node(name: str, *cidrs: str) -> Obj:
    spec: Obj = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)} if cidrs else {}
    return {"metadata": {"name": name}, "spec": spec}


async def start(client: FakeClient, cfg: IPAMConfig) -> tuple[NodeIPAMController, FakeRecorder]:
    rec = FakeRecorder()
    ctrl = NodeIPAMController(client.informer(NODES), as_client(client), rec, cfg)
    await ctrl.wait_for_cache_sync()
    return ctrl, rec


async def drain(ctrl: NodeIPAMController) -> list[str]:
    """The keys queued so far (the queue is left empty)."""
    keys = []
    while len(ctrl.queue):
        key = await ctrl.queue.get()
        assert key is not None
        ctrl.queue.done(key)
        keys.append(key)
    return sorted(set(keys))


def cidrs_of(client: FakeClient, name: str) -> tuple[str, list[str]] | None:
    stored = client.stored(NODES, name)
    assert stored is not None
    spec = stored.get("spec") or {}
    return (spec["podCIDR"], spec["podCIDRs"]) if spec.get("podCIDRs") else None


async def test_nodes_get_consecutive_ranges_and_keep_them() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    client.add(NODES, node("b"))
    ctrl, rec = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    await ctrl.sync("a")
    await ctrl.sync("b")
    assert cidrs_of(client, "a") == ("10.42.0.0/24", ["10.42.0.0/24"])
    assert cidrs_of(client, "b") == ("10.42.1.0/24", ["10.42.1.0/24"])
    client.clear()
    await ctrl.sync("a")  # already has its range: nothing to write
    assert client.verbs() == [] and rec.events == []


async def test_restart_rebuilds_used_ranges_from_existing_nodes() -> None:
    client = FakeClient()
    client.add(NODES, node("old-0", "10.42.0.0/24"))
    client.add(NODES, node("old-2", "10.42.2.0/24"))
    client.add(NODES, node("new"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    await ctrl.sync("new")
    assert cidrs_of(client, "new") == ("10.42.1.0/24", ["10.42.1.0/24"])
    assert ctrl.sets[0].used == {0, 1, 2}


async def test_deleted_node_frees_its_range_and_a_waiting_node_gets_it() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    client.add(NODES, node("b"))
    client.add(NODES, node("c"))
    ctrl, rec = await start(client, IPAMConfig.parse("10.42.0.0/23"))  # room for two /24s
    for name in ("a", "b", "c"):
        await ctrl.sync(name)
    assert cidrs_of(client, "c") is None
    assert rec.events == [("c", "Normal", CIDR_NOT_AVAILABLE, "Node c status is now: CIDRNotAvailable")]
    await drain(ctrl)  # (the informer's events so far)
    await client.delete(NODES, "a")
    await ctrl.sync("a")
    assert await drain(ctrl) == ["a", "c"]  # c is queued again now that a range is free
    await ctrl.sync("c")
    assert cidrs_of(client, "c") == ("10.42.0.0/24", ["10.42.0.0/24"])


async def test_cursor_rotates_so_a_freed_range_is_not_reused_at_once() -> None:
    s = CIDRSet(ipaddress.ip_network("10.42.0.0/16"), 24)
    first, second = s.allocate_next(), s.allocate_next()
    assert s.allocate_next() == ipaddress.ip_network("10.42.2.0/24")
    assert first is not None and second is not None
    s.release(first)
    assert s.allocate_next() == ipaddress.ip_network("10.42.3.0/24")


async def test_full_set_wraps_to_the_freed_block_then_reports_exhaustion() -> None:
    s = CIDRSet(ipaddress.ip_network("10.0.0.0/30"), 31)
    a, b = s.allocate_next(), s.allocate_next()
    assert (a, b) == (ipaddress.ip_network("10.0.0.0/31"), ipaddress.ip_network("10.0.0.2/31"))
    assert s.allocate_next() is None
    s.release(a)
    assert s.allocate_next() == a


async def test_service_range_inside_the_cluster_cidr_is_never_handed_out() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.0.0.0/22", service_cidr="10.0.0.0/23"))
    await ctrl.sync("a")
    assert cidrs_of(client, "a") == ("10.0.2.0/24", ["10.0.2.0/24"])


async def test_dual_stack_gets_one_range_per_family() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16,fd00:42::/56"))
    await ctrl.sync("a")
    assert cidrs_of(client, "a") == ("10.42.0.0/24", ["10.42.0.0/24", "fd00:42::/64"])


async def test_refused_patch_frees_the_range_and_is_retried() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    from tests.controllers.fakes import conflict

    client.fail("patch", "nodes", conflict(NODES, "a"), times=1)
    with pytest.raises(Exception, match="Operation cannot be fulfilled"):
        await ctrl.sync("a")
    assert ctrl.sets[0].used == set()
    await ctrl.sync("a")
    assert cidrs_of(client, "a") == ("10.42.1.0/24", ["10.42.1.0/24"])


async def test_unknown_outcome_keeps_the_range_and_resends_the_same_patch() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    client.fail("patch", "nodes", TimeoutError(), times=1)
    with pytest.raises(TimeoutError):
        await ctrl.sync("a")
    assert ctrl.sets[0].used == {0}
    await ctrl.sync("a")
    assert cidrs_of(client, "a") == ("10.42.0.0/24", ["10.42.0.0/24"])
    assert ctrl.sets[0].used == {0}


async def test_recreated_node_of_the_same_name_gets_a_fresh_allocation() -> None:
    client = FakeClient()
    client.add(NODES, node("a"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    await ctrl.sync("a")
    await client.delete(NODES, "a")
    client.add(NODES, node("a"))  # deleted and re-created before the controller saw the deletion
    await ctrl.sync("a")
    assert cidrs_of(client, "a") == ("10.42.1.0/24", ["10.42.1.0/24"])
    assert ctrl.sets[0].used == {1}


async def test_range_outside_the_cluster_cidr_is_left_alone() -> None:
    client = FakeClient()
    client.add(NODES, node("foreign", "192.168.5.0/24"))
    ctrl, _ = await start(client, IPAMConfig.parse("10.42.0.0/16"))
    client.clear()
    await ctrl.sync("foreign")
    assert client.verbs() == [] and ctrl.sets[0].used == set()


@pytest.mark.parametrize(("cluster", "mask", "message"), [
    ("", 0, "--cluster-cidr is empty"),
    ("10.42.0.1/16", 0, "is not a network in CIDR notation"),
    ("10.42.0.0/16,10.43.0.0/16", 0, "one IPv4 and one IPv6 range"),
    ("10.42.0.0/16", 8, "use a size between 16 and 32"),
    ("10.42.0.0/16,fd00::/56", 24, "cannot be used with a dual-stack"),
    ("fd00::/32", 0, "more than 2^16 node ranges"),
])
def test_flag_validation_names_the_fix(cluster: str, mask: int, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("^", r"\^")):
        IPAMConfig.parse(cluster, mask)


def test_defaults_are_slash_24_and_slash_64() -> None:
    assert IPAMConfig.parse("10.42.0.0/16,fd00::/56").node_mask_sizes == (24, 64)
    assert IPAMConfig.parse("10.42.0.0/16", 26).node_mask_sizes == (26,)
