"""nftables backend: the plans as one private table ``ip kybernetes-proxy``, loaded with ``nft -f -``.

Layout (kube-proxy's nftables mode, research notes §6.4): verdict maps dispatch
``daddr . proto . dport`` (ClusterIPs, external IPs, load-balancer IPs) and ``proto . dport``
(NodePorts) to per-service chains; ``numgen random`` picks an endpoint chain that marks hairpin
traffic for masquerade and DNATs; a postrouting chain masquerades marked packets; filter chains
reject (or drop) new connections to services without usable endpoints.

``desired_state`` turns plans into chains/maps/sets; the first sync (and recovery from a failed
one) replaces the table atomically (``render_full``); later syncs send only the difference
(``render_update``): new or changed chains are flushed and refilled, map elements added/removed,
stale chains and affinity sets deleted, all in one transaction. Periodic full syncs rewrite every
chain and map in place (``render_rewrite``), so ClientIP affinity entries survive them.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
from dataclasses import dataclass, field

from kybernetes.network.proxy import model
from kybernetes.network.proxy._exec import CommandError, Runner
from kybernetes.network.proxy.model import Endpoint, ProxyConfig, ServicePlan

log = logging.getLogger(__name__)

FAMILY = "ip"
TABLE = "kybernetes-proxy"
_NAME_MAX = 240
_SVC_KEY = "ipv4_addr . inet_proto . inet_service : verdict"
_NP_KEY = "inet_proto . inet_service : verdict"
MAPS = {"service-ips": _SVC_KEY, "service-nodeports": _NP_KEY,
        "no-endpoint-services": _SVC_KEY, "no-endpoint-nodeports": _NP_KEY}
MARTIAN_DROP = ("ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related } "
                "ct status & dnat == 0 drop")


@functools.lru_cache(maxsize=65536)
def _hashed(name: str) -> str:
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    out = f"{digest[:8]}-{name}"
    return out if len(out) <= _NAME_MAX else out[:_NAME_MAX - 3] + "..."


def _base(svc: model.ServicePort) -> str:
    return f"{svc.namespace}/{svc.name}/{svc.protocol}/{svc.port_name}"


def cluster_chain(svc: model.ServicePort) -> str:
    return "service-" + _hashed(_base(svc))


def local_chain(svc: model.ServicePort) -> str:
    return "local-" + _hashed(_base(svc))


def external_chain(svc: model.ServicePort) -> str:
    return "external-" + _hashed(_base(svc))


def endpoint_chain(svc: model.ServicePort, ep: Endpoint) -> str:
    return "endpoint-" + _hashed(f"{_base(svc)}__{ep.ip}/{ep.port}")


def affinity_set(svc: model.ServicePort, ep: Endpoint) -> str:
    return "affinity-" + _hashed(f"{_base(svc)}__{ep.ip}/{ep.port}")


SERVICE_CHAIN_PREFIXES = ("service-", "local-", "external-", "endpoint-")


@dataclass
class NftState:
    """Everything per-service in the table: regular chains, map elements, affinity sets."""

    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=lambda: {m: {} for m in MAPS})
    sets: dict[str, int] = field(default_factory=dict)


def _verdict(v: str) -> str:
    return "goto reject-chain" if v == model.REJECT else "drop"


def _dispatch(chain: str, endpoints: tuple[Endpoint, ...], plan: ServicePlan) -> list[str]:
    svc = plan.svc
    rules = []
    if svc.affinity_seconds:
        rules += [f"ip saddr @{affinity_set(svc, ep)} goto {endpoint_chain(svc, ep)}" for ep in endpoints]
    targets = ", ".join(f"{i} : goto {endpoint_chain(svc, ep)}" for i, ep in enumerate(endpoints))
    rules.append(f"numgen random mod {len(endpoints)} vmap {{ {targets} }}")
    return rules


def add_plan(st: NftState, plan: ServicePlan, cfg: ProxyConfig) -> None:
    """Add one service port's chains, map elements and sets to ``st``."""
    svc = plan.svc
    proto = svc.protocol
    cchain, lchain, xchain = cluster_chain(svc), local_chain(svc), external_chain(svc)
    internal_chain = lchain if svc.internal_local else cchain
    external_policy_chain = lchain if svc.external_local else cchain
    vip = f"{svc.cluster_ip} . {proto} . {svc.port}"
    if plan.has_internal_endpoints:
        st.maps["service-ips"][vip] = f"goto {internal_chain}"
    else:
        st.maps["no-endpoint-services"][vip] = _verdict(plan.internal_verdict or model.DROP)
    for ip in (*svc.external_ips, *svc.lb_ips):
        key = f"{ip} . {proto} . {svc.port}"
        if plan.has_endpoints:
            st.maps["service-ips"][key] = f"goto {xchain}"
        if not plan.has_external_endpoints:
            st.maps["no-endpoint-services"][key] = _verdict(plan.external_verdict or model.DROP)
    if svc.node_port:
        key = f"{proto} . {svc.node_port}"
        if plan.has_endpoints:
            st.maps["service-nodeports"][key] = f"goto {xchain}"
        if not plan.has_external_endpoints:
            st.maps["no-endpoint-nodeports"][key] = _verdict(plan.external_verdict or model.DROP)

    masq_off_cluster = (f"ip daddr {svc.cluster_ip} {proto} dport {svc.port} ip saddr != {cfg.cluster_cidr} "
                        "jump mark-for-masquerade") if cfg.cluster_cidr else ""
    for chain, used, eps in ((cchain, plan.uses_cluster_chain, plan.cluster),
                             (lchain, plan.uses_local_chain, plan.local)):
        if used:
            head = [masq_off_cluster] if masq_off_cluster and chain == internal_chain and plan.has_internal_endpoints \
                else []
            st.chains[chain] = (*head, *_dispatch(chain, eps, plan))
    if plan.uses_external_chain:
        rules = []
        if not svc.external_local:
            rules.append("jump mark-for-masquerade")
        elif plan.uses_cluster_chain:
            if cfg.cluster_cidr:
                rules.append(f"ip saddr {cfg.cluster_cidr} goto {cchain}")
            rules += ["fib saddr type local jump mark-for-masquerade", f"fib saddr type local goto {cchain}"]
        if plan.has_external_endpoints:
            rules.append(f"goto {external_policy_chain}")
        st.chains[xchain] = tuple(rules)
    for ep in plan.reachable:
        rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if svc.affinity_seconds:
            aset = affinity_set(svc, ep)
            st.sets[aset] = svc.affinity_seconds
            rules.append(f"update @{aset} {{ ip saddr }}")
        rules.append(f"meta l4proto {proto} dnat to {ep.ip}:{ep.port}")
        st.chains[endpoint_chain(svc, ep)] = tuple(rules)


def desired_state(plans: list[ServicePlan], cfg: ProxyConfig,
                  cache: dict[ServicePlan, NftState] | None = None) -> NftState:
    """The per-service part of the table; ``cache`` keeps each plan's share between syncs, so an
    unchanged service costs a dictionary merge, not a rebuild."""
    st = NftState()
    fresh: dict[ServicePlan, NftState] = {}
    for plan in plans:
        frag = cache.get(plan) if cache is not None else None
        if frag is None:
            frag = NftState()
            add_plan(frag, plan, cfg)
        fresh[plan] = frag
        st.chains.update(frag.chains)
        st.sets.update(frag.sets)
        for m, elems in frag.maps.items():
            st.maps[m].update(elems)
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    return st


def _nodeport_match(cfg: ProxyConfig) -> str:
    if cfg.nodeport_ips:
        return "ip daddr @nodeport-ips"
    return "fib daddr type local" + ("" if cfg.localhost_nodeports else " ip daddr != 127.0.0.0/8")


def nodeport_addresses(cfg: ProxyConfig) -> list[str]:
    return [*cfg.nodeport_ips, *(["127.0.0.0/8"] if cfg.localhost_nodeports else [])]


def base_chains(cfg: ProxyConfig) -> dict[str, tuple[str, list[str]]]:
    """The fixed chains: name → (hook declaration or "", rules)."""
    mark = f"0x{cfg.masquerade_mark:x}"
    martian = [MARTIAN_DROP] if cfg.localhost_nodeports else []
    return {
        "nat-prerouting": ("type nat hook prerouting priority dstnat; policy accept;", ["jump services"]),
        "nat-output": ("type nat hook output priority -100; policy accept;", ["jump services"]),
        "nat-postrouting": ("type nat hook postrouting priority srcnat; policy accept;", ["jump masquerading"]),
        "filter-input": ("type filter hook input priority filter; policy accept;",
                         ["ct state new jump endpoints-check", *martian]),
        "filter-forward": ("type filter hook forward priority filter; policy accept;",
                           ["ct state new jump endpoints-check"]),
        "filter-output": ("type filter hook output priority filter; policy accept;",
                          ["ct state new jump endpoints-check", *martian]),
        "services": ("", ["ip daddr . meta l4proto . th dport vmap @service-ips",
                          f"{_nodeport_match(cfg)} meta l4proto . th dport vmap @service-nodeports"]),
        "endpoints-check": ("", ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
                                 f"{_nodeport_match(cfg)} meta l4proto . th dport vmap @no-endpoint-nodeports"]),
        "masquerading": ("", [f"meta mark & {mark} == 0 return", f"meta mark set meta mark ^ {mark}",
                              "masquerade fully-random"]),
        "mark-for-masquerade": ("", [f"meta mark set meta mark | {mark}"]),
        "reject-chain": ("", ["meta l4proto tcp reject with tcp reset", "reject"]),
    }


def _nodeport_set(cfg: ProxyConfig, with_elements: bool = True) -> str:
    elems = f" elements = {{ {', '.join(nodeport_addresses(cfg))} }};" if with_elements else ""
    return f"set nodeport-ips {{ type ipv4_addr; flags interval;{elems} }}"


def skeleton(cfg: ProxyConfig) -> list[str]:
    """The fixed part of the table, as declarations with their rules (for ``render_full``)."""
    lines = ['comment "rules for the kybernetes service proxy"']
    if cfg.nodeport_ips:
        lines.append(_nodeport_set(cfg))
    for name, (hook, rules) in base_chains(cfg).items():
        lines.append(f"chain {name} {{ " + " ".join([*([hook] if hook else []), *(r + ";" for r in rules)]) + " }")
    return lines


def _set_decl(name: str, timeout: int) -> str:
    return f"set {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}"


def render_full(st: NftState, cfg: ProxyConfig) -> str:
    """A transaction that (re)creates the whole table."""
    body = list(skeleton(cfg))
    for name, key in MAPS.items():
        elems = st.maps.get(name) or {}
        inner = f" elements = {{ {', '.join(f'{k} : {v}' for k, v in sorted(elems.items()))} }};" if elems else ""
        body.append(f"map {name} {{ type {key};{inner} }}")
    body += [_set_decl(n, t) for n, t in sorted(st.sets.items())]
    body += [f"chain {n} {{ " + "".join(r + "; " for r in rules) + "}" for n, rules in sorted(st.chains.items())]
    return (f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\ntable {FAMILY} {TABLE} {{\n"
            + "".join(f"\t{line}\n" for line in body) + "}\n")


def render_rewrite(st: NftState, cfg: ProxyConfig, old: NftState) -> str:
    """A full sync that keeps the table: every chain and map is (re)declared, flushed and refilled,
    affinity sets are only declared (their client entries survive), stale objects are deleted.
    Repairs anything changed behind our back without the connection-affinity loss of a replace."""
    t = f"{FAMILY} {TABLE}"
    decl = ([_nodeport_set(cfg, with_elements=False)] if cfg.nodeport_ips else [])
    decl += [f"chain {n} {{ {hook} }}" if hook else f"chain {n} {{ }}" for n, (hook, _r) in base_chains(cfg).items()]
    decl += [f"map {n} {{ type {key}; }}" for n, key in MAPS.items()]
    decl += [_set_decl(n, tm) for n, tm in sorted(st.sets.items())]
    decl += [f"chain {n} {{ }}" for n in sorted(st.chains)]
    out = [f"table {t} {{", *(f"\t{d}" for d in decl), "}"]
    if cfg.nodeport_ips:
        out += [f"flush set {t} nodeport-ips", f"add element {t} nodeport-ips {{ {', '.join(nodeport_addresses(cfg))} }}"]
    chains = {n: rules for n, (_h, rules) in base_chains(cfg).items()} | {n: list(r) for n, r in st.chains.items()}
    for name, rules in chains.items():
        out.append(f"flush chain {t} {name}")
        out += [f"add rule {t} {name} {r}" for r in rules]
    for m in MAPS:
        out.append(f"flush map {t} {m}")
        if elems := st.maps.get(m):
            out.append(f"add element {t} {m} {{ {', '.join(f'{k} : {v}' for k, v in sorted(elems.items()))} }}")
    stale = sorted(old.chains.keys() - st.chains.keys())
    out += [f"flush chain {t} {n}" for n in stale]
    out += [f"delete chain {t} {n}" for n in stale]
    out += [f"delete set {t} {n}" for n in sorted(old.sets.keys() - st.sets.keys())]
    return "\n".join(out) + "\n"


def render_update(old: NftState, new: NftState) -> str | None:
    """A transaction taking the table from ``old`` to ``new``; None when nothing changed, or when a
    set's timeout changed (the caller then replaces the table)."""
    if any(old.sets[n] != t for n, t in new.sets.items() if n in old.sets):
        return None
    t = f"{FAMILY} {TABLE}"
    out = [f"add set {t} {n} {{ type ipv4_addr; flags dynamic,timeout; timeout {new.sets[n]}s; }}"
           for n in sorted(new.sets.keys() - old.sets.keys())]
    out += [f"add chain {t} {n}" for n in sorted(new.chains.keys() - old.chains.keys())]
    for name, rules in sorted(new.chains.items()):
        if old.chains.get(name) != rules:
            out.append(f"flush chain {t} {name}")
            out += [f"add rule {t} {name} {r}" for r in rules]
    for m in MAPS:
        before, after = old.maps.get(m) or {}, new.maps.get(m) or {}
        gone = sorted(k for k, v in before.items() if after.get(k) != v)
        added = sorted(k for k, v in after.items() if before.get(k) != v)
        if gone:
            out.append(f"delete element {t} {m} {{ {', '.join(gone)} }}")
        if added:
            out.append(f"add element {t} {m} {{ {', '.join(f'{k} : {after[k]}' for k in added)} }}")
    stale = sorted(old.chains.keys() - new.chains.keys())
    out += [f"flush chain {t} {n}" for n in stale]
    out += [f"delete chain {t} {n}" for n in stale]
    out += [f"delete set {t} {n}" for n in sorted(old.sets.keys() - new.sets.keys())]
    return "\n".join(out) + "\n" if out else ""


class NftablesBackend:
    """Programs the plans into the kernel through ``nft -f -`` (inside ``runner``'s netns)."""

    name = "nftables"

    def __init__(self, runner: Runner, cfg: ProxyConfig) -> None:
        self.runner = runner
        self.cfg = cfg
        self._applied: NftState | None = None
        self._cache: dict[ServicePlan, NftState] = {}

    async def apply(self, plans: list[ServicePlan], full: bool = False) -> str:
        """Program ``plans``; returns "full", "partial" or "none" (what was sent)."""
        applied = None if full else self._applied
        new, text = await asyncio.to_thread(self._prepare, plans, applied)  # CPU work off the loop
        if applied is not None:
            if text == "":
                return "none"
            if text is not None:
                try:
                    await self.runner.run(["nft", "-f", "-"], text.encode())
                    self._applied = new
                    return "partial"
                except CommandError as e:
                    log.warning("partial nftables update failed, replacing the table: %s", e)
        if self._applied is not None and full and text is None:
            try:  # a periodic full sync: rewrite in place, keeping the affinity sets' entries
                rewrite = await asyncio.to_thread(render_rewrite, new, self.cfg, self._applied)
                await self.runner.run(["nft", "-f", "-"], rewrite.encode())
                self._applied = new
                return "full"
            except CommandError as e:
                log.warning("nftables rewrite failed, replacing the table: %s", e)
        self._applied = None
        full_text = await asyncio.to_thread(render_full, new, self.cfg)
        await self.runner.run(["nft", "-f", "-"], full_text.encode())
        self._applied = new
        return "full"

    def _prepare(self, plans: list[ServicePlan], applied: NftState | None) -> tuple[NftState, str | None]:
        new = desired_state(plans, self.cfg, self._cache)
        return new, (render_update(applied, new) if applied is not None else None)

    def forget(self) -> None:
        """Make the next ``apply`` replace the whole table."""
        self._applied = None

    async def cleanup(self) -> None:
        """Remove the table (and with it every chain, map and set this backend created)."""
        self._applied = None
        await cleanup(self.runner)


async def cleanup(runner: Runner) -> None:
    await runner.run(["nft", "-f", "-"], f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n".encode())
