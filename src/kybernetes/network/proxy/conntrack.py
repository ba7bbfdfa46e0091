"""Stale UDP conntrack entries after a sync (what kube-proxy's conntrack cleanup does).

UDP has no connection to break, so a client that keeps sending from one socket keeps hitting the
conntrack entry of an endpoint that is gone, or the entry created while the service had no
endpoints (rejected). After each successful sync the proxier asks ``stale_flow_deletions`` for
``conntrack -D`` commands: per UDP service port, flows DNATed to removed endpoints, and all flows
of a port that just gained its first endpoints.
"""

from __future__ import annotations

import logging

from kybernetes.network.proxy._exec import Runner
from kybernetes.network.proxy.model import ServicePlan

log = logging.getLogger(__name__)

PlanKey = tuple[str, str, str, str]


def plan_key(plan: ServicePlan) -> PlanKey:
    s = plan.svc
    return (s.namespace, s.name, s.port_name, s.protocol)


def stale_flow_deletions(old: dict[PlanKey, ServicePlan], new: list[ServicePlan]) -> list[list[str]]:
    """``conntrack`` argument lists deleting the UDP flows the change made stale."""
    out: list[list[str]] = []
    for plan in new:
        if plan.svc.protocol != "udp":
            continue
        before = old.get(plan_key(plan))
        svc = plan.svc
        ips = (svc.cluster_ip, *svc.external_ips, *svc.lb_ips)
        if before is None or (not before.reachable and plan.reachable):
            if before is not None:  # flows cached while the port had no endpoints
                out += [["-D", "-p", "udp", "--orig-dst", ip, "--orig-port-dst", str(svc.port)] for ip in ips]
                if svc.node_port:
                    out.append(["-D", "-p", "udp", "--orig-port-dst", str(svc.node_port)])
            continue
        gone = {e.ip for e in before.reachable} - {e.ip for e in plan.reachable}
        for ep_ip in sorted(gone):
            out += [["-D", "-p", "udp", "--orig-dst", ip, "--orig-port-dst", str(svc.port), "--dst-nat", ep_ip]
                    for ip in ips]
            if svc.node_port:
                out.append(["-D", "-p", "udp", "--orig-port-dst", str(svc.node_port), "--dst-nat", ep_ip])
    new_keys = {plan_key(p) for p in new}
    for key, plan in old.items():  # a deleted UDP port: every flow that was DNATed for it
        if key not in new_keys and plan.svc.protocol == "udp" and plan.reachable:
            out += [["-D", "-p", "udp", "--orig-dst", plan.svc.cluster_ip, "--orig-port-dst", str(plan.svc.port)]]
    return out


async def delete_flows(runner: Runner, deletions: list[list[str]]) -> None:
    """Run the deletions; "no entries" (exit 1) is not an error, a missing tool is logged once."""
    for argv in deletions:
        res = await runner.run(["conntrack", *argv], check=False)
        if res.rc == 127:
            log.warning("conntrack is not installed: stale UDP flows are not cleared")
            return
        if res.rc not in (0, 1):
            log.info("conntrack %s: %s", " ".join(argv), res.stderr.strip())
