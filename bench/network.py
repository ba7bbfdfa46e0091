"""Service proxy benchmark (root only): the data-path cost of a ClusterIP and the time from an
endpoint change to programmed rules, in a throw-away node netns (tests/network/netlab.py).

1. Data path: a client in pod d opens one TCP connection per request (``--concurrency`` at a time)
   to the ClusterIP 10.43.0.10:80, and, for comparison, straight to the three pod IPs round-robin;
   each backend answers one line and closes. Short rounds alternate (direct, ClusterIP, …);
   reported: median requests/s, p50 and p99, and the ClusterIP's cost as the median of pairs.
2. Programming: the proxy loop runs against fake informers; an endpoint is flipped ready/not-ready
   ``--changes`` times and the time until ``wait_programmed`` returns (min sync period included)
   is recorded, together with the kernel transaction time alone (p50/p99).
3. Scale: ``--services`` services with 5 endpoints each: full sync, then one endpoint change (partial).

Every loop is bounded by a count and a deadline; the lab (namespaces, servers) is removed at the end.

Usage: sudo python3 bench/network.py [--mode nftables|iptables|both] [--rounds 11] [--requests 600] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tests.controllers.fakes import FakeInformer
from tests.network import netlab
from tests.network.builders import endpoint, endpoint_slice, service

from kybernetes.client.rest import ENDPOINTSLICES, SERVICES
from kybernetes.network.proxy import model, proxier
from kybernetes.network.proxy._exec import Runner

VIP = "10.43.0.10"
LOAD = r"""
import asyncio, json, sys, time
targets, n, conc, deadline = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
lat, errors, issued = {t[0]: [] for t in targets}, 0, 0
async def worker():
    global errors, issued
    end = time.monotonic() + deadline
    while issued < n and time.monotonic() < end:
        label, host, port = targets[issued % len(targets)]
        issued += 1
        t = time.perf_counter()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
            await asyncio.wait_for(r.readline(), 2)
            w.close()
            lat[label].append(time.perf_counter() - t)
        except (OSError, asyncio.TimeoutError):
            errors += 1
async def main():
    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    el = time.perf_counter() - t
    out = {"errors": errors, "rps": sum(map(len, lat.values())) / el}
    for label, xs in lat.items():
        xs.sort()
        out[label] = {"n": len(xs), "mean_ms": sum(xs) / len(xs) * 1e3, "p50_ms": xs[len(xs) // 2] * 1e3,
                      "p99_ms": xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1e3}
    print(json.dumps(out))
asyncio.run(main())
"""


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


async def load(lab: netlab.Lab, targets: list[tuple[str, str, int]], args: argparse.Namespace) -> dict:
    """Run the load client in pod d; requests cycle through ``targets`` (label, host, port)."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net=/run/netns/{lab.pod_netns('d')}", sys.executable, "-c", LOAD, json.dumps(targets),
        str(args.requests), str(args.concurrency), str(args.deadline),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), args.deadline + 30)
    if proc.returncode:
        raise RuntimeError(err.decode())
    return dict(json.loads(out))


async def datapath(lab: netlab.Lab, args: argparse.Namespace) -> None:
    """Alternating short rounds straight to the pods and through the ClusterIP; medians over the
    rounds, and the cost as the median of back-to-back pairs (the machine is shared, so the
    background load drifts; pairing cancels most of it). Mixing both paths in one round would
    distort the result: the same backend sees both tuples and conntrack clashes."""
    direct = [("direct", lab.pods[p], netlab.PORT) for p in ("a", "b", "c")]
    vip = [("clusterip", VIP, 80)]
    runs: dict[str, list[dict]] = {"direct": [], "clusterip": []}
    for _ in range(args.rounds):
        runs["direct"].append(await load(lab, direct, args))
        runs["clusterip"].append(await load(lab, vip, args))
    for k, rs in runs.items():
        med = {f: statistics.median(r[k][f] for r in rs) for f in ("p50_ms", "p99_ms")}
        print(f"  {k:<10} {statistics.median(r['rps'] for r in rs):7.0f} req/s  p50 {med['p50_ms']:5.2f} ms  "
              f"p99 {med['p99_ms']:6.2f} ms  (medians of {len(rs)} rounds x {args.requests} requests, "
              f"{sum(r['errors'] for r in rs)} errors)")
    paired = sorted((1 - c["rps"] / d["rps"]) * 100 for d, c in zip(runs["direct"], runs["clusterip"], strict=True))
    p50 = sorted(c["clusterip"]["p50_ms"] - d["direct"]["p50_ms"]
                 for d, c in zip(runs["direct"], runs["clusterip"], strict=True))
    print(f"  ClusterIP cost: {paired[len(paired) // 2]:+.1f}% throughput, {p50[len(p50) // 2] * 1e3:+.0f} us p50 "
          f"(medians of back-to-back pairs; throughput range {paired[0]:+.1f}..{paired[-1]:+.1f}%)")


async def programming(lab: netlab.Lab, mode: str, args: argparse.Namespace) -> None:
    runner = Runner(lab.node)
    cfg = model.ProxyConfig(nodeport_ips=(lab.node_ip,), cluster_cidr="10.42.0.0/16")
    services, slices = FakeInformer(SERVICES), FakeInformer(ENDPOINTSLICES)
    p = proxier.Proxier(services, slices, proxier.make_backend(mode, runner, cfg), "node-1",
                        min_sync_period=args.min_sync_period)
    services.add(service("web"))
    pods = [lab.pods[n] for n in ("a", "b", "c")]
    slices.add(endpoint_slice("web", [endpoint(ip) for ip in pods]))
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    try:
        async with asyncio.timeout(10):
            await p.wait_programmed()
        await datapath(lab, args)
        p.durations.clear()
        waits = []
        for i in range(args.changes):
            ready = i % 2 == 1
            slices.update(endpoint_slice("web", [endpoint(pods[0]), endpoint(pods[1]), endpoint(pods[2], ready=ready)],
                                         version=i + 2))
            t = time.perf_counter()
            async with asyncio.timeout(10):
                await p.wait_programmed()
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(args.min_sync_period)  # isolated changes, not one burst
        syncs = list(p.durations)
        print(f"  endpoint change -> programmed: p50 {pct(waits, .5) * 1e3:.0f} ms  p99 {pct(waits, .99) * 1e3:.0f} ms"
              f"  (min sync period {args.min_sync_period * 1e3:.0f} ms; kernel transaction p50 "
              f"{pct(syncs, .5) * 1e3:.1f} ms p99 {pct(syncs, .99) * 1e3:.1f} ms; {len(waits)} changes)")
    finally:
        stop.set()
        await task
    # scale: many services, one full sync, then an endpoint change (partial)
    for i in range(args.services):
        services.add(service(f"s{i}", cluster_ip=f"10.43.{1 + i // 250}.{1 + i % 250}"))
        slices.add(endpoint_slice(f"s{i}", [endpoint(f"10.42.{100 + i // 50}.{1 + (i % 50) * 5 + k}")
                                            for k in range(5)]))
    full = await p.sync_once(full=True)
    slices.update(endpoint_slice("s0", [endpoint("10.42.100.1")], version=99))
    part = await p.sync_once()
    print(f"  {args.services} services x 5 endpoints: full sync {full * 1e3:.0f} ms, one endpoint change "
          f"{part * 1e3:.1f} ms")
    await proxier.cleanup_all(runner)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("nftables", "iptables", "both"), default="both")
    ap.add_argument("--requests", type=int, default=600, help="requests per round")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--deadline", type=float, default=20.0, help="seconds per round at most")
    ap.add_argument("--changes", type=int, default=50, help="endpoint changes timed")
    ap.add_argument("--min-sync-period", type=float, default=0.1)
    ap.add_argument("--services", type=int, default=500, help="services for the scale step")
    args = ap.parse_args()
    if not netlab.is_root():
        print("bench/network.py needs root (network namespaces)", file=sys.stderr)
        return 1
    lab = netlab.Lab().setup()
    try:
        for mode in ("nftables", "iptables") if args.mode == "both" else (args.mode,):
            print(f"{mode}:")
            await proxier.cleanup_all(Runner(lab.node))
            await programming(lab, mode, args)
    finally:
        lab.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
