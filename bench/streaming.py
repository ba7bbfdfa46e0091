"""exec benchmark (root only): what a command costs through API server → kubelet → containerd.

One ``kyb server`` with its embedded agent (in a temp dir, removed at the end) runs a busybox pod; then

1. latency: ``--execs`` sequential execs of ``true`` over the v5 WebSocket (aiohttp client, admin
   certificate), from connect to the final Status; p50/p99;
2. throughput: one exec of ``head -c <--megabytes>M /dev/zero``, stdout read at the client; MB/s;
3. for reference, ``kubectl exec … true`` wall time (process start included), p50 of ``--kubectl`` runs.

Every loop is bounded by its count and a deadline.

Usage: sudo python3 bench/streaming.py [--execs 30] [--megabytes 64] [--kubectl 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tests.e2e.conftest import Cluster, agent_server
from tests.e2e.nodeview import NamespacedKubectl

POD = """
apiVersion: v1
kind: Pod
metadata: {name: bench}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
"""


async def exec_once(session: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    """Seconds until the Status arrived, and the stdout bytes seen."""
    start, stdout = time.perf_counter(), 0
    async with session.ws_connect(url, protocols=("v5.channel.k8s.io",), max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            if msg.data[0] == 1:
                stdout += len(msg.data) - 1
            elif msg.data[0] == 3:
                assert json.loads(msg.data[1:])["status"] == "Success", msg.data
                return time.perf_counter() - start, stdout
    raise RuntimeError("exec ended without a Status")


async def measure(cluster: Cluster, namespace: str, execs: int, megabytes: int) -> dict[str, float]:
    base = f"{cluster.url}/api/v1/namespaces/{namespace}/pods/bench/exec?container=main&stdout=true"
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        latencies: list[float] = []
        deadline = time.monotonic() + 120
        while len(latencies) < execs and time.monotonic() < deadline:
            latencies.append((await exec_once(session, base + "&command=true"))[0])
        latencies.sort()
        cmd = f"&command=head&command=-c&command={megabytes << 20}&command=/dev/zero"
        seconds, size = await asyncio.wait_for(exec_once(session, base + cmd), 300)
    return {"exec_true_p50_ms": statistics.median(latencies) * 1000,
            "exec_true_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "execs": len(latencies), "stdout_MB_per_s": size / seconds / 1e6, "stdout_MB": size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--execs", type=int, default=30)
    ap.add_argument("--megabytes", type=int, default=64)
    ap.add_argument("--kubectl", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-streams-") as tmp, \
            agent_server(Path(tmp), f"kybbench-{uuid.uuid4().hex[:6]}") as cluster:
        k = NamespacedKubectl(cluster, "1.37", "bench")
        k("create", "-f", "-", input=POD)
        k("wait", "pod/bench", "--for=condition=Ready", "--timeout=120s", timeout=130)
        results = asyncio.run(measure(cluster, "bench", args.execs, args.megabytes))
        walls = []
        for _ in range(args.kubectl):
            t = time.perf_counter()
            k("exec", "bench", "--", "true")
            walls.append(time.perf_counter() - t)
        results["kubectl_exec_true_p50_ms"] = statistics.median(walls) * 1000
    for key, value in results.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
