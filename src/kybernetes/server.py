"""Composition root of ``kyb server``: PKI → store → API server (→ later controllers, scheduler,
embedded agent), each started once, in order, and stopped in reverse on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.apiserver import certs
from kybernetes.apiserver.app import ApiServer, ApiServerConfig, make_app
from kybernetes.apiserver.authn import User
from kybernetes.store.interface import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    bind_address: str = "0.0.0.0"
    https_listen_port: int = 6443
    datastore_endpoint: str = ""
    advertise_address: str = "127.0.0.1"
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    disable_agent: bool = False
    disable_controller_manager: bool = False
    disable_scheduler: bool = False
    node_name: str = ""  # embedded agent's node (default: the host name)
    node_ip: str = ""  # embedded agent's address (default: the advertise address)
    kubelet_port: int = 10250


def open_store(endpoint: str, data_dir: Path) -> Store:
    """``""``/``sqlite://`` → embedded SQLite under the data dir; ``sqlite:///abs/path.db`` → that file."""
    from kybernetes.store.sqlite import SQLiteStore

    if not endpoint or endpoint == "sqlite://":
        db = data_dir / "server" / "db" / "state.db"
    elif endpoint.startswith("sqlite://"):
        db = Path(endpoint[len("sqlite://"):])
    else:
        raise ValueError(f"unsupported --datastore-endpoint {endpoint!r}: use sqlite:///path (etcd support is "
                         "not available yet)")
    db.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(str(db))


# The collector's generations (gc.set_threshold). A collection traverses every object of its
# generations still alive, and each write leaves many behind (watch cache entries and window,
# informer caches), so Python's defaults (700, 10, 10) cost tens of µs per request and, under
# sustained writes, full collections (tens of ms each) every few seconds. Young collections every
# 5k net allocations and the middle one every 5 of those keep each pause at a few ms; a full
# collection needs 100 middle ones (and the heap grown by a quarter, as always).
GC_THRESHOLDS = (5_000, 5, 100)


def tune_gc() -> None:
    """Once serving: what start-up built (modules, schemas, caches) lives as long as the process,
    so it moves out of the collector's way (``gc.freeze``); then collection resumes, tuned."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()


def server_url(cfg: ServerConfig) -> str:
    host = cfg.bind_address if cfg.bind_address not in ("0.0.0.0", "::", "") else cfg.advertise_address
    return f"https://{host}:{cfg.https_listen_port}"


def component_client(url: str, pki: certs.Pki, token: str, user_agent: str) -> Any:
    """A client for an embedded component: it reaches the API over HTTPS like a remote one would."""
    from kybernetes.client.rest import Client, ClientConfig

    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    return Client(ClientConfig(url, ctx, token, user_agent))


async def run_components(cfg: ServerConfig, pki: certs.Pki, tokens: dict[str, str], stop: asyncio.Event) -> None:
    """Controller manager and scheduler, each with its own identity (started after the API is up)."""
    url = f"https://127.0.0.1:{cfg.https_listen_port}" if cfg.bind_address in ("0.0.0.0", "::", "127.0.0.1") \
        else server_url(cfg)
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    clients = []
    try:
        async with asyncio.TaskGroup() as tg:
            if not cfg.disable_controller_manager:
                from kybernetes.controllers.manager import run_controller_manager

                client = component_client(url, pki, tokens["kube-controller-manager"], "kube-controller-manager")
                clients.append(client)
                log.info("Running kube-controller-manager")
                tg.create_task(run_controller_manager(client, stop, identity, root_ca_pem=pki.ca_cert.read_text()),
                               name="kube-controller-manager")
            if not cfg.disable_agent:
                client = component_client(url, pki, pki.node_token, "kubelet")
                clients.append(client)
                tg.create_task(run_embedded_agent(cfg, pki, client, stop), name="agent")
            if not cfg.disable_scheduler:
                from kybernetes.scheduler import run_scheduler

                client = component_client(url, pki, tokens["kube-scheduler"], "kube-scheduler")
                clients.append(client)
                log.info("Running kube-scheduler")
                tg.create_task(run_scheduler(client, stop, identity), name="kube-scheduler")
    finally:
        for c in clients:
            await c.close()


async def run_embedded_agent(cfg: ServerConfig, pki: certs.Pki, client: Any, stop: asyncio.Event) -> None:
    """The node agent joins like a remote one would (node token, HTTPS), as k3s's embedded agent does."""
    from kybernetes.kubelet import run_agent

    node_name = cfg.node_name or socket.gethostname().lower()
    log.info("Running kubelet for node %s", node_name)
    try:
        await run_agent(client, stop, node_name=node_name, node_ip=cfg.node_ip or cfg.advertise_address,
                        data_dir=cfg.data_dir, control_plane=True, client_ca_file=pki.ca_cert,
                        server_port=cfg.kubelet_port)
    except Exception:
        log.exception("the embedded agent failed (it needs root and containerd: run scripts/install); "
                      "use --disable-agent to run the control plane alone")
        raise


async def run(cfg: ServerConfig, started: asyncio.Event | None = None) -> None:
    t0 = time.monotonic()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    pki = await asyncio.to_thread(certs.ensure_pki, cfg.data_dir, [cfg.bind_address, cfg.advertise_address])
    admin = User("system:admin", ("system:masters", "system:authenticated"))
    store = open_store(cfg.datastore_endpoint, cfg.data_dir)
    # embedded components authenticate with per-start tokens (never written to disk)
    component_tokens = {name: secrets.token_hex(32) for name in ("kube-controller-manager", "kube-scheduler")}
    api = ApiServer(ApiServerConfig(service_cidr=cfg.service_cidr,
                                    server_address=f"{cfg.advertise_address}:{cfg.https_listen_port}",
                                    tokens={**{tok: User(f"system:{name}", ("system:masters", "system:authenticated"))
                                               for name, tok in component_tokens.items()},
                                            pki.admin_token: admin,
                                            pki.node_token: User("system:node-agent",
                                                                 ("system:nodes", "system:authenticated"))},
                                    service_account_key=pki.dir / "service-account.key",
                                    kubelet_client_cert=pki.admin_cert, kubelet_client_key=pki.admin_key), store)
    app = make_app(api)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, cfg.bind_address, cfg.https_listen_port, ssl_context=pki.server_ssl_context(),
                       reuse_address=True, backlog=1024)
    await site.start()
    kubeconfig = cfg.data_dir / "kubeconfig.yaml"
    await asyncio.to_thread(certs.write_kubeconfig, kubeconfig, pki, server_url(cfg))
    log.info("Running kube-apiserver on %s (ready in %.0f ms); kubeconfig at %s", server_url(cfg),
             (time.monotonic() - t0) * 1000, kubeconfig)
    if started is not None:
        started.set()
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await run_components(cfg, pki, component_tokens, stop)
        await stop.wait()
    finally:
        log.info("Shutting down")
        await runner.cleanup()
