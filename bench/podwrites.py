"""API server cost of the writes every scheduled pod causes: a fresh ``kyb server`` (subprocess,
nothing else running in it), pods created first, then three measured phases, each over every pod:

* **get** — ``GET pods/<name>`` (no write: the cost of serving any request, for comparison),
* **bind** — ``POST pods/<name>/binding`` (what the scheduler sends),
* **event** — ``POST events`` (the scheduler's ``Scheduled`` event),
* **status** — ``PATCH pods/<name>/status`` with a kubelet's Running/Ready status (a hollow
  kubelet's body),

while ``--watchers`` watches of bound pods stay open (scheduler, kubelets, and so on each hold one),
so the fan-out of each change is paid too. Prints, per phase, the server's CPU per request (from
``/proc/<pid>/task/*/schedstat``: its own threads only, so the client's load does not count), requests per
second and the server's RSS. The machine's other load inflates CPU time too, so each phase is
read in chunks and the least (and median) CPU per request is printed: compare runs side by side.

Usage: python bench/podwrites.py [--pods 3000] [--watchers 3] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from kybernetes.api.printing import format_time
from kybernetes.client.rest import EVENTS, NODES, PODS, Client, load_kubeconfig
from kybernetes.kubelet import nodestatus
from kybernetes.kubelet.hollow import pod_status

sys.path.insert(0, str(Path(__file__).parent))
from scheduler import POD_TEMPLATE, free_port, kyb, mem_mib, pct, stop_process, wait_for


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in ns (the scheduler's own accounting: finer
    than /proc/<pid>/stat's clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended meanwhile
    return total


async def each(names: list[str], concurrency: int, action: Any) -> float:
    """Run ``action(name)`` for every name from ``concurrency`` workers; the wall time taken."""
    it = iter(names)

    async def worker() -> None:
        for name in it:
            await action(name)

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - t0


async def watch_bound(client: Client, rv: str, seen: list[int]) -> None:
    async for _ in client.watch(PODS, "default", rv, timeout_seconds=3600, fieldSelector="spec.nodeName!="):
        seen[0] += 1


async def run(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="kyb-bench-podwrites-"))
    data = base / "data"
    port = free_port()
    deadline = time.monotonic() + args.deadline
    server = kyb("server", "--data-dir", str(data), "--bind-address", "127.0.0.1", "--https-listen-port", str(port),
                 "--disable-agent", "--disable-scheduler", "--disable-controller-manager", log=base / "server.log")
    client: Client | None = None
    watchers: list[asyncio.Task[None]] = []
    try:
        kubeconfig = data / "kubeconfig.yaml"

        async def exists() -> bool:
            return kubeconfig.exists()

        await wait_for("kubeconfig", exists, deadline, [server])
        client = Client(load_kubeconfig(kubeconfig, user_agent="bench"), max_connections=args.concurrency + 8)

        async def listable() -> bool:
            await client.list(NODES, limit=1)
            return True

        await wait_for("API server", listable, deadline, [server])
        nodes = [nodestatus.NodeConfig(f"node-{i}", f"198.18.0.{i + 1}") for i in range(args.nodes)]
        for cfg in nodes:
            await client.create(NODES, nodestatus.build_node(cfg))
        names = [f"p-{i}" for i in range(args.pods)]
        pods: dict[str, dict[str, Any]] = {}

        async def create(name: str) -> None:
            pods[name] = await client.create(PODS, {**POD_TEMPLATE, "metadata": {**POD_TEMPLATE["metadata"],
                                                                                   "name": name}}, "default")

        await each(names, args.concurrency, create)
        rv = (await client.list(PODS, "default", limit=1))["metadata"]["resourceVersion"]
        seen = [0]
        watchers = [asyncio.create_task(watch_bound(client, rv, seen)) for _ in range(args.watchers)]

        async def bind(name: str) -> None:
            node = nodes[hash(name) % len(nodes)].name
            await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                       "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                                "default", subresource="binding", name=name)

        async def event(name: str) -> None:
            now = format_time()
            ref = {"kind": "Pod", "namespace": "default", "name": name, "uid": pods[name]["metadata"]["uid"],
                   "apiVersion": "v1"}
            await client.create(EVENTS, {"apiVersion": "v1", "kind": "Event",
                                         "metadata": {"name": f"{name}.bench", "namespace": "default"},
                                         "involvedObject": ref, "reason": "Scheduled", "type": "Normal",
                                         "message": f"Successfully assigned default/{name} to node-0",
                                         "source": {"component": "default-scheduler"}, "firstTimestamp": now,
                                         "lastTimestamp": now, "count": 1}, "default")

        async def status(name: str) -> None:
            pod = pods[name]
            body = pod_status(pod, "198.18.0.1", "10.42.0.2", format_time())
            await client.patch(PODS, name, {"metadata": {"uid": pod["metadata"]["uid"]}, "status": body},
                               "default", subresource="status")

        print(f"{args.pods} pods on {args.nodes} nodes, {args.watchers} watches of bound pods, "
              f"{args.concurrency} requests in flight (load average {os.getloadavg()[0]:.1f})", flush=True)
        async def get(name: str) -> None:
            await client.get(PODS, name, "default")

        for phase, action in (("get", get), ("bind", bind), ("event", event), ("status", status)):
            if phase == "status":  # the bound pods, as a kubelet's informer holds them (not measured)
                pods.update((p["metadata"]["name"], p) for p in (await client.list(PODS, "default"))["items"])
            per_request: list[float] = []
            wall = 0.0
            for k in range(0, args.pods, args.chunk):  # chunks: the least CPU of them shows through noise
                chunk = names[k:k + args.chunk]
                cpu0 = cpu_ns(server.pid)
                wall += await each(chunk, args.concurrency, action)
                per_request.append((cpu_ns(server.pid) - cpu0) / 1e9 / len(chunk))
            print(f"  {phase:6}: server CPU per request {min(per_request) * 1e6:5.0f} µs least, "
                  f"{pct(per_request, 0.5) * 1e6:5.0f} µs median of {len(per_request)} chunks; "
                  f"{args.pods / wall:5.0f} requests/s", flush=True)
        expected = args.watchers * 2 * args.pods
        for _ in range(100):  # the watchers may still be reading the last changes (at most 10 s)
            if seen[0] >= expected:
                break
            await asyncio.sleep(0.1)
        print(f"  watch events delivered: {seen[0]} (expected {expected}); "
              f"server RSS {mem_mib(server.pid, 'VmRSS'):.0f} MiB", flush=True)
    finally:
        for t in watchers:
            t.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        if client is not None:
            await client.close()
        stop_process(server)
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=3000)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=250, help="requests per CPU reading")
    ap.add_argument("--watchers", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--deadline", type=float, default=600, help="seconds to wait for the server to start")
    args = ap.parse_args()
    uvloop.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

