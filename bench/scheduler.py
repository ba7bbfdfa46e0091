"""Scheduler benchmark: a fresh ``kyb server`` (subprocess, temp dir, unusual loopback port), a hollow
agent with N nodes (``kyb agent --hollow N``, subprocess) and ``kyb scheduler`` (subprocess, so its
CPU and memory are its own); then P pods are created as fast as a bounded pool of clients can, and a
watch records when each pod is seen bound. Prints pods scheduled per second (first create → last
binding observed), p50/p99 scheduling latency (create → bound) and the scheduler's peak RSS.

Usage:
  python bench/scheduler.py                          # 1000 then 5000 nodes, 10000 pods each
  python bench/scheduler.py --nodes 1000 --pods 2000
  python bench/scheduler.py --nodes 5000 --lease-duration 200   # fewer heartbeats (renew every 50 s)
Every wait is bounded; the whole run by --deadline seconds. Processes are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from kybernetes.client.errors import ApiError
from kybernetes.client.rest import LEASES, NODES, PODS, Client, load_kubeconfig

POD_TEMPLATE: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"bench": "scheduler"}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def mem_mib(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def kyb(*args: str, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # the child process owns it
    return subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", *args], stdout=out, stderr=subprocess.STDOUT)


def server_flags() -> list[str]:
    """Keep the embedded scheduler (and controllers) out: the scheduler under test runs on its own."""
    out = subprocess.run([sys.executable, "-m", "kybernetes.cli.main", "server", "--help"], capture_output=True,
                         text=True, timeout=60).stdout
    return [f for f in ("--disable-scheduler", "--disable-controller-manager") if f in out]


async def wait_for(what: str, check: Any, deadline: float, procs: list[subprocess.Popen[bytes]]) -> None:
    delay = 0.05
    while True:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process {p.pid} exited ({p.returncode}) while waiting for {what}; "
                                   "rerun with --keep to read its log")
        try:
            if await check():
                return
        except (ApiError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 1.0)


async def node_token_works(url: str, token: str, ca: Path) -> bool:
    from kybernetes.client.rest import token_config

    c = Client(token_config(url, token, str(ca)))
    try:
        await c.list(NODES, limit=1)
        return True
    except ApiError:
        return False
    finally:
        await c.close()


async def run_one(nodes: int, pods: int, concurrency: int, deadline_s: float, keep: bool,
                  lease_duration: int = 40) -> dict[str, float]:
    deadline = time.monotonic() + deadline_s
    base = Path(tempfile.mkdtemp(prefix=f"kyb-bench-sched-{nodes}-"))
    data = base / "data"
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    client: Client | None = None
    try:
        server = kyb("server", "--data-dir", str(data), "--bind-address", "127.0.0.1", "--https-listen-port",
                     str(port), "--disable-agent", *server_flags(), log=base / "server.log")
        procs.append(server)
        kubeconfig = data / "kubeconfig.yaml"
        await wait_for("kubeconfig", lambda: _true(kubeconfig.exists()), deadline, procs)
        client = Client(load_kubeconfig(kubeconfig, user_agent="bench"), max_connections=concurrency + 8)
        await wait_for("API server", lambda: _listable(client), deadline, procs)
        ca = data / "server" / "tls" / "server-ca.crt"
        token = (data / "token").read_text().strip()
        if not await node_token_works(url, token, ca):
            print("  (node join token rejected by this server build; the agent uses the admin token)", flush=True)
            token = (data / "server" / "tls" / "admin-token").read_text().strip()
        t0 = time.monotonic()
        agent = kyb("agent", "--server", url, "--token", token, "--ca-file", str(ca), "--hollow", str(nodes),
                    "--node-lease-duration-seconds", str(lease_duration), log=base / "agent.log")
        procs.append(agent)

        async def nodes_registered() -> bool:
            return len((await client.list(NODES))["items"]) >= nodes

        await wait_for(f"{nodes} hollow nodes", nodes_registered, deadline, procs)
        print(f"  {nodes} hollow nodes registered in {time.monotonic() - t0:.1f}s", flush=True)
        sched = kyb("scheduler", "--kubeconfig", str(kubeconfig), log=base / "scheduler.log")
        procs.append(sched)

        async def leading() -> bool:
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
            return bool((lease.get("spec") or {}).get("holderIdentity"))

        await wait_for("scheduler leadership", leading, deadline, procs)
        await asyncio.sleep(1.0)  # let the scheduler's informers finish their initial lists
        sched_cpu0, server_cpu0, agent_cpu0 = cpu_seconds(sched.pid), cpu_seconds(server.pid), cpu_seconds(agent.pid)
        bench_cpu0 = time.process_time()
        load_start = os.getloadavg()[0]
        result = await measure(client, pods, concurrency, deadline, procs)
        result["load_start"] = load_start
        result["scheduler_cpu_s"] = cpu_seconds(sched.pid) - sched_cpu0
        result["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu0
        result["agent_cpu_s"] = cpu_seconds(agent.pid) - agent_cpu0
        result["bench_cpu_s"] = time.process_time() - bench_cpu0
        result["scheduler_rss_mib"] = mem_mib(sched.pid, "VmRSS")
        result["scheduler_peak_rss_mib"] = mem_mib(sched.pid, "VmHWM")
        result["server_rss_mib"] = mem_mib(server.pid, "VmRSS")
        result["agent_rss_mib"] = mem_mib(agent.pid, "VmRSS")
        return result
    finally:
        if client is not None:
            await client.close()
        for p in reversed(procs):
            stop_process(p)
        if keep:
            print(f"  logs kept in {base}", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


async def _true(v: bool) -> bool:
    return v


async def _listable(client: Client) -> bool:
    await client.list(NODES, limit=1)
    return True


async def measure(client: Client, n: int, concurrency: int, deadline: float,
                  procs: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    all_bound = asyncio.Event()
    rv = (await client.list(PODS, "default", limit=1))["metadata"]["resourceVersion"]

    async def watch() -> None:
        nonlocal rv
        while not all_bound.is_set():
            try:
                async for ev in client.watch(PODS, "default", rv, timeout_seconds=600, fieldSelector="spec.nodeName!="):
                    obj = ev.get("object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    name = (obj.get("metadata") or {}).get("name", "")
                    if (obj.get("spec") or {}).get("nodeName") and name not in bound:
                        bound[name] = time.monotonic()
                        if len(bound) >= n:
                            all_bound.set()
                            return
            except (ApiError, OSError) as e:
                print(f"  watch interrupted: {e}", flush=True)
                await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    names = iter(range(n))

    async def creator() -> None:
        for i in names:
            name = f"bench-{i}"
            body = {**POD_TEMPLATE, "metadata": {**POD_TEMPLATE["metadata"], "name": name}}
            created[name] = time.monotonic()
            await client.create(PODS, body, "default")

    t0 = time.monotonic()
    await asyncio.gather(*(creator() for _ in range(concurrency)))
    t_created = time.monotonic()
    print(f"  created {n} pods in {t_created - t0:.1f}s ({n / (t_created - t0):.0f}/s)", flush=True)
    while not all_bound.is_set():
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        try:
            await asyncio.wait_for(all_bound.wait(), 1.0)
        except TimeoutError:
            print(f"  ... {len(bound)}/{n} bound", flush=True)
    watcher.cancel()
    first = min(created.values())
    last = max(bound.values()) if bound else time.monotonic()
    lat = [bound[k] - created[k] for k in bound if k in created]
    return {"pods": n, "bound": len(bound), "seconds": last - first, "pods_per_s": len(bound) / (last - first),
            "create_per_s": n / (t_created - t0), "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="1000,5000", help="comma-separated hollow node counts, one run each")
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64, help="parallel pod creations")
    ap.add_argument("--deadline", type=float, default=1800, help="seconds for each run, all included")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the processes' logs")
    ap.add_argument("--lease-duration", type=int, default=40,
                    help="hollow node Lease duration; renewed every quarter of it (kubelet default 40)")
    args = ap.parse_args()
    print(f"scheduler benchmark on {os.cpu_count()} CPUs", flush=True)
    for nodes in (int(x) for x in args.nodes.split(",")):
        print(f"{nodes} nodes, {args.pods} pods:", flush=True)
        r = uvloop.run(run_one(nodes, args.pods, args.concurrency, args.deadline, args.keep, args.lease_duration))
        print(f"  scheduled {r['bound']:.0f}/{r['pods']:.0f} pods in {r['seconds']:.1f}s: "
              f"{r['pods_per_s']:.0f} pods/s; latency p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms", flush=True)
        print(f"  load average during the run {r['load_start']:.1f} -> {os.getloadavg()[0]:.1f} "
              "(other processes on this machine compete for its CPUs)", flush=True)
        print(f"  scheduler RSS {r['scheduler_rss_mib']:.0f} MiB (peak {r['scheduler_peak_rss_mib']:.0f} MiB), "
              f"CPU {r['scheduler_cpu_s']:.1f}s ({r['scheduler_cpu_s'] / max(r['bound'], 1) * 1000:.2f} ms/pod); server RSS {r['server_rss_mib']:.0f} MiB, CPU "
              f"{r['server_cpu_s']:.1f}s; agent RSS {r['agent_rss_mib']:.0f} MiB, CPU {r['agent_cpu_s']:.1f}s; "
              f"this client CPU {r['bench_cpu_s']:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
