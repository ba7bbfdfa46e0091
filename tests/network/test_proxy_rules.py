"""Rule generation for both backends: given Services + EndpointSlices, the exact kernel text.

Full-table outputs are compared with reviewed snapshots in ``snapshots/``; the per-service
tables check the chains and map elements each feature produces; the update tests check that an
endpoint change touches only the service's chains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.network.proxy import iptables, model, nftables
from tests.network.builders import endpoint, endpoint_slice, service

SNAPSHOTS = Path(__file__).parent / "snapshots"
A, B, C = "10.42.1.11", "10.42.1.12", "10.42.2.11"
CFG = model.ProxyConfig(nodeport_ips=("10.99.0.1",), cluster_cidr="10.42.0.0/16")


def plans(svcs: list[dict], slices: list[dict]) -> list[model.ServicePlan]:
    return model.build_plans(svcs, slices, "node-1")


def web_and_empty() -> list[model.ServicePlan]:
    return plans([service("web", type_="NodePort", node_ports={"http": 30080}),
                  service("empty", cluster_ip="10.43.0.20", ports=[("dns", 53, "UDP")])],
                 [endpoint_slice("web", [endpoint(A), endpoint(B, ready=False), endpoint(C, node="node-2")])])


def test_chain_names_hash_like_kube_proxy() -> None:
    # Values published for kube-proxy's portProtoHash (KUBE-SVC-TCOU7JCQXEZGVUNU is every cluster's DNS).
    assert iptables.port_proto_hash("kube-system/kube-dns:dns", "udp") == "TCOU7JCQXEZGVUNU"
    assert iptables.port_proto_hash("default/web:http", "tcp") == "CDGGSHYLG3RE2FKL"
    svc = web_and_empty()[1].svc
    ep = model.Endpoint("10.42.1.11", 8080)
    assert iptables.cluster_chain(svc) == "KUBE-SVC-CDGGSHYLG3RE2FKL"
    assert iptables.endpoint_chain(svc, ep) == "KUBE-SEP-75Q76AQZB2YN2TM3"
    assert nftables.cluster_chain(svc) == "service-SUSTUHLJ-default/web/tcp/http"


def test_nftables_full_table_snapshot() -> None:
    text = nftables.render_full(nftables.desired_state(web_and_empty(), CFG), CFG)
    assert text == (SNAPSHOTS / "nftables_web_and_empty.nft").read_text()


def test_iptables_restore_snapshot() -> None:
    text = iptables.render(iptables.desired_state(web_and_empty(), CFG), None)
    assert text == (SNAPSHOTS / "iptables_web_and_empty.rules").read_text()


def test_nftables_local_policy_loadbalancer_affinity() -> None:
    ps = plans([service("lb", cluster_ip="10.43.0.30", type_="LoadBalancer", node_ports={"http": 30081}, etp="Local",
                        lb_ips=["10.99.0.1"], affinity_seconds=60)],
               [endpoint_slice("lb", [endpoint(A), endpoint(C, node="node-2")])])
    st = nftables.desired_state(ps, CFG)
    svc = "service-D2RGPZ6L-default/lb/tcp/http"
    ext, loc = "external-D2RGPZ6L-default/lb/tcp/http", "local-D2RGPZ6L-default/lb/tcp/http"
    ep_a = "endpoint-7ZUZEQXO-default/lb/tcp/http__10.42.1.11/8080"
    aff_a = "affinity-7ZUZEQXO-default/lb/tcp/http__10.42.1.11/8080"
    assert st.maps["service-ips"] == {"10.43.0.30 . tcp . 80": f"goto {svc}", "10.99.0.1 . tcp . 80": f"goto {ext}"}
    assert st.maps["service-nodeports"] == {"tcp . 30081": f"goto {ext}"}
    assert st.chains[ext] == (f"ip saddr 10.42.0.0/16 goto {svc}", "fib saddr type local jump mark-for-masquerade",
                              f"fib saddr type local goto {svc}", f"goto {loc}")
    assert st.chains[loc] == (f"ip saddr @{aff_a} goto {ep_a}", f"numgen random mod 1 vmap {{ 0 : goto {ep_a} }}")
    assert st.chains[ep_a] == ("ip saddr 10.42.1.11 jump mark-for-masquerade", f"update @{aff_a} {{ ip saddr }}",
                               "meta l4proto tcp dnat to 10.42.1.11:8080")
    assert st.sets == {aff_a: 60, "affinity-HEAHHTPB-default/lb/tcp/http__10.42.2.11/8080": 60}


def test_iptables_local_policy_loadbalancer_affinity() -> None:
    ps = plans([service("lb", cluster_ip="10.43.0.30", type_="LoadBalancer", node_ports={"http": 30081}, etp="Local",
                        lb_ips=["10.99.0.1"], affinity_seconds=60)],
               [endpoint_slice("lb", [endpoint(A), endpoint(C, node="node-2")])])
    nat = iptables.desired_state(ps, CFG).nat
    h = "JSLCNGWSGB5JPS5Q"
    sep_a = "KUBE-SEP-VNWMUYRIXKOAGLSE"
    assert nat[f"KUBE-EXT-{h}"] == [
        f'-m comment --comment "pod traffic for default/lb:http external destinations" -s 10.42.0.0/16 -j KUBE-SVC-{h}',
        '-m comment --comment "masquerade LOCAL traffic for default/lb:http external destinations" '
        "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
        '-m comment --comment "route LOCAL traffic for default/lb:http external destinations" '
        f"-m addrtype --src-type LOCAL -j KUBE-SVC-{h}",
        f"-j KUBE-SVL-{h}"]
    assert nat[f"KUBE-SVL-{h}"] == [
        f'-m comment --comment "default/lb:http -> 10.42.1.11:8080" -m recent --name {sep_a} --rcheck --seconds 60 '
        f"--reap -j {sep_a}",
        f'-m comment --comment "default/lb:http -> 10.42.1.11:8080" -j {sep_a}']
    assert nat[sep_a][1] == (f'-m comment --comment "default/lb:http" -m recent --name {sep_a} --set -m tcp -p tcp '
                             "-j DNAT --to-destination 10.42.1.11:8080")
    assert ('-m comment --comment "default/lb:http loadbalancer IP" -m tcp -p tcp -d 10.99.0.1 --dport 80 '
            f"-j KUBE-EXT-{h}") in nat["KUBE-SERVICES"]


@pytest.mark.parametrize(("svc", "eps", "nft_maps", "ipt_filter"), [
    # external policy Local without local endpoints: NodePort traffic dropped, ClusterIP still served
    (service("s", cluster_ip="10.43.0.40", type_="NodePort", node_ports={"http": 30082}, etp="Local"),
     [endpoint(C, node="node-2")],
     {"no-endpoint-nodeports": {"tcp . 30082": "drop"}},
     {"KUBE-EXTERNAL-SERVICES": ['-m comment --comment "default/s:http has no local endpoints" -m addrtype '
                                 "--dst-type LOCAL -m tcp -p tcp --dport 30082 -j DROP"]}),
    # internal policy Local without local endpoints: ClusterIP traffic dropped
    (service("s", cluster_ip="10.43.0.40", itp="Local"), [endpoint(C, node="node-2")],
     {"no-endpoint-services": {"10.43.0.40 . tcp . 80": "drop"}},
     {"KUBE-SERVICES": ['-m comment --comment "default/s:http has no local endpoints" -m tcp -p tcp -d 10.43.0.40 '
                        "--dport 80 -j DROP"]}),
    # no endpoints at all: every destination rejected
    (service("s", cluster_ip="10.43.0.40", type_="NodePort", node_ports={"http": 30082}, external_ips=["192.0.2.7"]),
     [endpoint(A, ready=False)],
     {"no-endpoint-services": {"10.43.0.40 . tcp . 80": "goto reject-chain", "192.0.2.7 . tcp . 80": "goto reject-chain"},
      "no-endpoint-nodeports": {"tcp . 30082": "goto reject-chain"}, "service-ips": {}, "service-nodeports": {}},
     {"KUBE-SERVICES": ['-m comment --comment "default/s:http has no endpoints" -m tcp -p tcp -d 10.43.0.40 '
                        "--dport 80 -j REJECT --reject-with tcp-reset"]}),
])
def test_no_usable_endpoints(svc: dict, eps: list[dict], nft_maps: dict, ipt_filter: dict) -> None:
    ps = plans([svc], [endpoint_slice("s", eps)])
    st = nftables.desired_state(ps, CFG)
    for name, elems in nft_maps.items():
        assert st.maps[name] == elems
    filt = iptables.desired_state(ps, CFG).filter
    for chain, rules in ipt_filter.items():
        assert filt[chain] == rules


def test_nodeport_addresses_without_node_ips() -> None:
    everywhere = model.ProxyConfig()
    assert "fib daddr type local meta l4proto . th dport vmap @service-nodeports" in "\n".join(
        nftables.skeleton(everywhere))
    no_lo = model.ProxyConfig(localhost_nodeports=False)
    assert "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto" in "\n".join(nftables.skeleton(no_lo))
    assert nftables.MARTIAN_DROP not in "\n".join(nftables.skeleton(no_lo))
    nat = iptables.desired_state([], no_lo).nat["KUBE-SERVICES"]
    assert nat[-1].endswith("-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS")
    assert iptables.FIREWALL not in iptables.desired_state([], no_lo).filter


def test_nftables_endpoint_change_updates_only_the_service_chains() -> None:
    svc = service("web")
    before = nftables.desired_state(plans([svc], [endpoint_slice("web", [endpoint(A), endpoint(B)])]), CFG)
    after = nftables.desired_state(plans([svc], [endpoint_slice("web", [endpoint(A), endpoint(C)])]), CFG)
    t = "ip kybernetes-proxy"
    chain = "service-SUSTUHLJ-default/web/tcp/http"
    ep_a, ep_b, ep_c = (nftables.endpoint_chain(model.build_plans([svc], [], "")[0].svc, model.Endpoint(ip, 8080))
                        for ip in (A, B, C))
    assert nftables.render_update(before, after) == "\n".join([
        f"add chain {t} {ep_c}",
        f"flush chain {t} {ep_c}",
        f"add rule {t} {ep_c} ip saddr {C} jump mark-for-masquerade",
        f"add rule {t} {ep_c} meta l4proto tcp dnat to {C}:8080",
        f"flush chain {t} {chain}",
        f"add rule {t} {chain} ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
        f"add rule {t} {chain} numgen random mod 2 vmap {{ 0 : goto {ep_a}, 1 : goto {ep_c} }}",
        f"flush chain {t} {ep_b}",
        f"delete chain {t} {ep_b}"]) + "\n"
    assert nftables.render_update(after, after) == ""


def test_nftables_service_removal_deletes_map_elements_chains_and_sets() -> None:
    svc = service("web", affinity_seconds=30)
    before = nftables.desired_state(plans([svc], [endpoint_slice("web", [endpoint(A)])]), CFG)
    text = nftables.render_update(before, nftables.desired_state([], CFG))
    assert text is not None
    assert "delete element ip kybernetes-proxy service-ips { 10.43.0.10 . tcp . 80 }" in text
    lines = text.splitlines()
    assert [ln.split()[0:2] for ln in lines[-1:]] == [["delete", "set"]]
    assert sum(ln.startswith("delete chain") for ln in lines) == 2


def test_iptables_partial_sync_rewrites_only_changed_service_chains() -> None:
    web, other = service("web"), service("other", cluster_ip="10.43.0.11")
    s_other = endpoint_slice("other", [endpoint(C)])
    old = iptables.desired_state(plans([web, other], [endpoint_slice("web", [endpoint(A)]), s_other]), CFG)
    new = iptables.desired_state(plans([web, other], [endpoint_slice("web", [endpoint(B)]), s_other]), CFG)
    text = iptables.render(new, old)
    declared = {ln[1:].split()[0] for ln in text.splitlines() if ln.startswith(":")}
    other_svc = iptables.cluster_chain(model.build_plans([other], [], "")[0].svc)
    web_plan = model.build_plans([web], [], "")[0]
    assert iptables.cluster_chain(web_plan.svc) in declared and other_svc not in declared
    assert iptables.endpoint_chain(web_plan.svc, model.Endpoint(B, 8080)) in declared
    gone = iptables.endpoint_chain(web_plan.svc, model.Endpoint(A, 8080))
    assert f"-X {gone}" in text.splitlines()
    assert {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"} <= declared


def test_iptables_missing_jump_rules_are_inserted_once() -> None:
    saved = {"filter": "", "nat": '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'}
    inserts = iptables.missing_jumps(saved, localhost=True)
    assert '-I OUTPUT 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in inserts["nat"]
    assert not any("PREROUTING" in ln for ln in inserts["nat"])
    assert "-I INPUT 1 -j KUBE-FIREWALL" in inserts["filter"]


def test_nftables_periodic_rewrite_keeps_the_table_and_affinity_sets() -> None:
    svc = service("web", affinity_seconds=30)
    old = nftables.desired_state(plans([svc], [endpoint_slice("web", [endpoint(A), endpoint(B)])]), CFG)
    new = nftables.desired_state(plans([svc], [endpoint_slice("web", [endpoint(A)])]), CFG)
    lines = nftables.render_rewrite(new, CFG, old).splitlines()
    assert "delete table" not in "\n".join(lines) and lines[0] == "table ip kybernetes-proxy {"
    aff_a = next(n for n in new.sets)
    assert f"\tset {aff_a} {{ type ipv4_addr; flags dynamic,timeout; timeout 30s; }}" in lines  # declared, not flushed
    assert not any(ln.startswith(f"flush set ip kybernetes-proxy {aff_a}") for ln in lines)
    assert "flush map ip kybernetes-proxy service-ips" in lines
    gone_chain = next(iter(old.chains.keys() - new.chains.keys()))
    assert lines[-3:] == [f"flush chain ip kybernetes-proxy {gone_chain}", f"delete chain ip kybernetes-proxy {gone_chain}",
                          f"delete set ip kybernetes-proxy {next(iter(old.sets.keys() - new.sets.keys()))}"]
