"""A throw-away node in network namespaces for data-path tests and ``bench/network.py`` (root only).

Topology (every name carries a random id, so labs never collide; nothing touches the root netns):

    client host  kybt-c<id>  10.99.77.2 ──veth── 10.99.77.1  node kybt-n<id>
                                                      bridge kybt<id> 10.42.77.1/24 (hairpin on)
                                                      ├─ pod a 10.42.77.11   (TCP server :8080)
                                                      ├─ pod b 10.42.77.12   (TCP server :8080)
                                                      ├─ pod c 10.42.77.13   (TCP server :8080)
                                                      └─ pod d 10.42.77.14   (client only)

Each server answers one line per connection, ``<pod name> <peer address>``, so a client learns
which backend answered and which source address that backend saw. Servers run under
``nsenter --net`` and are killed by PID; ``teardown`` deletes the namespaces (which takes the
bridge, the veths and every rule with them). Traffic only ever goes to these namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import select
import socket
import subprocess
import sys
from dataclasses import dataclass, field

SERVER = r"""
import asyncio, sys
name, port = sys.argv[1], int(sys.argv[2])
async def handle(reader, writer):
    writer.write(f"{name} {writer.get_extra_info('peername')[0]}\n".encode())
    try:
        await writer.drain()
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

CLIENT = r"""
import json, socket, sys, time
host, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
out = []
for _ in range(n):
    t = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            words = s.recv(200).decode().split()
        out.append(words + [round((time.perf_counter() - t) * 1e6)])
    except OSError as e:
        out.append(["ERR", type(e).__name__, round((time.perf_counter() - t) * 1e6)])
print(json.dumps(out))
"""

PREFIX = "kybt"
PORT = 8080


def free_port() -> int:
    """A loopback port free for both UDP and TCP (a few tries: other tests use ports too)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def is_root() -> bool:
    return os.geteuid() == 0


def run(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command (synchronously: lab setup happens outside the event loop)."""
    full = ["nsenter", f"--net=/run/netns/{netns}", *argv] if netns else list(argv)
    return subprocess.run(full, check=check, capture_output=True, text=True, timeout=30)


@dataclass
class Lab:
    """One node netns with a bridge, ``pods`` pod namespaces and a client host on an underlay."""

    servers: tuple[str, ...] = ("a", "b", "c")
    clients: tuple[str, ...] = ("d",)
    id: str = field(default_factory=lambda: secrets.token_hex(3))
    node_ip: str = "10.99.77.1"
    client_ip: str = "10.99.77.2"
    bridge_ip: str = "10.42.77.1"
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    pods: dict[str, str] = field(default_factory=dict)  # name → IP
    created: list[str] = field(default_factory=list)  # netns names, in creation order

    @property
    def node(self) -> str:
        return f"{PREFIX}-n{self.id}"

    @property
    def client(self) -> str:
        return f"{PREFIX}-c{self.id}"

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.id}"

    def pod_netns(self, name: str) -> str:
        return f"{PREFIX}-p{self.id}-{name}"

    def _netns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.created.append(name)
        run("ip", "link", "set", "lo", "up", netns=name)

    def setup(self) -> Lab:
        """Build the topology and start the servers; on any failure, undo what was done."""
        try:
            self._setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def _setup(self) -> None:
        n, c = self.node, self.client
        self._netns(n)
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=n)
        # The Service route points back out of the bridge: without this, forwarding a pod's packet
        # to a ClusterIP sends an ICMP redirect, which uses up the per-host ICMP rate limit and so
        # swallows the port-unreachable a REJECT answers with.
        run("sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0",
            netns=n)
        run("ip", "link", "add", self.bridge, "type", "bridge", netns=n)
        run("ip", "addr", "add", f"{self.bridge_ip}/24", "dev", self.bridge, netns=n)
        run("ip", "link", "set", self.bridge, "up", netns=n)
        run("ip", "route", "add", "10.43.0.0/16", "dev", self.bridge, netns=n)
        self._netns(c)
        run("ip", "link", "add", f"ku{self.id}n", "type", "veth", "peer", "name", f"ku{self.id}c", "netns", c,
            netns=n)
        run("ip", "addr", "add", f"{self.node_ip}/24", "dev", f"ku{self.id}n", netns=n)
        run("ip", "link", "set", f"ku{self.id}n", "up", netns=n)
        run("ip", "addr", "add", f"{self.client_ip}/24", "dev", f"ku{self.id}c", netns=c)
        run("ip", "link", "set", f"ku{self.id}c", "up", netns=c)
        for i, name in enumerate((*self.servers, *self.clients)):
            ip, veth, ns = f"10.42.77.{11 + i}", f"kv{self.id}{i}", self.pod_netns(name)
            self._netns(ns)
            run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns, netns=n)
            run("ip", "link", "set", veth, "master", self.bridge, "up", netns=n)
            run("bridge", "link", "set", "dev", veth, "hairpin", "on", netns=n)
            run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", netns=ns)
            run("ip", "link", "set", "eth0", "up", netns=ns)
            run("ip", "route", "add", "default", "via", self.bridge_ip, netns=ns)
            self.pods[name] = ip
        for name in self.servers:
            self.start_server(name)

    def start_server(self, name: str, port: int = PORT, netns: str | None = None) -> subprocess.Popen[str]:
        """Start the answering server ``name`` in pod ``name``'s namespace (or in ``netns``)."""
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns or self.pod_netns(name)}", sys.executable, "-c",
                                 SERVER, name, str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        if not ready or proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"server in pod {name} did not start")
        return proc

    def teardown(self) -> None:
        """Kill our servers (by PID) and delete our namespaces; never raises."""
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()
        for ns in reversed(self.created):
            run("ip", "netns", "del", ns, check=False)
        self.created.clear()

    def leftovers(self) -> list[str]:
        """Namespaces of this lab still present (should be none after teardown)."""
        names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
        return [n for n in names if self.id in n]

    async def request(self, netns: str, host: str, port: int, n: int = 1, per_try: float = 2.0) -> list[list[str]]:
        """``n`` sequential connections (``per_try`` seconds each at most) from ``netns`` to ``host:port``; each answer is
        ``[backend, peer seen by the backend, µs]`` or ``["ERR", error, µs]``."""
        proc = await asyncio.create_subprocess_exec(
            "nsenter", f"--net=/run/netns/{netns}", sys.executable, "-c", CLIENT, host, str(port), str(n),
            str(per_try), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=n * per_try + 30)
        if proc.returncode:
            raise RuntimeError(f"client failed: {err.decode()}")
        return list(json.loads(out))
