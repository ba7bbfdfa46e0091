"""A throwaway node for runtime integration tests: our containerd in a temp dir, a test-unique CNI bridge,
and a teardown that leaves the host as it found it.

What the teardown undoes (only what the test created): sandboxes and containers (through CRI), the
containerd process (by PID), the bridge ``kybt<id>``, portmap's ``CNI-HOSTPORT-*`` chains and the nft
``nat`` tables if they did not exist before, ``net.ipv4.ip_forward``, cgroup directories under the
test-unique parent ``/kybt-<id>`` in every hierarchy, mounts under the temp dir, ``/run/containerd`` if it
was created, and the hugetlb mount if the runtime made it during the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shlex
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from kybernetes.runtime import containerd, cri, hostfix, images

T = TypeVar("T")

#: Test pods get addresses from a /28 of this range that no other route on the host uses, so that
#: concurrent runs of these tests (each with its own bridge) never share pod IPs.
TEST_RANGE = ipaddress.IPv4Network("10.42.250.0/24")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _sh(*argv: str, check: bool = True) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.returncode} {r.stderr.strip()}")
    return r.stdout


async def sh(*argv: str, check: bool = True) -> str:
    return await asyncio.to_thread(_sh, *argv, check=check)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float, what: str,
                     interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while True:
        try:
            value = await probe()
            if value:
                return value
        except Exception as e:  # the thing polled may not exist yet
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last error: {last!r})")
        await asyncio.sleep(interval)


def require_root() -> None:
    """Skip the calling test unless it runs as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root: starts containerd, creates network namespaces, bridges and cgroups")


def free_subnet() -> ipaddress.IPv4Network:
    """A /28 of :data:`TEST_RANGE` that no host route overlaps."""
    used: list[ipaddress.IPv4Network] = []
    for line in _sh("ip", "-4", "route", "show").splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.IPv4Network(line.split()[0], strict=False))
    candidates = list(TEST_RANGE.subnets(new_prefix=28))
    random.shuffle(candidates)
    for net in candidates:
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError(f"no free /28 left in {TEST_RANGE}")


def cni_conflist(name: str, bridge: str, ipam_dir: Path, subnet: ipaddress.IPv4Network) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(ipam_dir),
                      "ranges": [[{"subnet": str(subnet), "gateway": str(subnet[1])}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def _nat_chains(cmd: str) -> set[str]:
    out = _sh(cmd, "-t", "nat", "-S", check=False)
    return {line.split()[1] for line in out.splitlines() if line.startswith("-N ")}


def _nft_tables() -> set[str]:
    return {line.removeprefix("table ").strip() for line in _sh("nft", "list", "tables", check=False).splitlines()}


def _cgroup_dirs(name: str) -> list[Path]:
    return [h / name for h in CGROUP_ROOT.iterdir() if (h / name).is_dir()]


def _rm_cgroup_tree(top: Path) -> None:
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _processes() -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                out.append((int(d.name), (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
    return out


@dataclass
class HostSnapshot:
    ip_forward: str
    nat_chains: dict[str, set[str]]
    nft_tables: set[str]
    hugetlb_mounts: list[str]
    run_containerd: bool
    run_kybernetes: bool

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(ip_forward=Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
                   nat_chains={c: _nat_chains(c) for c in ("iptables", "ip6tables")},
                   nft_tables=_nft_tables(),
                   hugetlb_mounts=hostfix.hugetlb_mountpoints(Path("/proc/self/mountinfo").read_text()),
                   run_containerd=Path("/run/containerd").exists(),
                   run_kybernetes=Path("/run/kybernetes").exists())


@dataclass
class Node:
    """Handles of a running test node."""

    data_dir: Path
    test_id: str
    proc: containerd.Containerd
    client: cri.RuntimeClient
    host_before: HostSnapshot
    bridge: str
    cgroup_name: str
    subnet: ipaddress.IPv4Network
    timings: dict[str, float] = field(default_factory=dict)

    def cgroup_parent(self, uid: str) -> str:
        return f"/{self.cgroup_name}/pod{uid}"

    @property
    def log_root(self) -> Path:
        return self.data_dir / "pods"


async def start_node(tmp: Path, image_cache: Path, image_keys: tuple[str, ...]) -> Node:
    test_id = secrets.token_hex(2)
    bridge = f"kybt{test_id}"
    before = await asyncio.to_thread(HostSnapshot.take)
    data = tmp / "data"
    cni_dir = data / "agent" / "etc" / "cni" / "net.d"
    cni_dir.mkdir(parents=True)
    subnet = await asyncio.to_thread(free_subnet)
    (cni_dir / "10-kybt.conflist").write_text(json.dumps(cni_conflist(f"kybt-{test_id}", bridge,
                                                                      tmp / "cni-ipam", subnet)))
    t0 = time.monotonic()
    proc = containerd.Containerd(containerd.ContainerdConfig.for_data_dir(
        data, cni_conf_dir=cni_dir, stream_port=containerd.free_port()))
    client = await proc.start()
    node = Node(data, test_id, proc, client, before, bridge, f"kybt-{test_id}", subnet)
    node.timings["containerd_start"] = time.monotonic() - t0
    t0 = time.monotonic()
    try:
        await images.ensure_builtin_images(client, proc.socket, image_cache, image_keys)
    except BaseException:
        await stop_node(node)
        raise
    node.timings["images_build_import"] = time.monotonic() - t0
    return node


async def _remove_all(client: cri.RuntimeClient) -> None:
    for c in await client.list_containers():
        with contextlib.suppress(Exception):
            await client.stop_container(c.id, 0)
        with contextlib.suppress(Exception):
            await client.remove_container(c.id)
    for s in await client.list_pod_sandbox():
        with contextlib.suppress(Exception):
            await client.stop_pod_sandbox(s.id)
        with contextlib.suppress(Exception):
            await client.remove_pod_sandbox(s.id)


def _drop_nat_chains(cmd: str, new: set[str]) -> None:
    """Delete jump rules to the ``new`` chains, then flush and delete them."""
    for line in _sh(cmd, "-t", "nat", "-S", check=False).splitlines():
        parts = shlex.split(line)
        if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1] in new and parts[1] not in new:
            _sh(cmd, "-t", "nat", "-D", *parts[1:], check=False)
    for chain in new:
        _sh(cmd, "-t", "nat", "-F", chain, check=False)
    for chain in new:
        _sh(cmd, "-t", "nat", "-X", chain, check=False)


def _host_cleanup(node: Node) -> None:
    before = node.host_before
    _sh("ip", "link", "delete", node.bridge, check=False)
    for cmd in ("iptables", "ip6tables"):
        new = {c for c in _nat_chains(cmd) - before.nat_chains[cmd] if c.startswith("CNI-")}
        if new:
            _drop_nat_chains(cmd, new)
    for table in _nft_tables() - before.nft_tables:
        family, _, name = table.partition(" ")
        listing = _sh("nft", "list", "table", family, name, check=False)
        if name == "nat" and " jump " not in listing and " dnat " not in listing and " masquerade" not in listing:
            _sh("nft", "delete", "table", family, name, check=False)
    Path("/proc/sys/net/ipv4/ip_forward").write_text(before.ip_forward + "\n")
    for top in _cgroup_dirs(node.cgroup_name):
        _rm_cgroup_tree(top)
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        mountpoint = line.split()[4]
        if mountpoint.startswith(str(node.data_dir) + "/"):
            _sh("umount", "-l", mountpoint, check=False)
    if not before.run_containerd:
        for d in ("/run/containerd/s", "/run/containerd"):
            with contextlib.suppress(OSError):
                os.rmdir(d)
    if not before.run_kybernetes:  # the short-socket directory used when the data dir path is long
        with contextlib.suppress(OSError):
            os.rmdir("/run/kybernetes")


async def stop_node(node: Node) -> None:
    try:
        await _remove_all(node.client)
    finally:
        await node.client.close()
        await node.proc.stop()
        # shims exit on their own shortly after their sandbox is removed; wait for them before cleaning up
        markers = (str(node.data_dir), str(node.proc.socket))
        await eventually(lambda: _no_processes_with(*markers), within=15, what=f"processes of {markers} to exit")
        if not node.host_before.hugetlb_mounts:
            await node.proc.undo_host_fixes()
        await asyncio.to_thread(_host_cleanup, node)


async def _no_processes_with(*markers: str) -> bool:
    procs = await asyncio.to_thread(_processes)
    return not any(m in args for _pid, args in procs for m in markers)


def leftovers(node: Node) -> list[str]:
    """Anything of this node still on the host (for assertions after teardown)."""
    out: list[str] = []
    if _sh("ip", "link", "show", node.bridge, check=False).strip():
        out.append(f"bridge {node.bridge}")
    out += [f"cgroup {p}" for p in _cgroup_dirs(node.cgroup_name)]
    for cmd in ("iptables", "ip6tables"):
        out += [f"{cmd} chain {c}" for c in _nat_chains(cmd) - node.host_before.nat_chains[cmd]]
    out += [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(node.data_dir))]
    out += [f"process {pid}: {args}" for pid, args in _processes() if str(node.data_dir) in args]
    if node.proc.pid is not None and Path(f"/proc/{node.proc.pid}").exists():
        out.append(f"containerd pid {node.proc.pid}")
    sock = node.proc.socket
    out += [f"socket {p}" for p in (sock, sock.with_name(sock.name + ".ttrpc")) if p.exists()]
    if Path("/run/kybernetes").exists() and not node.host_before.run_kybernetes:
        out.append("/run/kybernetes")
    if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != node.host_before.ip_forward:
        out.append("ip_forward changed")
    if hostfix.hugetlb_mountpoints(Path("/proc/self/mountinfo").read_text()) != node.host_before.hugetlb_mounts:
        out.append("hugetlb mounts changed")
    return out
