"""The pod's managed ``/etc/hosts``: written by the kubelet into the pod directory and bind-mounted into
every container that does not mount its own ``/etc/hosts``.

Role: :mod:`.containers` calls :func:`ensure_hosts_file` before creating a container, once the pod IP
is known. A pod network pod gets the fixed localhost block, its IP with its hostname (and FQDN when
``subdomain`` is set), then the ``hostAliases`` block; a ``hostNetwork`` pod gets the node's own hosts
file under a different header, plus the aliases. Upstream: pkg/kubelet/kubelet_pods.go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ETC_HOSTS", "ensure_hosts_file", "host_network_hosts", "hosts_file_path", "managed_hosts"]

ETC_HOSTS = "/etc/hosts"
HEADER = "# Kubernetes-managed hosts file.\n"
HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"


def _aliases(host_aliases: Iterable[Mapping[str, Any]]) -> str:
    entries = list(host_aliases)
    if not entries:
        return ""
    lines = ["", "# Entries added by HostAliases."]
    for alias in entries:
        lines.append(f"{alias.get('ip', '')}\t" + "\t".join(alias.get("hostnames") or []))
    return "\n".join(lines) + "\n"


def managed_hosts(pod_ips: Sequence[str], hostname: str, domain: str,
                  host_aliases: Iterable[Mapping[str, Any]] = ()) -> str:
    """The hosts file of a pod on the pod network (``domain`` is ``<subdomain>.<ns>.svc.<cluster domain>``
    or empty)."""
    lines = [HEADER.rstrip("\n"), "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    for ip in pod_ips:
        lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}" if domain else f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n" + _aliases(host_aliases)


def host_network_hosts(node_hosts: str, host_aliases: Iterable[Mapping[str, Any]] = ()) -> str:
    """The hosts file of a ``hostNetwork`` pod: the node's file under the host-network header."""
    return HEADER_HOST_NETWORK + node_hosts + _aliases(host_aliases)


def hosts_file_path(pod_dir: Path) -> Path:
    """``<pod-dir>/etc-hosts``."""
    return pod_dir / "etc-hosts"


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    tmp.chmod(0o644)
    tmp.replace(path)


async def ensure_hosts_file(pod: Mapping[str, Any], pod_dir: Path, pod_ips: Sequence[str], hostname: str,
                            domain: str, node_hosts_file: Path = Path(ETC_HOSTS)) -> Path:
    """Write (or rewrite) the pod's hosts file and return its path."""
    spec = pod.get("spec") or {}
    aliases = spec.get("hostAliases") or []
    if spec.get("hostNetwork"):
        content = host_network_hosts(await asyncio.to_thread(node_hosts_file.read_text), aliases)
    else:
        content = managed_hosts(pod_ips, hostname, domain, aliases)
    path = hosts_file_path(pod_dir)
    await asyncio.to_thread(_write, path, content)
    return path
