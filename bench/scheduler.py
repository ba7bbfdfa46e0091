"""Scheduler benchmark: a fresh ``kyb server`` (subprocess, temp dir, unusual loopback port), N nodes
and ``kyb scheduler`` (subprocess, so its CPU and memory are its own).

Two kinds of nodes (``--node-kinds``), one run each:

* **plain** — Node objects the benchmark creates, without kubelets: pods only get bound. This is
  Kubernetes' scheduler_perf setup, whose ``SchedulingThroughput`` is the number to compare with.
* **hollow** — hollow kubelets (``kyb agent --hollow N``, subprocess): Lease renewals every 10 s,
  node status, and a Running/Ready status write for every pod bound to them, so the API server
  carries a kubelet's load too.

Two measurements, each on its own pods:

* **drain** — Kubernetes' ``SchedulingThroughput``. scheduler_perf's harness creates pods in-process
  far faster than they are scheduled, so what it reports is the rate at which the scheduler drains
  a queue of pending pods: scheduled pods counted every second from the first binding until all are
  bound. On a small machine our harness's creates would compete with the scheduler and the API
  server for the same CPUs, so the P pods are created first and the scheduler is started after:
  throughput = pods bound per second, first binding to last (plus the per-second samples'
  percentiles, as upstream reports them). Everything else keeps running: every binding is a
  ``pods/binding`` write, a ``Scheduled`` event and (hollow nodes) the kubelet's status write.
* **create** — end to end: with the scheduler running, P more pods are created as fast as a
  bounded pool of clients can, so creates, bindings, events and status writes share the machine.
  Pods/s is first create to last binding; latency is create → bound (p50/p99).

Usage:
  python bench/scheduler.py                          # 1000 then 5000 nodes, plain then hollow, 10000 pods
  python bench/scheduler.py --nodes 1000 --pods 2000
  python bench/scheduler.py --nodes 1000 --node-kinds plain --phases drain
Every wait is bounded; the whole run by --deadline seconds. Processes are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from kybernetes.client.errors import ApiError
from kybernetes.client.rest import EVENTS, LEASES, NODES, PODS, Client, load_kubeconfig
from kybernetes.kubelet import nodestatus

POD_TEMPLATE: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"bench": "scheduler"}},
                                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                                         "resources": {"requests": {"cpu": "100m",
                                                                                    "memory": "128Mi"}}}]}}
PHASES = ("drain", "create")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def mem_mib(pid: int, field_name: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
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


@dataclass
class Processes:
    """The processes under test and their CPU use between ``mark()`` and ``since_mark()``."""

    named: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _cpu0: dict[str, float] = field(default_factory=dict)
    _bench0: float = 0.0

    @property
    def all(self) -> list[subprocess.Popen[bytes]]:
        return list(self.named.values())

    def mark(self) -> None:
        self._cpu0 = {n: cpu_seconds(p.pid) for n, p in self.named.items()}
        self._bench0 = time.process_time()

    def since_mark(self) -> dict[str, float]:
        out = {n: cpu_seconds(p.pid) - self._cpu0.get(n, 0.0) for n, p in self.named.items()}
        out["bench"] = time.process_time() - self._bench0
        return out


class Bindings:
    """One watch on the namespace's bound pods: when each pod was first seen bound, and running."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}  # hollow nodes: when their status write reported the pod Running
        self._running_counts: dict[str, int] = {}  # by name prefix, as ``_counts``
        self._more_running = asyncio.Event()
        self._counts: dict[str, int] = {}  # by name prefix (up to the last "-")
        self._want: tuple[str, int] | None = None
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        rv = (await self.client.list(PODS, "default", limit=1))["metadata"]["resourceVersion"]
        self._task = asyncio.create_task(self._watch(rv))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def expect(self, prefix: str, n: int) -> asyncio.Event:
        self._want = (prefix, n)
        self._done = asyncio.Event()
        self._check()
        return self._done

    async def wait_running(self, prefix: str, n: int) -> None:
        """Until ``n`` pods named ``<prefix>*`` were seen Running."""
        while self._running_counts.get(prefix, 0) < n:
            self._more_running.clear()
            await self._more_running.wait()

    def count(self, prefix: str) -> int:
        return self._counts.get(prefix, 0)

    def _check(self) -> None:
        if self._want is not None and self.count(self._want[0]) >= self._want[1]:
            self._done.set()

    async def _watch(self, rv: str) -> None:
        while True:
            try:
                async for ev in self.client.watch(PODS, "default", rv, timeout_seconds=600,
                                                  fieldSelector="spec.nodeName!="):
                    md = (ev.get("object") or {}).get("metadata") or {}
                    rv = md.get("resourceVersion", rv)
                    name = md.get("name", "")
                    if ev.get("type") in ("ADDED", "MODIFIED") and name not in self.running and \
                            ((ev.get("object") or {}).get("status") or {}).get("phase") == "Running":
                        self.running[name] = time.monotonic()
                        running_prefix = name[:name.rfind("-") + 1]
                        self._running_counts[running_prefix] = self._running_counts.get(running_prefix, 0) + 1
                        self._more_running.set()
                    if ev.get("type") in ("ADDED", "MODIFIED") and name not in self.bound:
                        self.bound[name] = time.monotonic()
                        prefix = name[:name.rfind("-") + 1]
                        self._counts[prefix] = self._counts.get(prefix, 0) + 1
                        self._check()
            except (ApiError, OSError) as e:
                print(f"  watch interrupted: {e}", flush=True)
                await asyncio.sleep(0.2)


async def create_pods(client: Client, prefix: str, n: int, concurrency: int) -> dict[str, float]:
    """Create ``<prefix><i>`` for i < n from ``concurrency`` clients; when each create was sent."""
    created: dict[str, float] = {}
    names = iter(range(n))

    async def creator() -> None:
        for i in names:
            name = f"{prefix}{i}"
            body = {**POD_TEMPLATE, "metadata": {**POD_TEMPLATE["metadata"], "name": name}}
            created[name] = time.monotonic()
            await client.create(PODS, body, "default")

    await asyncio.gather(*(creator() for _ in range(concurrency)))
    return created


async def wait_bound(bindings: Bindings, prefix: str, n: int, deadline: float,
                     procs: list[subprocess.Popen[bytes]]) -> None:
    done = bindings.expect(prefix, n)
    while not done.is_set():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{bindings.count(prefix)}/{n} {prefix}* pods bound by the deadline")
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a process under test exited; rerun with --keep to read its log")
        try:
            await asyncio.wait_for(done.wait(), 5.0)
        except TimeoutError:
            print(f"  ... {bindings.count(prefix)}/{n} bound", flush=True)


def throughput(times: list[float]) -> dict[str, Any]:
    """Pods/s from the first binding to the last, and upstream's per-second samples (whole
    seconds from the first binding; the last, partial one is left out)."""
    times = sorted(times)
    first, last = times[0], times[-1]
    seconds = int(last - first)
    samples = [0.0] * seconds
    for t in times:
        k = int(t - first)
        if k < seconds:
            samples[k] += 1
    return {"pods_per_s": (len(times) - 1) / (last - first) if last > first else float("nan"),
            "seconds": last - first, "p50": pct(samples, 0.5), "p90": pct(samples, 0.9),
            "p99": pct(samples, 0.99), "samples": samples}


async def create_static_nodes(client: Client, n: int) -> None:
    """Node objects without kubelets (as scheduler_perf's): Ready, 4 CPU / 16Gi / 110 pods."""
    names = iter(range(n))

    async def creator() -> None:
        for i in names:
            ip = f"198.18.{i // 256}.{i % 256}"
            await client.create(NODES, nodestatus.build_node(nodestatus.NodeConfig(f"node-{i}", ip)))

    await asyncio.gather(*(creator() for _ in range(32)))


async def scheduled_events(client: Client, prefix: str) -> int:
    """``Scheduled`` events about ``<prefix>*`` pods once their number stops growing (the
    scheduler posts them after binding; a recorder that falls behind drops them)."""
    count = -1
    for _ in range(30):
        items = (await client.list(EVENTS, "default"))["items"]
        now = sum(1 for e in items if e.get("reason") == "Scheduled"
                  and (e.get("involvedObject") or {}).get("name", "").startswith(prefix))
        if now == count:
            return now
        count = now
        await asyncio.sleep(1.0)
    return count


async def running_at(bindings: Bindings, prefix: str, n: int, t: float) -> str:
    """How far the kubelets' status writes trail the bindings: the server carries those writes too,
    and the ones still pending when the last pod is bound are not in that phase's CPU figures.
    Waits (at most a minute) for all ``n`` pods to be reported Running."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await bindings.wait_running(prefix, n)
    times = [v for k, v in bindings.running.items() if k.startswith(prefix)]
    early = sum(1 for v in times if v <= t)
    last = f"; the last {max(times) - t:.1f}s after it" if times and max(times) > t else ""
    return f"{early} pods reported Running by the last binding{last} ({len(times)} seen Running)"


def describe_cpu(cpu: dict[str, float], pods: int) -> str:
    return ", ".join(f"{name} {s:.1f}s ({s / max(pods, 1) * 1000:.2f} ms/pod)" for name, s in cpu.items())


async def run_one(args: argparse.Namespace, nodes: int, kind: str) -> None:
    deadline = time.monotonic() + args.deadline
    base = Path(tempfile.mkdtemp(prefix=f"kyb-bench-sched-{nodes}-"))
    data = base / "data"
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    procs = Processes()
    client: Client | None = None
    bindings: Bindings | None = None
    try:
        procs.named["server"] = kyb("server", "--data-dir", str(data), "--bind-address", "127.0.0.1",
                                    "--https-listen-port", str(port), "--disable-agent", "--disable-scheduler",
                                    "--disable-controller-manager", log=base / "server.log")
        kubeconfig = data / "kubeconfig.yaml"
        await wait_for("kubeconfig", lambda: _true(kubeconfig.exists()), deadline, procs.all)
        client = Client(load_kubeconfig(kubeconfig, user_agent="bench"), max_connections=args.concurrency + 8)
        await wait_for("API server", lambda: _listable(client), deadline, procs.all)
        t0 = time.monotonic()
        if kind == "plain":
            await create_static_nodes(client, nodes)
        else:
            ca = data / "server" / "tls" / "server-ca.crt"
            token = (data / "token").read_text().strip()
            procs.named["agent"] = kyb("agent", "--server", url, "--token", token, "--ca-file", str(ca),
                                       "--hollow", str(nodes), "--node-lease-duration-seconds",
                                       str(args.lease_duration), log=base / "agent.log")

        async def nodes_registered() -> bool:
            return len((await client.list(NODES))["items"]) >= nodes

        await wait_for(f"{nodes} nodes", nodes_registered, deadline, procs.all)
        what = "Node objects (no kubelets)" if kind == "plain" else "hollow nodes"
        print(f"  {nodes} {what} registered in {time.monotonic() - t0:.1f}s", flush=True)
        bindings = Bindings(client)
        await bindings.start()
        phases = [p for p in args.phases.split(",") if p]

        if "drain" in phases:
            t0 = time.monotonic()
            await create_pods(client, "drain-", args.pods, args.concurrency)
            print(f"  drain: created {args.pods} pending pods in {time.monotonic() - t0:.1f}s", flush=True)
        procs.named["scheduler"] = kyb("scheduler", "--kubeconfig", str(kubeconfig), log=base / "scheduler.log")
        procs.mark()

        async def leading() -> bool:
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
            return bool((lease.get("spec") or {}).get("holderIdentity"))

        await wait_for("scheduler leadership", leading, deadline, procs.all)
        if "drain" in phases:
            await wait_bound(bindings, "drain-", args.pods, deadline, procs.all)
            cpu = procs.since_mark()  # from the scheduler's start: its informers' initial lists included
            r = throughput([t for k, t in bindings.bound.items() if k.startswith("drain-")])
            print(f"  drain: scheduled {args.pods} queued pods in {r['seconds']:.1f}s: {r['pods_per_s']:.0f} pods/s "
                  f"(per-second samples p50 {r['p50']:.0f}, p90 {r['p90']:.0f}, p99 {r['p99']:.0f})", flush=True)
            if args.samples:
                print(f"  drain: pods bound in each second: {' '.join(f'{x:.0f}' for x in r['samples'])}", flush=True)
            print(f"  drain CPU: {describe_cpu(cpu, args.pods)}", flush=True)
            if kind == "hollow":
                last_bound = max(v for k, v in bindings.bound.items() if k.startswith("drain-"))
                print(f"  drain: {await running_at(bindings, 'drain-', args.pods, last_bound)}", flush=True)
            print(f"  drain: Scheduled events recorded for {await scheduled_events(client, 'drain-')}/{args.pods} pods",
                  flush=True)

        if "create" in phases:
            await asyncio.sleep(1.0)  # let the drain's status writes and events settle
            procs.mark()
            load_start = os.getloadavg()[0]
            t0 = time.monotonic()
            created = await create_pods(client, "create-", args.pods, args.concurrency)
            t_created = time.monotonic()
            await wait_bound(bindings, "create-", args.pods, deadline, procs.all)
            cpu = procs.since_mark()
            bound = {k: t for k, t in bindings.bound.items() if k.startswith("create-")}
            lat = [bound[k] - created[k] for k in bound if k in created]
            seconds = max(bound.values()) - min(created.values())
            print(f"  create: {args.pods} pods created in {t_created - t0:.1f}s "
                  f"({args.pods / (t_created - t0):.0f}/s) and scheduled in {seconds:.1f}s: "
                  f"{len(bound) / seconds:.0f} pods/s; latency create → bound p50 {pct(lat, 0.5) * 1000:.0f} ms, "
                  f"p99 {pct(lat, 0.99) * 1000:.0f} ms (load average {load_start:.1f} -> "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
            print(f"  create CPU: {describe_cpu(cpu, args.pods)}", flush=True)
            print(f"  create: Scheduled events recorded for {await scheduled_events(client, 'create-')}/{args.pods} "
                  "pods", flush=True)

        sched = procs.named["scheduler"].pid
        rss = [f"scheduler {mem_mib(sched, 'VmRSS'):.0f} MiB (peak {mem_mib(sched, 'VmHWM'):.0f} MiB)"]
        rss += [f"{n} {mem_mib(p.pid, 'VmRSS'):.0f} MiB" for n, p in procs.named.items() if n != "scheduler"]
        print(f"  RSS: {', '.join(rss)}", flush=True)
    finally:
        if bindings is not None:
            await bindings.stop()
        if client is not None:
            await client.close()
        for p in reversed(procs.all):
            stop_process(p)
        if args.keep:
            print(f"  logs kept in {base}", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


async def _true(v: bool) -> bool:
    return v


async def _listable(client: Client) -> bool:
    await client.list(NODES, limit=1)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="1000,5000", help="comma-separated node counts, one run each")
    ap.add_argument("--pods", type=int, default=10000, help="pods per measurement")
    ap.add_argument("--phases", default="drain,create", help=f"measurements to run, of {','.join(PHASES)}")
    ap.add_argument("--node-kinds", default="plain,hollow",
                    help="plain (Node objects, no kubelets: scheduler_perf's setup) and/or hollow (hollow kubelets)")
    ap.add_argument("--concurrency", type=int, default=64, help="parallel pod creations")
    ap.add_argument("--deadline", type=float, default=1800, help="seconds for each run, all included")
    ap.add_argument("--samples", action="store_true", help="print the drain's per-second binding counts")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the processes' logs")
    ap.add_argument("--lease-duration", type=int, default=40,
                    help="hollow node Lease duration; renewed every quarter of it (kubelet default 40)")
    args = ap.parse_args()
    unknown = set(args.phases.split(",")) - set(PHASES) - {""}
    if unknown:
        ap.error(f"unknown phases {sorted(unknown)}")
    kinds = [k for k in args.node_kinds.split(",") if k]
    if set(kinds) - {"plain", "hollow"}:
        ap.error("--node-kinds takes plain and/or hollow")
    print(f"scheduler benchmark on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}: other processes "
          "compete for them)", flush=True)
    for nodes in (int(x) for x in args.nodes.split(",")):
        for kind in kinds:
            print(f"{nodes} {kind} nodes, {args.pods} pods per measurement:", flush=True)
            uvloop.run(run_one(args, nodes, kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
