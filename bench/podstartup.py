"""Pod start-up latency on one real node: from the create request to the pod's ``Running`` phase as a
watch sees it.

Usage (root; the agent runs containerd, a bridge and pods)::

    flock /tmp/kyb-host.lock python3 bench/podstartup.py [--singles 20] [--batches 10,50]

Starts ``kyb server`` with its embedded agent (no service proxy, ServiceLB or ingress: only pods are
measured) in a temp dir on a free loopback port, waits for the node to be Ready, starts one pod that is
not counted (the first sandbox creates the bridge), then measures ``--singles`` pods one after the other
on the idle node, and each batch size with all its pods created at once. Every pod is busybox (present
offline) sleeping until SIGTERM. Per pod: client clock from just before its POST to the first watch event
showing ``status.phase: Running``. Each run prints p50, p99, max, the total (first POST to last Running)
and the CPU seconds the server process and the whole machine used meanwhile (for the singles, total and
CPU are summed over them). Pods are deleted, and the node's clean-up awaited, between runs. On exit the
pods, the server, the pod bridge and the temp dir are gone and the node's sysctls are restored.
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
import uuid
from pathlib import Path
from typing import Any

from kybernetes.client.errors import ApiError
from kybernetes.client.rest import NODES, PODS, Client, load_kubeconfig

NAMESPACE = "default"
#: host settings the node changes (forwarding for the bridge, no ICMP redirects from it), restored on exit
NODE_SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/send_redirects")
LABEL = "bench-podstartup"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def pod(name: str, run: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {LABEL: run}},
            "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
                "name": "main", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]}]}}


async def until(what: str, fn: Any, within: float, interval: float = 0.05) -> Any:
    end = time.monotonic() + within
    while time.monotonic() < end:
        result = await fn()
        if result:
            return result
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


class RunningWatch:
    """One watch on every bench pod for the whole benchmark: when each was first seen Running."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.running: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        rv = (await self.client.list(PODS, NAMESPACE, labelSelector=LABEL))["metadata"]["resourceVersion"]
        self.task = asyncio.create_task(self._run(rv))

    async def _run(self, rv: str) -> None:
        while True:
            async for ev in self.client.watch(PODS, NAMESPACE, rv, labelSelector=LABEL):
                obj = ev.get("object") or {}
                rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                name = (obj.get("metadata") or {}).get("name", "")
                if ev.get("type") != "BOOKMARK" and (obj.get("status") or {}).get("phase") == "Running" \
                        and name not in self.running:
                    self.running[name] = time.monotonic()
                    self.changed.set()

    async def wait(self, names: set[str], within: float) -> None:
        end = time.monotonic() + within
        while not names <= self.running.keys():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(end - time.monotonic(), 0.001))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def run_pods(client: Client, watch: RunningWatch, n: int, within: float) -> tuple[list[float], float]:
    """Create ``n`` pods at once; their create→Running latencies and first POST → last Running."""
    run = uuid.uuid4().hex[:8]
    created: dict[str, float] = {}

    async def create(i: int) -> None:
        name = f"pod-{run}-{i}"
        created[name] = time.monotonic()
        await client.create(PODS, pod(name, run), NAMESPACE)

    await asyncio.gather(*(create(i) for i in range(n)))
    await watch.wait(set(created), within)
    latencies = [watch.running[name] - t for name, t in created.items()]
    return latencies, max(watch.running[name] for name in created) - min(created.values())


def left_on_node(data_dir: Path, uids: set[str]) -> list[str]:
    """UIDs the node still has a pod directory or a CRI log directory of."""
    left = [u for u in uids if (data_dir / "agent" / "pods" / u).exists()]
    logs = Path("/var/log/pods")
    return left + [d.name for d in (logs.iterdir() if logs.is_dir() else []) if d.name.rsplit("_", 1)[-1] in uids]


async def delete_all(client: Client, data_dir: Path, within: float) -> None:
    """Delete every bench pod and wait until the node removed them (pod dirs and log dirs)."""
    uids = {p["metadata"]["uid"] for p in (await client.list(PODS, NAMESPACE, labelSelector=LABEL))["items"]}
    await client.delete_collection(PODS, NAMESPACE, labelSelector=LABEL)

    async def gone() -> bool:
        if (await client.list(PODS, NAMESPACE, labelSelector=LABEL))["items"]:
            return False
        return not await asyncio.to_thread(left_on_node, data_dir, uids)

    await until("the bench pods to be cleaned up", gone, within, 0.2)


class CPU:
    """CPU seconds used since the last mark: by the ``kyb server`` process (API server, controllers,
    scheduler, kubelet) and by the whole machine (containerd, shims, runc and CNI plugins included)."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.last = self._read()

    def _read(self) -> tuple[float, float]:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / self.tick
        cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = sum(int(v) for i, v in enumerate(cpu) if i not in (3, 4)) / self.tick  # all but idle, iowait
        return server, busy

    def mark(self) -> tuple[float, float]:
        now = self._read()
        used = (now[0] - self.last[0], now[1] - self.last[1])
        self.last = now
        return used


def report(label: str, latencies: list[float], total: float, cpu: tuple[float, float]) -> None:
    ms = [x * 1000 for x in latencies]
    print(f"{label:>14}: n={len(ms):3d}  p50 {pct(ms, 50):6.0f} ms  p99 {pct(ms, 99):6.0f} ms  "
          f"max {max(ms):6.0f} ms  total {total * 1000:6.0f} ms  cpu: server {cpu[0]:5.2f} s, "
          f"machine {cpu[1]:5.2f} s", flush=True)


async def bench(kubeconfig: Path, data_dir: Path, node: str, server_pid: int, args: argparse.Namespace) -> None:
    client = Client(load_kubeconfig(kubeconfig, user_agent="bench-podstartup"))
    try:
        async def ready() -> bool:
            try:
                obj = await client.get(NODES, node)
            except ApiError:
                return False
            return any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in (obj.get("status") or {}).get("conditions") or [])

        await until(f"node {node} to be Ready", ready, 90, 0.2)
        watch = RunningWatch(client)
        await watch.start()
        cpu = CPU(server_pid)
        try:
            lat, total = await run_pods(client, watch, 1, args.timeout)
            report("first (cold)", lat, total, cpu.mark())
            await delete_all(client, data_dir, args.timeout)
            singles: list[float] = []
            used = (0.0, 0.0)
            for _ in range(args.singles):
                cpu.mark()
                lat, _total = await run_pods(client, watch, 1, args.timeout)
                singles += lat
                used = tuple(a + b for a, b in zip(used, cpu.mark(), strict=True))  # type: ignore[assignment]
                await delete_all(client, data_dir, args.timeout)
            if singles:
                report("1 pod (idle)", singles, sum(singles), used)
            for n in args.batches:
                cpu.mark()
                lat, total = await run_pods(client, watch, n, args.timeout)
                report(f"{n} pods", lat, total, cpu.mark())
                await delete_all(client, data_dir, args.timeout)
        finally:
            await watch.stop()
            with contextlib.suppress(Exception):
                await delete_all(client, data_dir, args.timeout)
    finally:
        await client.close()


def mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--singles", type=int, default=20, help="single pods measured one after the other")
    p.add_argument("--batches", default="10,50", help="batch sizes, comma-separated")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per run")
    args = p.parse_args()
    args.batches = [int(x) for x in args.batches.split(",") if x]
    if os.geteuid() != 0:
        print("podstartup: the node agent needs root", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="kyb-podstartup-"))
    data_dir, port, node = base / "data", free_port(), f"bench-{uuid.uuid4().hex[:6]}"
    before = links()
    sysctls = {key: Path("/proc/sys", key).read_text() for key in NODE_SYSCTLS}
    log = open(base / "server.log", "ab")
    server = subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(data_dir),
                               "--bind-address", "127.0.0.1", "--https-listen-port", str(port), "--node-name", node,
                               "--kubelet-port", str(free_port()), "--disable-kube-proxy", "--disable",
                               "servicelb,ingress"], stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        kubeconfig = data_dir / "kubeconfig.yaml"
        end = time.monotonic() + 60
        while not kubeconfig.exists():
            if server.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"kyb server did not start; see {base / 'server.log'}")
            time.sleep(0.05)
        asyncio.run(bench(kubeconfig, data_dir, node, server.pid, args))
        ok = True
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        for link in links() - before:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for key, value in sysctls.items():
            Path("/proc/sys", key).write_text(value)
        left = mounts_under(base)
        if left or not ok:
            print(f"podstartup: kept {base} ({len(left)} mounts left under it; server log there)", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
