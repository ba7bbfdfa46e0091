"""Composition root of a node: the kubelet and the service proxy side by side (kube-proxy runs on
every node), each with its own API client.

``kyb agent`` (cli/main.py) and ``kyb server``'s embedded agent (server.py) call :func:`run_node`.
The two share nothing but the stop event: the kubelet runs pods (kubelet/agent.py), the proxy
programs Services into the node's kernel (network/proxy), and — when the pod network is ours, not
an operator's CNI — the route manager routes every other node's pod range to it (network/routes,
flannel's host-gw). If one fails, the others are stopped and the error surfaces. The proxy's rules stay in place when the node stops, as kube-proxy's do:
pods keep running across an agent restart and so does their Service traffic; ``kyb proxy
--cleanup`` removes them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

__all__ = ["run_node"]

log = logging.getLogger(__name__)


async def run_node(kubelet_client: Any, proxy_client: Any | None, stop: asyncio.Event, *, node_name: str,
                   node_ip: str, data_dir: Path, cluster_cidr: str, containerd: str | None = None,
                   **kubelet: Any) -> None:
    """Run the node's kubelet (``kubelet`` are its config overrides), its host-gw routes to the other
    nodes' pods (when the pod network is ours) and, unless ``proxy_client`` is None, its service proxy,
    until ``stop`` is set."""
    from kybernetes.kubelet import cni, run_agent
    from kybernetes.kubelet.config import KubeletConfig

    conf_dir = KubeletConfig.for_data_dir(node_name, node_ip, data_dir).cni_conf_dir
    own_network = await asyncio.to_thread(cni.foreign_config, conf_dir) is None

    async with asyncio.TaskGroup() as tg:
        log.info("Running kubelet for node %s", node_name)
        tg.create_task(run_agent(kubelet_client, stop, node_name=node_name, node_ip=node_ip, data_dir=data_dir,
                                 containerd=containerd, **kubelet), name="kubelet")
        if own_network:
            from kybernetes.network.routes import run_routes

            tg.create_task(run_routes(kubelet_client, stop, node_name), name="routes")
        if proxy_client is not None:
            from kybernetes.network.proxy import run_proxy

            log.info("Running kube-proxy for node %s", node_name)
            tg.create_task(run_proxy(proxy_client, stop, node_name, [], cluster_cidr=cluster_cidr),
                           name="kube-proxy")
