"""The node's default pod network: a bridge + host-local CNI conflist, written when none is configured.

Role: before the runtime starts, :mod:`.agent` calls :func:`ensure_conflist`; containerd's CRI plugin
loads the first conflist of ``<data-dir>/agent/etc/cni/net.d`` and reports NetworkReady once it exists.
An existing conflist (from the network component or the operator) is left alone. Pods get addresses
from the node's pod CIDR (default 10.42.0.0/24) on bridge ``kyb0``, with portmap for hostPorts and no
masquerading (pod traffic never leaves the node NATed). Blocking; call it in a thread.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

__all__ = ["CONFLIST_NAME", "conflist", "ensure_conflist"]

CONFLIST_NAME = "10-kybernetes.conflist"


def conflist(bridge: str, pod_cidr: str, ipam_dir: Path) -> dict[str, object]:
    """The conflist for pods on ``bridge`` with addresses from ``pod_cidr``."""
    net = ipaddress.ip_network(pod_cidr, strict=False)
    gateway = str(next(net.hosts()))
    return {
        "cniVersion": "1.0.0",
        "name": "kybernetes",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(ipam_dir),
                      "ranges": [[{"subnet": str(net), "gateway": gateway}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def ensure_conflist(conf_dir: Path, bridge: str, pod_cidr: str, ipam_dir: Path) -> Path | None:
    """Write our conflist unless a CNI configuration already exists; returns the file written (or None)."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(p for p in conf_dir.iterdir() if p.suffix in (".conflist", ".conf", ".json"))
    if existing:
        return None
    path = conf_dir / CONFLIST_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(conflist(bridge, pod_cidr, ipam_dir), indent=2))
    tmp.replace(path)
    return path
