"""API server benchmark: N concurrent clients doing create, get, list, merge-patch, delete and a
watch fan-out; prints ops/s and p50/p99 per operation plus the server's RSS.

Usage:
  python bench/api.py                      # starts its own `kyb server` in a temp dir
  python bench/api.py --data-dir D         # uses a running server's kubeconfig/certs under D
Every loop is bounded by a count; the whole run by --deadline seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def report(name: str, count: int, elapsed: float, lat: list[float]) -> None:
    print(f"{name:<22} {count / elapsed:>10.0f} ops/s   p50 {pct(lat, .5) * 1000:7.2f} ms   "
          f"p99 {pct(lat, .99) * 1000:7.2f} ms   (n={count}, {elapsed:.2f}s)", flush=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cm(name: str, i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "data": {"index": str(i), "payload": "x" * 64}}


async def run_pool(n: int, clients: int, op: Any) -> tuple[float, list[float]]:
    lat: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            await op(i)
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - t0, lat


async def bench(url: str, ctx: ssl.SSLContext, args: argparse.Namespace, pid: int | None) -> None:
    ns = f"bench-{int(time.time())}"
    conn = aiohttp.TCPConnector(ssl=ctx, limit=args.clients * 2 + args.watchers + 10)
    async with aiohttp.ClientSession(url, connector=conn, json_serialize=lambda o: orjson.dumps(o).decode()) as s:
        async def req(method: str, path: str, body: Any = None, ctype: str = "application/json",
                      ok: tuple[int, ...] = (200, 201)) -> bytes:
            data = orjson.dumps(body) if body is not None else None
            async with s.request(method, path, data=data, headers={"Content-Type": ctype}) as r:
                out = await r.read()
                if r.status not in ok:
                    raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
                return out

        await req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        base = f"/api/v1/namespaces/{ns}/configmaps"
        if pid:
            print(f"server RSS idle: {rss_mib(pid):.1f} MiB")
        n = args.objects

        elapsed, lat = await run_pool(n, args.clients, lambda i: req("POST", base, cm(f"c{i}", i)))
        report("create", n, elapsed, lat)
        elapsed, lat = await run_pool(n, args.clients, lambda i: req("GET", f"{base}/c{i % n}"))
        report("get", n, elapsed, lat)
        lists = args.lists
        elapsed, lat = await run_pool(lists, min(args.clients, 8), lambda i: req("GET", base))
        report(f"list ({n} objects)", lists, elapsed, lat)
        elapsed, lat = await run_pool(n, args.clients, lambda i: req(
            "PATCH", f"{base}/c{i}", {"data": {"index": f"p{i}"}}, "application/merge-patch+json"))
        report("merge-patch", n, elapsed, lat)

        # watch fan-out: W watchers on the namespace, then timed writes; latency = receive - send
        ready = 0
        all_ready = asyncio.Event()
        sent: dict[str, float] = {}
        fanout: list[float] = []
        events_expected = args.fanout_writes * args.watchers
        all_done = asyncio.Event()

        async def watcher() -> None:
            nonlocal ready
            rv = orjson.loads(await req("GET", base + "?limit=1"))["metadata"]["resourceVersion"]
            async with s.get(f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=120") as r:
                ready += 1
                if ready == args.watchers:
                    all_ready.set()
                async for line in r.content:
                    ev = orjson.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    if name in sent:
                        fanout.append(time.perf_counter() - sent[name])
                        if len(fanout) >= events_expected:
                            all_done.set()
                            return
                    if all_done.is_set():
                        return

        tasks = [asyncio.create_task(watcher()) for _ in range(args.watchers)]
        await asyncio.wait_for(all_ready.wait(), timeout=60)
        for i in range(args.fanout_writes):
            name = f"w{i}"
            sent[name] = time.perf_counter()
            await req("POST", base, cm(name, i))
            await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(all_done.wait(), timeout=30)
        except TimeoutError:
            print(f"watch fan-out: only {len(fanout)}/{events_expected} events arrived")
        for t in tasks:
            t.cancel()
        print(f"{'watch fan-out':<22} {args.watchers} watchers x {args.fanout_writes} writes   "
              f"p50 {pct(fanout, .5) * 1000:7.2f} ms   p99 {pct(fanout, .99) * 1000:7.2f} ms")

        elapsed, lat = await run_pool(n, args.clients, lambda i: req("DELETE", f"{base}/c{i}"))
        report("delete", n, elapsed, lat)
        if pid:
            print(f"server RSS after run: {rss_mib(pid):.1f} MiB")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="data dir of a running kyb server (default: start one)")
    ap.add_argument("--url", help="server URL when using --data-dir (default from its kubeconfig)")
    ap.add_argument("--pid", type=int, help="server PID for RSS (when using --data-dir)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--lists", type=int, default=100)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--fanout-writes", type=int, default=50)
    ap.add_argument("--deadline", type=float, default=600)
    args = ap.parse_args()

    tmp = None
    proc = None
    if args.data_dir:
        data_dir = Path(args.data_dir)
        url = args.url or yaml.safe_load((data_dir / "kubeconfig.yaml").read_text())["clusters"][0]["cluster"]["server"]
        pid = args.pid
    else:
        tmp = tempfile.mkdtemp(prefix="kyb-bench-")
        data_dir = Path(tmp)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", tmp,
                                 "--bind-address", "127.0.0.1", "--https-listen-port", str(port), "--disable-agent"],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "server.log"), "wb"))
        url, pid = f"https://127.0.0.1:{port}", proc.pid
    tls = data_dir / "server" / "tls"
    try:
        deadline = time.monotonic() + 30
        while not (data_dir / "kubeconfig.yaml").exists():
            if time.monotonic() > deadline or (proc and proc.poll() is not None):
                raise SystemExit("server did not start")
            time.sleep(0.05)
        ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
        ctx.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        runner(asyncio.wait_for(bench(url, ctx, args, pid), args.deadline))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
