"""API server benchmark: N concurrent clients doing create, get, list, merge-patch, delete and a
watch fan-out; prints ops/s and p50/p99 per operation, the CPU the server and the clients spent per
operation, and the server's RSS.

Usage:
  python bench/api.py                      # starts its own `kyb server` in a temp dir
  python bench/api.py --data-dir D --pid P # uses a running server's kubeconfig/certs under D
  python bench/api.py --client aiohttp     # the clients use aiohttp instead of the lean client
  python bench/api.py --server-args "--disable-controller-manager --disable-scheduler"
  python bench/api.py --phases create,get  # a subset of: create,get,list,patch,watch,delete

The clients run in ``--procs`` worker processes (forked before any event loop), each with its share
of the ``--clients`` keep-alive HTTPS connections and of the watchers; workers report latencies
back to this process. They use ``_http.Conn``, a lean HTTP/1.1 client (real TLS with the admin
client certificate, every response read and its status checked): aiohttp's client costs ~3x the
CPU per request and, on the same two cores as the server, capped what the benchmark could see.
Client and server share the machine, so the CPU columns tell how much of it each side used:
``server µs/op`` is the server process's CPU time (all its threads) during the phase divided by
the operations, ``loop thread`` the share of its event-loop thread, ``client µs/op`` the same
for the worker processes. Every loop is bounded by a count; the whole run by --deadline seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import _http

CLOCK_TICK = os.sysconf("SC_CLK_TCK")
Request = Callable[..., Awaitable[bytes]]


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None, tid: int | None = None) -> float:
    """User + system CPU of a process and all its threads, or of its thread ``tid`` (0 when unknown)."""
    if not pid:
        return 0.0
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def cm(name: str, i: int) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "yes"}},
                         "data": {"index": str(i), "payload": "x" * 64}})


def operation(op: str, base: str, n: int) -> tuple[str, Callable[[int], tuple[str, str, bytes | None, str]]]:
    """(method, request builder) of one benchmark operation on object ``i``."""
    json, merge = "application/json", "application/merge-patch+json"
    ops: dict[str, Callable[[int], tuple[str, str, bytes | None, str]]] = {
        "create": lambda i: ("POST", base, cm(f"c{i}", i), json),
        "get": lambda i: ("GET", f"{base}/c{i % n}", None, json),
        "list": lambda i: ("GET", base, None, json),
        "patch": lambda i: ("PATCH", f"{base}/c{i}", orjson.dumps({"data": {"index": f"p{i}"}}), merge),
        "delete": lambda i: ("DELETE", f"{base}/c{i}", None, json),
    }
    return op, ops[op]


# --- clients ------------------------------------------------------------------------------------


class LeanClients:
    """``count`` connections of the lean client (``_http.Conn``)."""

    def __init__(self, url: str, ctx: ssl.SSLContext, count: int) -> None:
        u = urlsplit(url)
        self.host, self.port, self.ctx, self.count = u.hostname or "127.0.0.1", u.port or 443, ctx, count
        self.conns: list[_http.Conn] = []

    async def open(self) -> None:
        self.conns = list(await asyncio.gather(*(_http.Conn.open(self.host, self.port, self.ctx)
                                                 for _ in range(self.count))))

    def requester(self, k: int) -> Request:
        conn = self.conns[k]

        async def req(method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
                      ok: tuple[int, ...] = (200, 201)) -> bytes:
            return await _http.check(conn, method, path, body, ctype, ok)

        return req

    async def close(self) -> None:
        for c in self.conns:
            c.close()


class AiohttpClients:
    """One aiohttp session with ``count`` pooled connections (what the benchmark used to be)."""

    def __init__(self, url: str, ctx: ssl.SSLContext, count: int) -> None:
        self.url, self.ctx, self.count = url, ctx, count
        self.session: Any = None

    async def open(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(self.url, connector=aiohttp.TCPConnector(ssl=self.ctx,
                                                                                        limit=self.count))
        warm = self.requester(0)
        await asyncio.gather(*(warm("GET", "/version") for _ in range(self.count)))

    def requester(self, k: int) -> Request:
        async def req(method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
                      ok: tuple[int, ...] = (200, 201)) -> bytes:
            async with self.session.request(method, path, data=body, headers={"Content-Type": ctype}) as r:
                out: bytes = await r.read()
                if r.status not in ok:
                    raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
                return out

        return req

    async def close(self) -> None:
        await self.session.close()


# --- worker processes ---------------------------------------------------------------------------


def worker_main(pipe: Connection, kind: str, url: str, tls: Path, conns: int) -> None:
    """A client process: opens its connections, then runs each phase the parent sends."""
    import uvloop

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    clients = (LeanClients if kind == "lean" else AiohttpClients)(url, client_context(tls), conns)
    loop.run_until_complete(clients.open())
    pipe.send("ready")
    while (cmd := pipe.recv()) is not None:
        if cmd[0] == "ops":
            pipe.send(loop.run_until_complete(run_ops(clients, *cmd[1:])))
        elif cmd[0] == "watch":
            loop.run_until_complete(run_watchers(clients, pipe, *cmd[1:]))
    loop.run_until_complete(clients.close())


async def run_ops(clients: LeanClients | AiohttpClients, op: str, base: str, n: int, indices: list[int],
                  concurrency: int) -> tuple[float, float, float, list[float]]:
    """Run ``op`` on ``indices`` over ``concurrency`` connections: (start, end, CPU s, latencies)."""
    _, build = operation(op, base, n)
    lat: list[float] = []
    todo = iter(indices)

    async def one(req: Request) -> None:
        for i in todo:
            method, path, body, ctype = build(i)
            t = time.perf_counter()
            await req(method, path, body, ctype)
            lat.append(time.perf_counter() - t)

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(one(clients.requester(k)) for k in range(concurrency)))
    return t0, time.perf_counter(), time.process_time() - cpu0, lat


async def run_watchers(clients: LeanClients | AiohttpClients, pipe: Connection, base: str, watchers: int,
                       expected_names: int, host: str, port: int, tls: Path) -> None:
    """Open ``watchers`` watches, say "ready", then report when each ``w<i>`` object arrived."""
    req = clients.requester(0)
    rv = orjson.loads(await req("GET", base + "?limit=1"))["metadata"]["resourceVersion"]
    ctx = client_context(tls)
    got: list[tuple[str, float]] = []
    ready = 0
    all_ready, done = asyncio.Event(), asyncio.Event()
    expected = expected_names * watchers

    def on_headers(status: int) -> None:
        nonlocal ready
        ready += 1
        if ready == watchers:
            all_ready.set()

    def on_line(line: bytes) -> None:
        now = time.perf_counter()
        name = orjson.loads(line)["object"]["metadata"]["name"]
        if name.startswith("w"):
            got.append((name, now))
            if len(got) >= expected:
                done.set()

    conns = await asyncio.gather(*(_http.Conn.open(host, port, ctx) for _ in range(watchers)))
    tasks = [asyncio.create_task(c.stream(f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=120",
                                          on_line, on_headers)) for c in conns]
    await asyncio.wait_for(all_ready.wait(), 60)
    pipe.send("ready")
    with _suppress_timeout():
        await asyncio.wait_for(done.wait(), 60)
    for c in conns:
        c.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(got)


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, t: Any, e: Any, tb: Any) -> bool:
        return t is TimeoutError


# --- the parent ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, tls: Path, pid: int | None) -> None:
        self.args, self.url, self.tls, self.pid = args, url, tls, pid
        ctx = mp.get_context("fork")
        procs = max(1, min(args.procs, args.clients))
        self.per_proc = [args.clients // procs + (1 if w < args.clients % procs else 0) for w in range(procs)]
        self.pipes: list[Connection] = []
        self.procs = []
        for conns in self.per_proc:
            here, there = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(there, args.client, url, tls, conns), daemon=True)
            p.start()
            self.pipes.append(here)
            self.procs.append(p)
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise SystemExit("a client process failed to start")

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for p in self.procs:
            p.join(10)

    def phase(self, label: str, op: str, base: str, count: int, n: int, concurrency: int) -> None:
        procs = len(self.pipes)
        per = [max(1, min(c, concurrency // procs + (1 if w < concurrency % procs else 0)))
               for w, c in enumerate(self.per_proc)]
        server0, main0 = cpu_seconds(self.pid), cpu_seconds(self.pid, self.pid)
        for w, pipe in enumerate(self.pipes):
            pipe.send(("ops", op, base, n, list(range(w, count, procs)), per[w]))
        results = [pipe.recv() for pipe in self.pipes]
        server, main = cpu_seconds(self.pid) - server0, cpu_seconds(self.pid, self.pid) - main0
        elapsed = max(r[1] for r in results) - min(r[0] for r in results)
        client = sum(r[2] for r in results)
        lat = [x for r in results for x in r[3]]
        print(f"{label:<20} {count / elapsed:>7.0f} ops/s   p50 {pct(lat, .5) * 1000:6.2f} ms   "
              f"p99 {pct(lat, .99) * 1000:6.2f} ms   (n={count}, {elapsed:.2f}s)   "
              f"server {server / count * 1e6:5.0f} µs/op (loop thread {main / count * 1e6:4.0f})   "
              f"client {client / count * 1e6:5.0f} µs/op", flush=True)

    def fanout(self, base: str) -> None:
        """W watchers (spread over the worker processes), then timed writes; latency = receive - send."""
        args, procs = self.args, len(self.pipes)
        u = urlsplit(self.url)
        host, port = u.hostname or "127.0.0.1", u.port or 443
        shares = [args.watchers // procs + (1 if w < args.watchers % procs else 0) for w in range(procs)]
        for w, pipe in enumerate(self.pipes):
            pipe.send(("watch", base, shares[w], args.fanout_writes, host, port, self.tls))
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise SystemExit("watchers failed to start")
        sent: dict[str, float] = {}

        async def writes() -> None:
            conn = await _http.Conn.open(host, port, client_context(self.tls))
            for i in range(args.fanout_writes):
                name = f"w{i}"
                sent[name] = time.perf_counter()
                await _http.check(conn, "POST", base, cm(name, i))
                await asyncio.sleep(0.02)
            conn.close()

        run_loop(writes())
        lat = [t - sent[name] for pipe in self.pipes for name, t in pipe.recv() if name in sent]
        expected = args.fanout_writes * args.watchers
        if len(lat) < expected:
            print(f"watch fan-out: only {len(lat)}/{expected} events arrived")
        print(f"{'watch fan-out':<20} {args.watchers} watchers x {args.fanout_writes} writes   "
              f"p50 {pct(lat, .5) * 1000:6.2f} ms   p99 {pct(lat, .99) * 1000:6.2f} ms", flush=True)

    def run(self) -> None:
        args = self.args
        ns = f"bench-{int(time.time())}"

        async def setup() -> None:
            conn = await _http.Conn.open(urlsplit(self.url).hostname or "", urlsplit(self.url).port or 443,
                                         client_context(self.tls))
            await _http.check(conn, "POST", "/api/v1/namespaces", orjson.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            conn.close()

        run_loop(setup())
        base = f"/api/v1/namespaces/{ns}/configmaps"
        if self.pid:
            print(f"server RSS idle: {rss_mib(self.pid):.1f} MiB")
        print(f"clients: {args.clients} connections in {len(self.pipes)} {args.client} client processes")
        n = args.objects
        phases = set(args.phases.split(","))
        for op, label, count, concurrency in (("create", "create", n, args.clients), ("get", "get", n, args.clients),
                                              ("list", f"list ({n} objects)", args.lists, min(args.clients, 8)),
                                              ("patch", "merge-patch", n, args.clients), ("watch", "", 0, 0),
                                              ("delete", "delete", n, args.clients)):
            if op not in phases:
                continue
            if op == "watch":
                self.fanout(base)
            else:
                self.phase(label, op, base, count, n, concurrency)
        if self.pid:
            print(f"server RSS after run: {rss_mib(self.pid):.1f} MiB")


def run_loop(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def client_context(tls: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
    ctx.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
    return ctx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="data dir of a running kyb server (default: start one)")
    ap.add_argument("--url", help="server URL when using --data-dir (default from its kubeconfig)")
    ap.add_argument("--pid", type=int, help="server PID for RSS and CPU (when using --data-dir)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent connections in all")
    ap.add_argument("--procs", type=int, default=2, help="client processes sharing the connections")
    ap.add_argument("--client", choices=("lean", "aiohttp"), default="lean", help="HTTP client the workers use")
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--lists", type=int, default=100)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--fanout-writes", type=int, default=50)
    ap.add_argument("--server-args", default="", help="extra `kyb server` flags (when starting one)")
    ap.add_argument("--phases", default="create,get,list,patch,watch,delete", help="which phases to run")
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
                                 "--bind-address", "127.0.0.1", "--https-listen-port", str(port), "--disable-agent",
                                 *args.server_args.split()],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "server.log"), "wb"))
        url, pid = f"https://127.0.0.1:{port}", proc.pid
    tls = data_dir / "server" / "tls"
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("deadline exceeded"))
    signal.alarm(int(args.deadline))
    bench = None
    try:
        wait_ready(url, tls, proc)
        bench = Bench(args, url, tls, pid)
        bench.run()
    finally:
        if bench is not None:
            bench.close()
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def wait_ready(url: str, tls: Path, proc: subprocess.Popen[bytes] | None) -> None:
    """Until ``/readyz`` answers ok (the kubeconfig and certificates exist by then)."""
    u = urlsplit(url)
    deadline = time.monotonic() + 30

    async def probe() -> bool:
        try:
            conn = await _http.Conn.open(u.hostname or "", u.port or 443, client_context(tls))
        except (OSError, ssl.SSLError):
            return False
        try:
            status, _ = await conn.request("GET", "/readyz")
            return status == 200
        finally:
            conn.close()

    while True:
        if time.monotonic() > deadline or (proc and proc.poll() is not None):
            raise SystemExit("server did not start")
        if (tls / "client-admin.key").exists() and run_loop(probe()):
            return
        time.sleep(0.05)


if __name__ == "__main__":
    main()
