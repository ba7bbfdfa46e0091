"""The node's default pod network: a bridge + host-local CNI conflist, written when none is configured.

Role: once its Node has a ``spec.podCIDR`` (from the controller manager's nodeipam), :mod:`.agent`
calls :func:`ensure_conflist`; containerd's CRI plugin loads the first conflist of
``<data-dir>/agent/etc/cni/net.d`` (it watches the directory) and reports NetworkReady once it exists,
so no pod starts before the node knows its range. A CNI configuration of someone else's (a network
component, the operator: :func:`foreign_config`) is left alone; ours is rewritten if the range
changed (the Node was deleted and registered again). Pods get addresses from the node's pod CIDR on
bridge ``kyb0`` (its first address is the bridge's, the pods' gateway), with portmap for hostPorts
and no masquerading (pod traffic never leaves the node NATed; other nodes reach it through
host-gw routes, :mod:`kybernetes.network.routes`). :func:`prepare_bridge` sets up the bridge
and the sysctls Service traffic between pods on it needs. Blocking; call these in a thread.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

__all__ = ["CONFLIST_NAME", "conflist", "ensure_conflist", "foreign_config", "prepare_bridge"]

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


def foreign_config(conf_dir: Path) -> Path | None:
    """The first CNI configuration in ``conf_dir`` that is not ours, if any."""
    if not conf_dir.is_dir():
        return None
    return next((p for p in sorted(conf_dir.iterdir())
                 if p.suffix in (".conflist", ".conf", ".json") and p.name != CONFLIST_NAME), None)


def ensure_conflist(conf_dir: Path, bridge: str, pod_cidr: str, ipam_dir: Path) -> Path | None:
    """Write our conflist for ``pod_cidr`` unless someone else's CNI configuration exists or ours already
    says the same; returns the file written (or None)."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    if foreign_config(conf_dir) is not None:
        return None
    path = conf_dir / CONFLIST_NAME
    text = json.dumps(conflist(bridge, pod_cidr, ipam_dir), indent=2)
    try:
        if path.read_text() == text:
            return None
    except FileNotFoundError:
        pass
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def _sysctl(key: str, value: str) -> None:
    # /proc/sys/net is the writer's network namespace: the node's, also when the agent runs in one
    Path("/proc/sys", *key.split(".")).write_text(value)


def prepare_bridge(bridge: str) -> None:
    """Create ``bridge`` (without an address: the bridge plugin adds the gateway with the first pod)
    and set what Service traffic between its pods needs (the CNI config adds hairpin mode per veth):

    - ``send_redirects=0`` on the bridge and on ``all`` (the kernel ORs the two; the bridge's alone
      was measured not to stop them): traffic the node routes back out of the bridge it came in on
      would make it tell the pod, by ICMP redirect, to send that destination straight to another
      pod, taking the node (its proxy rules, its view of the flow) out of the path;
    - ``bridge-nf-call-iptables=1``: the endpoint's replies to a pod on the same bridge are bridged,
      not routed; only then does conntrack see them and undo the Service DNAT.
    """
    probe = subprocess.run(["ip", "link", "show", "dev", bridge], capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], capture_output=True, text=True, check=True)
    # A bridge whose address nobody set takes the lowest address of its ports, so a new pod's veth
    # can change it; every pod's neighbour entry for the gateway then points nowhere for seconds.
    # Setting the address (to its own) pins it.
    link = subprocess.run(["ip", "-o", "link", "show", "dev", bridge], capture_output=True, text=True,
                          check=True).stdout.split()
    mac = link[link.index("link/ether") + 1]
    subprocess.run(["ip", "link", "set", "dev", bridge, "address", mac, "up"], capture_output=True, text=True,
                   check=True)
    _sysctl("net.ipv4.conf.all.send_redirects", "0")
    _sysctl(f"net.ipv4.conf.{bridge}.send_redirects", "0")
    try:
        _sysctl("net.bridge.bridge-nf-call-iptables", "1")
    except FileNotFoundError as e:
        raise RuntimeError("net.bridge.bridge-nf-call-iptables is missing: load br_netfilter "
                           "(modprobe br_netfilter) so Services work between pods on one node") from e
