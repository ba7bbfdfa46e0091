"""Helpers for end-to-end tests of pods on a real node: a kubectl bound to a namespace, pod and event
lookups, and a look inside a running container from the node (its processes through ``/proc``): files as
the container sees them, its mounts, PID namespace and cgroup limits, independent of ``kubectl exec``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import DISPATCHER, Cluster, Kubectl, kubectl_137

Obj = dict[str, Any]


class NamespacedKubectl(Kubectl):
    """A kubectl whose every command runs in ``namespace`` (created on first use)."""

    def __init__(self, cluster: Cluster, version: str, namespace: str) -> None:
        super().__init__(cluster, DISPATCHER if version == "1.32" else kubectl_137(), version)
        self.namespace = namespace
        if super().run("get", "namespace", namespace, check=False).returncode != 0:
            super().run("create", "namespace", namespace)

    def run(self, *args: str, **kw: Any) -> Any:
        return super().run(f"--namespace={self.namespace}", *args, **kw)

    def pod(self, name: str) -> Obj:
        return json.loads(self("get", "pod", name, "-o", "json"))

    def status_of(self, pod_name: str, container: str) -> Obj:
        """The container's status in ``pod_name`` (an empty dict before it has one)."""
        for s in (self.pod(pod_name).get("status") or {}).get("containerStatuses") or []:
            if s.get("name") == container:
                return s
        return {}

    def events(self, name: str) -> list[Obj]:
        out = self("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json")
        return json.loads(out)["items"]

    def reasons(self, name: str) -> list[str]:
        return [e.get("reason", "") for e in self.events(name)]


def _start_time(pid: int) -> int:
    # field 22 of /proc/<pid>/stat; the command (field 2) may hold spaces, so split after its ")"
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def container_pids(container_id: str) -> list[int]:
    """PIDs (on the node) of the processes in the container's cgroup, oldest first."""
    cid = container_id.removeprefix("containerd://")
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            lines = (d / "cgroup").read_text().splitlines()
        except OSError:
            continue
        if any(line.rstrip("/").endswith("/" + cid) for line in lines):
            pids.append(int(d.name))
    return sorted(pids, key=_start_time)


def init_pid(container_id: str) -> int:
    """The node PID of the container's first process."""
    pids = container_pids(container_id)
    assert pids, f"no process of container {container_id} on this node"
    return pids[0]


def read_in_container(container_id: str, path: str) -> str:
    """A file as the container sees it (through its first process's root)."""
    return Path(f"/proc/{init_pid(container_id)}/root{path}").read_text()


def exists_in_container(container_id: str, path: str) -> bool:
    return Path(f"/proc/{init_pid(container_id)}/root{path}").exists()


def mount_options(container_id: str, mount_point: str) -> list[str]:
    """The per-mount options of ``mount_point`` in the container's mount namespace."""
    for line in Path(f"/proc/{init_pid(container_id)}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == mount_point:
            return fields[5].split(",")
    raise AssertionError(f"{mount_point} is not mounted in container {container_id}")


def pid_namespace(pid: int) -> str:
    return str(Path(f"/proc/{pid}/ns/pid").readlink())


def pid_in_namespace(pid: int) -> int:
    """The PID a process has in its own PID namespace (the last NSpid entry)."""
    m = re.search(r"^NSpid:\s+(.+)$", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert m is not None
    return int(m.group(1).split()[-1])


def cgroup_limits(container_id: str) -> dict[str, int]:
    """memory limit (bytes), CFS quota and period (µs) and CPU shares/weight as the container sees them."""
    root = Path(f"/proc/{init_pid(container_id)}/root/sys/fs/cgroup")
    if (root / "memory.max").exists():  # cgroup v2 (with a cgroup namespace)
        quota, period = (root / "cpu.max").read_text().split()
        return {"memory": int((root / "memory.max").read_text()), "cpu_quota": int(quota),
                "cpu_period": int(period), "cpu_weight": int((root / "cpu.weight").read_text())}
    cpu = next(d for d in root.iterdir() if (d / "cpu.cfs_quota_us").exists())  # "cpu" or "cpu,cpuacct"
    return {"memory": int((root / "memory" / "memory.limit_in_bytes").read_text()),
            "cpu_quota": int((cpu / "cpu.cfs_quota_us").read_text()),
            "cpu_period": int((cpu / "cpu.cfs_period_us").read_text()),
            "cpu_shares": int((cpu / "cpu.shares").read_text())}
