"""iptables backend: the plans in kube-proxy's chain layout, loaded with ``iptables-restore --noflush``.

nat: PREROUTING/OUTPUT → KUBE-SERVICES → KUBE-SVC-* (Cluster policy) / KUBE-SVL-* (Local policy)
/ KUBE-EXT-* (external destinations) → KUBE-SEP-* (one per endpoint: hairpin mark + DNAT);
KUBE-NODEPORTS is the last rule of KUBE-SERVICES; KUBE-MARK-MASQ marks, KUBE-POSTROUTING
masquerades marked packets. filter: KUBE-SERVICES / KUBE-EXTERNAL-SERVICES reject or drop new
connections to services without usable endpoints; KUBE-FORWARD accepts marked and tracked
traffic; KUBE-FIREWALL holds the martian-drop rule that goes with localhost NodePorts.
Chain names hash ``ns/name:port`` + protocol like kube-proxy (base32(sha256)[:16]).

The top-level chains are rewritten on every sync; per-service chains only when their rules
changed (``--noflush`` leaves the others alone). A full sync (first, periodic, after a failure)
also re-checks the jump rules from the built-in chains and deletes leftover service chains.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
from dataclasses import dataclass, field

from kybernetes.network.proxy._exec import CommandError, Runner
from kybernetes.network.proxy.model import REJECT, Endpoint, ProxyConfig, ServicePlan, ServicePort

log = logging.getLogger(__name__)

SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-SEP-", "KUBE-FW-")
NAT_TOP = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_TOP = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS")
FIREWALL = "KUBE-FIREWALL"
_NEW = "-m conntrack --ctstate NEW"
# (table, source chain, rule arguments before -j, target chain)
JUMPS = (
    ("filter", "INPUT", f'{_NEW} -m comment --comment "kubernetes externally-visible service portals"',
     "KUBE-EXTERNAL-SERVICES"),
    ("filter", "FORWARD", f'{_NEW} -m comment --comment "kubernetes externally-visible service portals"',
     "KUBE-EXTERNAL-SERVICES"),
    ("filter", "INPUT", '-m comment --comment "kubernetes health check service ports"', "KUBE-NODEPORTS"),
    ("filter", "FORWARD", f'{_NEW} -m comment --comment "kubernetes service portals"', "KUBE-SERVICES"),
    ("filter", "OUTPUT", f'{_NEW} -m comment --comment "kubernetes service portals"', "KUBE-SERVICES"),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules"', "KUBE-FORWARD"),
    ("nat", "OUTPUT", '-m comment --comment "kubernetes service portals"', "KUBE-SERVICES"),
    ("nat", "PREROUTING", '-m comment --comment "kubernetes service portals"', "KUBE-SERVICES"),
    ("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules"', "KUBE-POSTROUTING"),
)
FIREWALL_JUMPS = (("filter", "INPUT", "", FIREWALL), ("filter", "OUTPUT", "", FIREWALL))


@functools.lru_cache(maxsize=65536)
def port_proto_hash(name_string: str, protocol: str) -> str:
    """kube-proxy's chain hash: base32(sha256(servicePortName + protocol)) truncated to 16."""
    return base64.b32encode(hashlib.sha256((name_string + protocol).encode()).digest()).decode()[:16]


def cluster_chain(svc: ServicePort) -> str:
    return "KUBE-SVC-" + port_proto_hash(svc.name_string, svc.protocol)


def local_chain(svc: ServicePort) -> str:
    return "KUBE-SVL-" + port_proto_hash(svc.name_string, svc.protocol)


def external_chain(svc: ServicePort) -> str:
    return "KUBE-EXT-" + port_proto_hash(svc.name_string, svc.protocol)


def endpoint_chain(svc: ServicePort, ep: Endpoint) -> str:
    return "KUBE-SEP-" + port_proto_hash(svc.name_string, svc.protocol + ep.address)


@dataclass
class IptState:
    """Rules (the text after ``-A CHAIN``) per chain, per table."""

    nat: dict[str, list[str]] = field(default_factory=dict)
    filter: dict[str, list[str]] = field(default_factory=dict)


def _c(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _match(proto: str, dst: str | None, port: int) -> str:
    return f"-m {proto} -p {proto}" + (f" -d {dst}" if dst else "") + f" --dport {port}"


def _target(verdict: str | None, proto: str) -> str:
    """REJECT answers TCP with a reset (an ICMP error can be eaten by the per-host ICMP rate limit,
    e.g. right after a redirect) and anything else with port-unreachable, like the nft backend."""
    if verdict != REJECT:
        return "DROP"
    return "REJECT --reject-with tcp-reset" if proto == "tcp" else "REJECT"


def _filter_comment(plan: ServicePlan, verdict: str | None) -> str:
    why = "has no endpoints" if verdict == REJECT else "has no local endpoints"
    return _c(f"{plan.svc.name_string} {why}")


def _dispatch(st: IptState, chain: str, eps: tuple[Endpoint, ...], svc: ServicePort) -> None:
    rules = st.nat.setdefault(chain, [])
    if svc.affinity_seconds:
        for ep in eps:
            sep = endpoint_chain(svc, ep)
            rules.append(f"{_c(f'{svc.name_string} -> {ep.address}')} -m recent --name {sep} --rcheck "
                         f"--seconds {svc.affinity_seconds} --reap -j {sep}")
    n = len(eps)
    for i, ep in enumerate(eps):
        prob = f" -m statistic --mode random --probability {1.0 / (n - i):0.10f}" if i < n - 1 else ""
        rules.append(f"{_c(f'{svc.name_string} -> {ep.address}')}{prob} -j {endpoint_chain(svc, ep)}")


def add_plan(st: IptState, plan: ServicePlan, cfg: ProxyConfig) -> None:
    """Add one service port's rules to ``st``."""
    svc, proto, name = plan.svc, plan.svc.protocol, plan.svc.name_string
    cchain, lchain, xchain = cluster_chain(svc), local_chain(svc), external_chain(svc)
    internal_chain = lchain if svc.internal_local else cchain
    nat_svc, f_svc, f_ext = st.nat["KUBE-SERVICES"], st.filter["KUBE-SERVICES"], st.filter["KUBE-EXTERNAL-SERVICES"]
    if plan.has_internal_endpoints:
        nat_svc.append(f"{_c(name + ' cluster IP')} {_match(proto, svc.cluster_ip, svc.port)} -j {internal_chain}")
    else:
        f_svc.append(f"{_filter_comment(plan, plan.internal_verdict)} {_match(proto, svc.cluster_ip, svc.port)} "
                     f"-j {_target(plan.internal_verdict, proto)}")
    for label, ips in (("external IP", svc.external_ips), ("loadbalancer IP", svc.lb_ips)):
        for ip in ips:
            if plan.has_endpoints:
                nat_svc.append(f"{_c(f'{name} {label}')} {_match(proto, ip, svc.port)} -j {xchain}")
            if not plan.has_external_endpoints:
                f_ext.append(f"{_filter_comment(plan, plan.external_verdict)} {_match(proto, ip, svc.port)} "
                             f"-j {_target(plan.external_verdict, proto)}")
    if svc.node_port:
        if plan.has_endpoints:
            st.nat["KUBE-NODEPORTS"].append(f"{_c(name)} {_match(proto, None, svc.node_port)} -j {xchain}")
        if not plan.has_external_endpoints:
            f_ext.append(f"{_filter_comment(plan, plan.external_verdict)} -m addrtype --dst-type LOCAL "
                         f"{_match(proto, None, svc.node_port)} -j {_target(plan.external_verdict, proto)}")
    if svc.health_check_node_port:
        st.filter["KUBE-NODEPORTS"].append(f"{_c(name + ' health check node port')} "
                                           f"{_match('tcp', None, svc.health_check_node_port)} -j ACCEPT")

    for chain, used, eps in ((cchain, plan.uses_cluster_chain, plan.cluster),
                             (lchain, plan.uses_local_chain, plan.local)):
        if not used:
            continue
        if chain == internal_chain and plan.has_internal_endpoints and cfg.cluster_cidr:
            st.nat.setdefault(chain, []).append(
                f"{_c(name + ' cluster IP')} {_match(proto, svc.cluster_ip, svc.port)} ! -s {cfg.cluster_cidr} "
                "-j KUBE-MARK-MASQ")
        _dispatch(st, chain, eps, svc)
    if plan.uses_external_chain:
        rules = st.nat.setdefault(xchain, [])
        if not svc.external_local:
            rules.append(f"{_c(f'masquerade traffic for {name} external destinations')} -j KUBE-MARK-MASQ")
        elif plan.uses_cluster_chain:
            if cfg.cluster_cidr:
                rules.append(f"{_c(f'pod traffic for {name} external destinations')} -s {cfg.cluster_cidr} "
                             f"-j {cchain}")
            rules.append(f"{_c(f'masquerade LOCAL traffic for {name} external destinations')} "
                         "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
            rules.append(f"{_c(f'route LOCAL traffic for {name} external destinations')} "
                         f"-m addrtype --src-type LOCAL -j {cchain}")
        if plan.has_external_endpoints:
            rules.append(f"-j {lchain if svc.external_local else cchain}")
    for ep in plan.reachable:
        sep = endpoint_chain(svc, ep)
        recent = f" -m recent --name {sep} --set" if svc.affinity_seconds else ""
        st.nat[sep] = [f"{_c(name)} -s {ep.ip} -j KUBE-MARK-MASQ",
                       f"{_c(name)}{recent} -m {proto} -p {proto} -j DNAT --to-destination {ep.address}"]


def _empty() -> IptState:
    return IptState(nat={c: [] for c in NAT_TOP}, filter={c: [] for c in FILTER_TOP})


def _merge(into: dict[str, list[str]], frag: dict[str, list[str]], top: tuple[str, ...]) -> None:
    for chain, rules in frag.items():
        if chain in top:
            into[chain].extend(rules)
        else:
            into[chain] = rules


def desired_state(plans: list[ServicePlan], cfg: ProxyConfig,
                  cache: dict[ServicePlan, IptState] | None = None) -> IptState:
    """Every chain's rules; ``cache`` keeps each plan's rules between syncs (see nftables)."""
    mark = f"0x{cfg.masquerade_mark:x}"
    st = _empty()
    st.nat["KUBE-POSTROUTING"] = [f"-m mark ! --mark {mark}/{mark} -j RETURN", f"-j MARK --xor-mark {mark}",
                                  f"{_c('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully"]
    st.nat["KUBE-MARK-MASQ"] = [f"-j MARK --or-mark {mark}"]
    if cfg.localhost_nodeports:
        st.filter[FIREWALL] = [f"{_c('block incoming localnet connections')} -d 127.0.0.0/8 ! -s 127.0.0.0/8 "
                               "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"]
    fresh: dict[ServicePlan, IptState] = {}
    for plan in plans:
        frag = cache.get(plan) if cache is not None else None
        if frag is None:
            frag = _empty()
            add_plan(frag, plan, cfg)
        fresh[plan] = frag
        _merge(st.nat, frag.nat, NAT_TOP)
        _merge(st.filter, frag.filter, FILTER_TOP)
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    last = _c("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
    if cfg.nodeport_ips:
        dests = [*cfg.nodeport_ips, *(["127.0.0.0/8"] if cfg.localhost_nodeports else [])]
        st.nat["KUBE-SERVICES"] += [f"{last} -d {ip} -j KUBE-NODEPORTS" for ip in dests]
    else:
        not_lo = "" if cfg.localhost_nodeports else " ! -d 127.0.0.0/8"
        st.nat["KUBE-SERVICES"].append(f"{last} -m addrtype --dst-type LOCAL{not_lo} -j KUBE-NODEPORTS")
    st.filter["KUBE-FORWARD"] = [
        "-m conntrack --ctstate INVALID -j DROP",
        f"{_c('kubernetes forwarding rules')} -m mark --mark {mark}/{mark} -j ACCEPT",
        f"{_c('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
    return st


def _table(name: str, chains: dict[str, list[str]], write: set[str], stale: set[str],
           inserts: list[str]) -> list[str]:
    out = [f"*{name}"]
    out += [f":{c} - [0:0]" for c in sorted(write | stale)]
    out += inserts
    for c in sorted(write):
        out += [f"-A {c} {r}" for r in chains[c]]
    out += [f"-X {c}" for c in sorted(stale)]
    return [*out, "COMMIT"]


def render(new: IptState, old: IptState | None, stale_nat: set[str] | None = None,
           inserts: dict[str, list[str]] | None = None) -> str:
    """``iptables-restore --noflush`` input: every top-level chain, the service chains that differ
    from ``old`` (all of them when ``old`` is None), deletion of stale chains, and jump inserts."""
    inserts = inserts or {}
    nat_write = {c for c, r in new.nat.items() if old is None or c in NAT_TOP or old.nat.get(c) != r}
    filter_write = set(new.filter)
    gone_nat = (stale_nat or set()) | (set(old.nat) - set(new.nat) if old else set())
    gone_filter = set(old.filter) - set(new.filter) if old else set()
    lines = _table("filter", new.filter, filter_write, gone_filter - filter_write, inserts.get("filter", []))
    lines += _table("nat", new.nat, nat_write, gone_nat - nat_write, inserts.get("nat", []))
    return "\n".join(lines) + "\n"


def missing_jumps(saved: dict[str, str], localhost: bool) -> dict[str, list[str]]:
    """``-I`` lines for the jump rules absent from ``iptables-save`` output (per table)."""
    out: dict[str, list[str]] = {}
    for table, src, args, dst in (*JUMPS, *(FIREWALL_JUMPS if localhost else ())):
        lines = saved.get(table, "").splitlines()
        want = f"-A {src} {args} -j {dst}".replace("  ", " ")
        if not any(line.strip() == want for line in lines):
            out.setdefault(table, []).append(f"-I {src} 1 {args} -j {dst}".replace("  ", " "))
    return out


def saved_chains(text: str) -> set[str]:
    return {line[1:].split()[0] for line in text.splitlines() if line.startswith(":")}


class IptablesBackend:
    """Programs the plans with ``iptables-restore --noflush`` (inside ``runner``'s netns)."""

    name = "iptables"

    def __init__(self, runner: Runner, cfg: ProxyConfig, binary: str = "iptables") -> None:
        self.runner = runner
        self.cfg = cfg
        self.binary = binary
        self._applied: IptState | None = None
        self._cache: dict[ServicePlan, IptState] = {}

    async def _save(self) -> dict[str, str]:
        return {t: (await self.runner.run([f"{self.binary}-save", "-t", t], check=False)).stdout
                for t in ("filter", "nat")}

    async def apply(self, plans: list[ServicePlan], full: bool = False) -> str:
        """Program ``plans``; returns "full" or "partial"."""
        new = await asyncio.to_thread(desired_state, plans, self.cfg, self._cache)  # CPU work off the loop
        if not full and self._applied is not None:
            try:
                await self._restore(await asyncio.to_thread(render, new, self._applied))
                self._applied = new
                return "partial"
            except CommandError as e:
                log.warning("partial iptables update failed, doing a full sync: %s", e)
        self._applied = None
        saved = await self._save()
        stale = {c for c in saved_chains(saved["nat"]) if c.startswith(SERVICE_CHAIN_PREFIXES)} - set(new.nat)
        inserts = missing_jumps(saved, self.cfg.localhost_nodeports)
        await self._restore(await asyncio.to_thread(render, new, None, stale, inserts))
        self._applied = new
        return "full"

    async def _restore(self, text: str) -> None:
        await self.runner.run([f"{self.binary}-restore", "--noflush"], text.encode())

    def forget(self) -> None:
        self._applied = None

    async def cleanup(self) -> None:
        self._applied = None
        await cleanup(self.runner, self.binary)


async def cleanup(runner: Runner, binary: str = "iptables") -> None:
    """Remove the jump rules from the built-in chains, then flush and delete every KUBE-* chain."""
    for table in ("filter", "nat"):
        saved = (await runner.run([f"{binary}-save", "-t", table], check=False)).stdout
        ours = sorted(c for c in saved_chains(saved) if c.startswith("KUBE-"))
        if not ours:
            continue
        lines = [f"*{table}"]
        lines += [line.replace("-A ", "-D ", 1) for line in saved.splitlines()
                  if line.startswith("-A ") and line.split()[1] not in ours
                  and line.split()[-1] in ours and line.split()[-2] == "-j"]
        lines += [f":{c} - [0:0]" for c in ours] + [f"-X {c}" for c in ours] + ["COMMIT"]
        await runner.run([f"{binary}-restore", "--noflush"], ("\n".join(lines) + "\n").encode())
